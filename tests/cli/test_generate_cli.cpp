// Generation end to end through the CLI: a short latent letters run (encoder -> CVFR ->
// decoder, trained with additive noise) must classify and reconstruct, and `dynsim generate`
// must write decoded samples in every mode, interpolations and the disentangling grid, score
// them with a classifier run, and refuse what it cannot do with exit code 2.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "run/npy.hpp"
#include "support/helpers.hpp"

using namespace dynsim;
namespace fs = std::filesystem;

namespace {

const std::string kSrc = DYNSIM_SOURCE_DIR;

// Trains once per test binary run (Catch re-enters the test case for every SECTION).
fs::path trained(const std::string& name, const std::string& scenario, const std::string& sets) {
  const fs::path out = fs::path(test::temp_dir()) / name;
  if (!fs::exists(out / "metrics.json")) {
    const auto r = test::run_dynsim("run " + kSrc + "/scenarios/" + scenario + " --out " +
                                    out.string() + " --set train.log_every_seconds=1000 " + sets);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
  }
  return out;
}

fs::path latent_run() {
  return trained("latent-letters", "cvfr_generate_letters.toml",
                 "--set train.epochs=6 --set dataset.n_train=900 --set dataset.n_test=200");
}

}  // namespace

TEST_CASE("a latent letters run classifies, reconstructs and generates", "[generate][cli]") {
  const fs::path run = latent_run();
  const auto m = test::read_json(run / "metrics.json");
  CHECK(m["status"] == "ok");
  CHECK(m["test"]["T"]["accuracy"].get<double>() >= 0.9);
  CHECK(fs::exists(run / "model" / "encoder.W1.npy"));
  CHECK(fs::exists(run / "model" / "decoder.W2.npy"));
  {  // The latent state is not the image: the examples figure says why it is missing.
    std::ifstream in(run / "run.log");
    const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK_THAT(log, Catch::Contains("figure examples.png skipped: the state has"));
  }

  SECTION("lna samples: decoded letters, the LNA's residual, one PNG grid per class") {
    const auto r = test::run_dynsim("generate " + run.string() + " --count 9 --name lna");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    const fs::path g = run / "generated" / "lna";
    const auto j = test::read_json(g / "generate.json");
    REQUIRE(j["classes"].size() == 3);
    for (const auto& c : j["classes"]) {
      CHECK(c["lna"]["residual"].get<double>() <= 1e-12);
      CHECK(c["lna"]["max_real_jacobian"].get<double>() < 0);
      const int k = c["class"];
      const auto items =
          read_matrix_npy<double>(g / ("items_class_" + std::to_string(k) + "_lna.npy"));
      const auto samples =
          read_matrix_npy<double>(g / ("samples_class_" + std::to_string(k) + "_lna.npy"));
      CHECK(items.rows() == 9);
      CHECK(items.cols() == 49);
      CHECK(samples.cols() == 6);
      CHECK(items.minCoeff() >= 0.0);  // sigmoid output
      CHECK(items.maxCoeff() <= 1.0);
      CHECK(fs::exists(g / ("lna_covariance_" + std::to_string(k) + ".npy")));
    }
  }
  SECTION("draws are keyed by sample: the first samples do not depend on --count") {
    const auto a = test::run_dynsim("generate " + run.string() + " --class 1 --count 3 --name c3");
    const auto b = test::run_dynsim("generate " + run.string() + " --class 1 --count 5 --name c5");
    REQUIRE(a.exit_code == 0);
    REQUIRE(b.exit_code == 0);
    const auto s3 = read_matrix_npy<double>(run / "generated" / "c3" / "samples_class_1_lna.npy");
    const auto s5 = read_matrix_npy<double>(run / "generated" / "c5" / "samples_class_1_lna.npy");
    CHECK(s3 == s5.topRows(3));
  }
  SECTION("empirical and sde modes, interpolation, disentangling grid and a classifier's share") {
    const fs::path clf = trained("letters-classifier", "cvfr_letters.toml",
                                 "--set train.epochs=3 --set dataset.n_train=900 "
                                 "--set dataset.n_test=200");
    for (const std::string mode : {"empirical", "sde"}) {
      INFO(mode);
      const auto r = test::run_dynsim("generate " + run.string() + " --mode " + mode +
                                      " --count 8 --name " + mode + " --classifier " +
                                      clf.string() + (mode == "sde" ? " --time 5" : ""));
      INFO(r.output);
      REQUIRE(r.exit_code == 0);
      const auto j = test::read_json(run / "generated" / mode / "generate.json");
      const double share = j["classifier"]["share_of_requested_class"];
      CHECK(share >= 0.0);
      CHECK(share <= 1.0);
      CHECK(j["classes"][0].contains("classifier_share"));
    }
    const auto r = test::run_dynsim("generate " + run.string() +
                                    " --class 0 --count 2 --interpolate 0 1 --steps 6 "
                                    "--disentangle 2 --grid 4 --name extras");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    const fs::path g = run / "generated" / "extras";
    CHECK(read_matrix_npy<double>(g / "items_interpolate_0_1.npy").rows() == 8);
    CHECK(read_matrix_npy<double>(g / "items_disentangle_class_2.npy").rows() == 16);
  }
  SECTION("per-node noise scales make the LNA anisotropic; one row per principal direction") {
    const std::string base =
        "generate " + run.string() + " --class 0 --count 1 --disentangle 0 --grid 3 ";
    auto r = test::run_dynsim(base + "--directions 4 --name iso");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    r = test::run_dynsim(base + "--name aniso --set noise.scales=[4.0,2.0,1.0,0.5,0.25,0.125]");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    const auto iso = test::read_json(run / "generated" / "iso" / "generate.json")["disentangle"];
    const auto ani = test::read_json(run / "generated" / "aniso" / "generate.json")["disentangle"];
    CHECK(iso["variances"].size() == 6);
    CHECK(iso["anisotropy_rank"] == 6);  // the last variance: the latent space has 6 dimensions
    CHECK(ani["anisotropy"].get<double>() > 8 * iso["anisotropy"].get<double>());
    // 4 directions x 3 points, and the default (4) where --directions is not given.
    CHECK(read_matrix_npy<double>(run / "generated" / "iso" / "items_directions_class_0.npy")
              .rows() == 12);
    CHECK(read_matrix_npy<double>(run / "generated" / "aniso" / "samples_directions_class_0.npy")
              .cols() == 6);
    r = test::run_dynsim(base + "--name short --set noise.scales=[1.0,2.0]");
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains("scales") && Catch::Contains("has 2 values"));
  }
  SECTION("refusals: an unknown class, an SDE without noise, a model without a decoder") {
    auto r = test::run_dynsim("generate " + run.string() + " --class 7");
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains("--class 7 does not exist"));
    r = test::run_dynsim("generate " + run.string() + " --set noise.sigma=0.0 --name nonoise");
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains("noise vanishes at planted attractor"));
  }
}

TEST_CASE("generate needs noise for the LNA, and a decoder when the state is not an item",
          "[generate][cli]") {
  const fs::path clf = trained("letters-classifier", "cvfr_letters.toml",
                               "--set train.epochs=3 --set dataset.n_train=900 "
                               "--set dataset.n_test=200");
  auto r = test::run_dynsim("generate " + clf.string() + " --name none");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("needs a noise law") &&
                           Catch::Contains("--set noise.plugin=additive"));
  // A model on the items themselves decodes as the identity: LNA samples around its attractors.
  r = test::run_dynsim("generate " + clf.string() +
                       " --set noise.plugin=additive --set noise.sigma=0.01 --count 4 "
                       "--name additive");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(read_matrix_npy<double>(clf / "generated" / "additive" / "items_class_0_lna.npy").cols() ==
        49);
}
