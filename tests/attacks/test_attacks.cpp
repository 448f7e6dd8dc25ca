// The attack plugins through the plugin host: the statistics of what they change (fraction of
// pixels replaced, range of the shift), exact counts, clipping, and draws keyed by item id.
#include <catch2/catch.hpp>
#include <cmath>

#include "plugin_host/registry.hpp"
#include "support/helpers.hpp"

using namespace dynsim;

namespace {

std::unique_ptr<PluginObject> attack(const std::string& name, const std::string& toml) {
  static Registry reg = [] {
    Registry r;
    r.load_directories({DYNSIM_PLUGIN_DIR});
    return r;
  }();
  const PluginRecord& rec = reg.find(PluginKind::attack, name);
  return rec.factory->create(Precision::f64, test::options_from(rec.factory->options(), toml),
                             Context{});
}

std::vector<std::uint64_t> ids_from(std::uint64_t first, std::size_t n) {
  std::vector<std::uint64_t> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = first + i;
  return ids;
}

}  // namespace

TEST_CASE("replace_uniform replaces a fraction p of the pixels with U(0,1) values", "[attack]") {
  auto obj = attack("replace_uniform", "");
  auto& a = *static_cast<Attack<double>*>(obj.get());
  const Random rng(9, Stream::attack);
  for (double p : {0.0, 0.1, 0.5, 1.0}) {
    INFO("p = " << p);
    // -1 is never a U(0,1) value: every changed pixel is seen.
    Matrix<double> X = Matrix<double>::Constant(784, 200, -1.0);
    const auto ids = ids_from(100, 200);
    a.apply(p, X, ids, rng, Counter{});
    const double changed = double((X.array() != -1.0).count()) / double(X.size());
    const double se = std::sqrt(p * (1 - p) / double(X.size()));
    CHECK(std::abs(changed - p) <= 4 * se + 1e-12);
    const auto replaced = (X.array() != -1.0);
    CHECK((replaced.select(X.array(), 0.5) >= 0.0).all());
    CHECK((replaced.select(X.array(), 0.5) < 1.0).all());
  }
  // An item's corruption does not depend on its batch.
  Matrix<double> batch = Matrix<double>::Constant(50, 4, 0.25), alone = batch.col(2);
  a.apply(0.4, batch, ids_from(7, 4), rng, Counter{});
  a.apply(0.4, alone, ids_from(9, 1), rng, Counter{});
  CHECK(batch.col(2) == alone);
  CHECK(batch.col(1) != batch.col(2));
}

TEST_CASE("replace_uniform with exact = true replaces round(p D) pixels", "[attack]") {
  auto obj = attack("replace_uniform", "exact = true");
  auto& a = *static_cast<Attack<double>*>(obj.get());
  Matrix<double> X = Matrix<double>::Constant(49, 30, -1.0);
  a.apply(0.3, X, ids_from(0, 30), Random(2, Stream::attack), Counter{});
  for (Index j = 0; j < 30; ++j) CHECK((X.col(j).array() != -1.0).count() == 15);  // 14.7
}

TEST_CASE("shift_uniform adds one U(-p,p) shift per item, or per pixel, optionally clipped",
          "[attack]") {
  const Random rng(4, Stream::attack);
  const double p = 0.6;
  {
    auto obj = attack("shift_uniform", "");
    auto& a = *static_cast<Attack<double>*>(obj.get());
    Matrix<double> X = Matrix<double>::Constant(20, 2000, 0.5);
    a.apply(p, X, ids_from(0, 2000), rng, Counter{});
    Vector<double> shift = X.row(0).transpose().array() - 0.5;
    for (Index j = 0; j < X.cols(); ++j)  // the same shift on every pixel of an item
      CHECK((X.col(j).array() - 0.5 - shift(j)).abs().maxCoeff() <= 1e-15);
    CHECK(shift.maxCoeff() <= p);
    CHECK(shift.minCoeff() >= -p);
    // U(-p, p): mean 0 and variance p^2/3, within 4 standard errors.
    const double n = double(shift.size()), mean = shift.mean();
    CHECK(std::abs(mean) <= 4 * p / std::sqrt(3 * n));
    const double var = (shift.array() - mean).square().mean();
    CHECK(std::abs(var - p * p / 3) <= 4 * p * p * std::sqrt(4.0 / 45.0 / n));
  }
  {
    auto obj = attack("shift_uniform", "per_pixel = true\nclip = true");
    auto& a = *static_cast<Attack<double>*>(obj.get());
    Matrix<double> X = Matrix<double>::Constant(100, 10, 0.9);
    a.apply(p, X, ids_from(0, 10), rng, Counter{});
    CHECK(X.maxCoeff() == 1.0);  // clipped: 0.9 + u > 1 happens for a third of the pixels
    CHECK(X.minCoeff() >= 0.3 - 1e-15);
    CHECK((X.col(0).array() != X(0, 0)).count() > 50);  // pixels shifted independently
  }
}
