// The SDK's counter-based generator: distributions and independence of streams.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <dynsim/sdk/random.hpp>
#include <vector>

using namespace dynsim;

TEST_CASE("normals have mean 0 and variance 1 and uniforms lie in the unit interval", "[random]") {
  const Random rng(123, Stream::noise);
  const Index n = 400000;
  std::vector<double> z(static_cast<std::size_t>(n)), u(static_cast<std::size_t>(n));
  rng.normals(Counter{0, 0, 1, 2}, z.data(), n);
  rng.uniforms(Counter{0, 0, 1, 3}, u.data(), n);
  double m = 0, v = 0, mu = 0, lo = 1, hi = 0;
  for (double x : z) m += x / n;
  for (double x : z) v += (x - m) * (x - m) / (n - 1);
  for (double x : u) {
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    mu += x / n;
  }
  CHECK(lo > 0.0);
  CHECK(hi <= 1.0);
  CHECK(std::abs(m) < 4 / std::sqrt(double(n)));
  CHECK(std::abs(v - 1) < 4 * std::sqrt(2.0 / n));
  CHECK(std::abs(mu - 0.5) < 4 * std::sqrt(1.0 / 12 / n));
}

TEST_CASE("a value depends only on its key and counter", "[random]") {
  const Random a(5, Stream::attack), b(5, Stream::attack), c(5, Stream::noise);
  const Counter k{1, 2, 3, 4};
  CHECK(a.uniform(k, 17) == b.uniform(k, 17));
  CHECK(a.uniform(k, 17) != c.uniform(k, 17));
  // A prefix of a longer sequence is the shorter sequence.
  std::vector<float> s5(5), s9(9);
  a.normals(k, s5.data(), 5);
  a.normals(k, s9.data(), 9);
  for (int i = 0; i < 5; ++i)
    CHECK(s5[static_cast<std::size_t>(i)] == s9[static_cast<std::size_t>(i)]);
}

TEST_CASE("a plugin's own streams are distinct from each other and from the host's", "[random]") {
  STATIC_REQUIRE(user_stream(0) == Stream::user);
  STATIC_REQUIRE(static_cast<std::uint64_t>(user_stream(3)) ==
                 static_cast<std::uint64_t>(Stream::user) + 3);
  const Counter k{0, 0, 7, 0};
  CHECK(Random(5, user_stream(1)).uniform(k, 0) != Random(5, user_stream(2)).uniform(k, 0));
  CHECK(Random(5, user_stream(1)).uniform(k, 0) != Random(5, Stream::noise).uniform(k, 0));
}
