// The dynsim command line end to end: every class of input error with its message and exit
// code 2, a failure while running with exit code 1, and a successful run's folder.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "support/helpers.hpp"

using namespace dynsim;

namespace fs = std::filesystem;

namespace {

const std::string kGood = R"([scenario]
name = "cli"
precision = "f64"

[model]
plugin = "linear"
M = [[0.0, 1.0], [-1.0, 0.0]]

[integrator]
method = "rk4"
dt = 0.1
steps = 20

[simulate]
x0 = [[1.0, 0.0], [0.0, 1.0]]
)";

std::string scenario(const std::string& name, const std::string& text) {
  return test::temp_file(name + ".toml", text);
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto p = s.find(from);
  REQUIRE(p != std::string::npos);
  return s.replace(p, from.size(), to);
}

}  // namespace

TEST_CASE("validate accepts a good scenario", "[cli]") {
  const auto r = test::run_dynsim("validate " + scenario("good", kGood));
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("OK scenario 'cli'") && Catch::Contains("N = 2"));
}

TEST_CASE("run writes a complete run folder and leaves no temporary file", "[cli]") {
  const std::string out = test::temp_dir() + "/run-good";
  const auto r = test::run_dynsim("run " + scenario("good", kGood) + " --out " + out + " --seed 3");
  REQUIRE(r.exit_code == 0);
  for (const char* f : {"scenario.resolved.toml", "provenance.json", "metrics.json", "run.log",
                        "final_state.csv", "trajectory.csv", "trajectory.npy", "times.npy"})
    CHECK(fs::exists(fs::path(out) / f));
  for (const auto& e : fs::recursive_directory_iterator(out))
    CHECK(e.path().string().find(".tmp.") == std::string::npos);
  std::ifstream m(fs::path(out) / "metrics.json");
  const std::string metrics((std::istreambuf_iterator<char>(m)), {});
  CHECK_THAT(metrics, Catch::Contains("\"status\": \"ok\"") && Catch::Contains("\"steps\": 20"));
  std::ifstream p(fs::path(out) / "provenance.json");
  const std::string prov((std::istreambuf_iterator<char>(p)), {});
  CHECK_THAT(prov, Catch::Contains("\"seed\": 3") && Catch::Contains("git_commit") &&
                       Catch::Contains("OpenBLAS"));
  // The resolved scenario reruns to the same final state.
  const auto again =
      test::run_dynsim("run " + out + "/scenario.resolved.toml --out " + out + "-again");
  REQUIRE(again.exit_code == 0);
  std::ifstream a(fs::path(out) / "final_state.csv"),
      b(fs::path(out + "-again") / "final_state.csv");
  CHECK(std::string((std::istreambuf_iterator<char>(a)), {}) ==
        std::string((std::istreambuf_iterator<char>(b)), {}));
  // A second run into the same folder is refused before anything is overwritten.
  const auto clash = test::run_dynsim("run " + scenario("good", kGood) + " --out " + out);
  CHECK(clash.exit_code == 2);
  CHECK_THAT(clash.output, Catch::Contains("exists and is not empty"));
}

TEST_CASE("scenario errors exit with code 2 and say where", "[cli]") {
  struct Case {
    std::string name, text, args, expect;
  };
  const std::vector<Case> cases = {
      {"unknown_key", replace(kGood, "dt = 0.1", "dt = 0.1\nstep = 3"), "",
       "unknown_key.toml:12:8: [integrator]: unknown key 'step' (did you mean 'steps'?)"},
      {"bad_type", replace(kGood, "dt = 0.1", "dt = \"small\""), "",
       "bad_type.toml:11:6: [integrator]: key 'dt' must be real, got a string"},
      {"missing_key", replace(kGood, "M = [[0.0, 1.0], [-1.0, 0.0]]", ""), "",
       "missing_key.toml:5:1: [model] plugin 'linear': missing required key 'M'"},
      {"missing_plugin_key", replace(kGood, "plugin = \"linear\"", ""), "",
       "missing_plugin_key.toml:5:1: [model]: missing key 'plugin'"},
      {"out_of_range", replace(kGood, "dt = 0.1", "dt = -0.1"), "",
       "out_of_range.toml:11:6: [integrator]: key 'dt': -0.1 is out of range: must be > 0"},
      {"bad_set", kGood, "--set integrator.dt", "--set integrator.dt: expected TABLE.KEY=VALUE"},
      {"bad_set_type", kGood, "--set integrator.steps=1.5",
       "--set integrator.steps=1.5: [integrator]: key 'steps' must be integer, got a real"},
      {"missing_plugin", replace(kGood, "plugin = \"linear\"", "plugin = \"lienar\""), "",
       "missing_plugin.toml:6:10: [model]: no model plugin named 'lienar'; available: "},
      {"wrong_kind", replace(kGood, "plugin = \"linear\"", "plugin = \"additive\""), "",
       "plugin 'additive' is a noise plugin, not a model plugin"},
      {"plugin_check", replace(kGood, "[-1.0, 0.0]]", "[-1.0]]"), "",
       "plugin_check.toml:7:5: [model] plugin 'linear' option 'M': must be square"},
      {"unknown_table", kGood + "\n[integratr]\ndt = 1\n", "",
       "unknown_table.toml:17:1: unknown table 'integratr'"},
      {"syntax", replace(kGood, "steps = 20", "steps = = 20"), "",
       "syntax.toml:12:9: TOML syntax error"},
      {"no_state", replace(kGood, "x0 = [[1.0, 0.0], [0.0, 1.0]]", "x0 = [[1.0]]"), "",
       "[simulate] option 'x0': row 1 has 1 values but the model takes inputs of dimension 2"},
      // Reals are finite unless an option allows infinity: host keys and plugin options alike.
      {"inf_real", kGood, "--set integrator.dt=inf",
       "--set integrator.dt=inf: [integrator]: key 'dt': inf is not finite"},
      {"inf_plugin_option", replace(kGood, "[-1.0, 0.0]]", "[-inf, 0.0]]"), "",
       "inf_plugin_option.toml:7:5: [model] plugin 'linear': key 'M': -inf is not finite"},
      // A model without a bf16 path refuses it before anything runs.
      {"no_bf16", kGood, "--set scenario.precision=bf16",
       "--set scenario.precision=bf16: [scenario] option 'precision': the model plugin 'linear' ("},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    const auto r = test::run_dynsim("run " + scenario(c.name, c.text) + " " + c.args + " --out " +
                                    test::temp_dir() + "/never-" + c.name);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains(c.expect));
    CHECK_FALSE(fs::exists(test::temp_dir() + "/never-" + c.name));
  }
  const auto r = test::run_dynsim("run");
  CHECK(r.exit_code == 2);
  CHECK(test::run_dynsim("run " + test::temp_dir() + "/absent.toml").exit_code == 2);
}

TEST_CASE("a plugin built for another ABI version is refused naming file and versions", "[cli]") {
  const auto r = test::run_dynsim("validate " + scenario("good", kGood),
                                  std::string("DYNSIM_PLUGIN_PATH=") + TEST_PLUGIN_DIR_BAD_ABI);
  CHECK(r.exit_code == 2);
  CHECK_THAT(
      r.output,
      Catch::Contains("dynsim_bad_abi.so") &&
          Catch::Contains("ABI version " + std::to_string(DYNSIM_ABI_VERSION + 1)) &&
          Catch::Contains("this dynsim has ABI version " + std::to_string(DYNSIM_ABI_VERSION)));
  CHECK(test::run_dynsim("plugins", std::string("DYNSIM_PLUGIN_PATH=") + TEST_PLUGIN_DIR_BAD_ABI)
            .exit_code == 2);
}

TEST_CASE("the first plugin of a name on the search path wins, two in one folder are refused",
          "[cli]") {
  // DYNSIM_PLUGIN_PATH comes before the build's plugin folder: its 'linear' (no options, one
  // state) is the one wired, and the build's is named at debug level as shadowed.
  const std::string still = replace(replace(kGood, "M = [[0.0, 1.0], [-1.0, 0.0]]", ""),
                                    "x0 = [[1.0, 0.0], [0.0, 1.0]]", "x0 = [[1.0]]");
  const std::string env = std::string("DYNSIM_PLUGIN_PATH=") + TEST_PLUGIN_DIR_DUPLICATE;
  const auto first =
      test::run_dynsim("--log-level debug validate " + scenario("still", still), env);
  INFO(first.output);
  CHECK(first.exit_code == 0);
  CHECK_THAT(first.output, Catch::Contains("plugin 'linear' in ") &&
                               Catch::Contains("is shadowed by") &&
                               Catch::Contains("dynsim_duplicate_linear.so"));
  // The real 'linear' with its options is then unknown to this search path.
  CHECK(test::run_dynsim("validate " + scenario("good", kGood), env).exit_code == 2);

  // Two files that provide one name in one folder stay an error.
  const fs::path twice = fs::path(test::temp_dir()) / "twice";
  fs::create_directories(twice);
  const fs::path dup = fs::path(TEST_PLUGIN_DIR_DUPLICATE) / "dynsim_duplicate_linear.so";
  fs::copy_file(dup, twice / "dynsim_a.so", fs::copy_options::overwrite_existing);
  fs::copy_file(dup, twice / "dynsim_b.so", fs::copy_options::overwrite_existing);
  const auto r = test::run_dynsim("validate " + scenario("still", still),
                                  "DYNSIM_PLUGIN_PATH=" + twice.string());
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("plugin name 'linear' is provided twice in one folder") &&
                           Catch::Contains("dynsim_a.so") && Catch::Contains("dynsim_b.so"));
}

TEST_CASE("a model whose attractors do not have the state's size is refused before the run",
          "[cli]") {
  const std::string text =
      replace(replace(kGood, "plugin = \"linear\"\nM = [[0.0, 1.0], [-1.0, 0.0]]",
                      "plugin = \"bad_shapes\""),
              "x0 = [[1.0, 0.0], [0.0, 1.0]]", "x0 = [[1.0, 0.0]]");
  const auto r = test::run_dynsim(
      "run " + scenario("bad_shapes", text) + " --out " + test::temp_dir() + "/never-bad-shapes",
      std::string("DYNSIM_PLUGIN_PATH=") + TEST_PLUGIN_DIR_BAD_SHAPES);
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("[model] plugin 'bad_shapes'") &&
                           Catch::Contains("attractors() is 1 x 1 but must be dim() x K = 2 x K"));
  CHECK_FALSE(fs::exists(test::temp_dir() + "/never-bad-shapes"));
}

TEST_CASE("a run folder's resolved scenario names its plugin folders absolutely", "[cli]") {
  // The scenario finds the duplicate 'linear' (one state, no options) through a relative
  // [plugins] path; the run folder elsewhere must reload the same plugin.
  const fs::path base = fs::path(test::temp_dir()) / "relpaths";
  fs::create_directories(base / "plugs");
  fs::copy_file(fs::path(TEST_PLUGIN_DIR_DUPLICATE) / "dynsim_duplicate_linear.so",
                base / "plugs" / "dynsim_duplicate_linear.so",
                fs::copy_options::overwrite_existing);
  const std::string text = "[plugins]\npaths = [\"plugs\"]\n" +
                           replace(replace(kGood, "M = [[0.0, 1.0], [-1.0, 0.0]]", ""),
                                   "x0 = [[1.0, 0.0], [0.0, 1.0]]", "x0 = [[1.0]]");
  { std::ofstream(base / "rel.toml") << text; }
  const std::string out = test::temp_dir() + "/relpaths-run";
  fs::remove_all(out);
  const auto r = test::run_dynsim("run " + (base / "rel.toml").string() + " --out " + out);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  std::ifstream in(fs::path(out) / "scenario.resolved.toml");
  const std::string resolved((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  CHECK_THAT(resolved, Catch::Contains((base / "plugs").string()));
  const auto again = test::run_dynsim("validate " + out + "/scenario.resolved.toml");
  INFO(again.output);
  CHECK(again.exit_code == 0);
}

TEST_CASE("a failure while running exits with code 1 and records it", "[cli]") {
  const std::string text =
      replace(replace(kGood, "M = [[0.0, 1.0], [-1.0, 0.0]]", "M = [[1000.0, 0.0], [0.0, 1.0]]"),
              "steps = 20", "steps = 400");
  const std::string out = test::temp_dir() + "/run-diverge";
  const auto r = test::run_dynsim(
      "run " + scenario("diverge", replace(text, "dt = 0.1", "dt = 1.0")) + " --out " + out);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("diverged"));
  std::ifstream m(fs::path(out) / "metrics.json");
  CHECK_THAT(std::string((std::istreambuf_iterator<char>(m)), {}),
             Catch::Contains("\"status\": \"failed\""));
}

TEST_CASE("plugins lists kinds and versions and files and options", "[cli]") {
  const auto r = test::run_dynsim("plugins");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("linear 1.0.0") && Catch::Contains("dynsim_linear.so") &&
                           Catch::Contains("list of lists of reals") &&
                           Catch::Contains("additive 1.0.0") && Catch::Contains("sigma"));
  CHECK(test::run_dynsim("--help").exit_code == 0);
  CHECK(test::run_dynsim("run --bogus x.toml").exit_code == 2);
}

TEST_CASE("simulate x0 as inputs through encode() or as full states (initial)", "[cli]") {
  // cvfr_hill's encode() scales inputs by input_scale: the first saved state tells them apart.
  const std::string text = R"([scenario]
name = "initial"
precision = "f64"

[model]
plugin = "cvfr_hill"
n = 4
classes = 2
input_scale = 2.0

[integrator]
method = "euler"
dt = 0.1
steps = 2

[simulate]
x0 = [[1.0, 0.0, 0.5, 0.0]]
)";
  const std::string file = scenario("initial", text);
  auto first_state = [&](const std::string& sets) {
    const std::string out = test::temp_dir() + "/initial" + std::to_string(sets.size());
    const auto r = test::run_dynsim("run " + file + " --out " + out + sets);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    std::ifstream f(out + "/trajectory.csv");
    std::string header, row;
    std::getline(f, header);
    std::getline(f, row);
    return row;  // path,item,t,x0..x3
  };
  CHECK(first_state("") == "0,0,0,2,0,1,0");
  CHECK(first_state(" --set simulate.initial=state") == "0,0,0,1,0,0.5,0");
  const auto wrong = test::run_dynsim("validate " + file +
                                      " --set simulate.initial=state --set simulate.x0=[[1.0]]");
  CHECK(wrong.exit_code == 2);
  CHECK(wrong.output.find("x0") != std::string::npos);
  CHECK(wrong.output.find("states (initial = \"state\") of dimension 4") != std::string::npos);
}

TEST_CASE("absurd counts and sizes are refused before anything is allocated", "[cli]") {
  const std::string letters = std::string(DYNSIM_SOURCE_DIR) + "/scenarios/cvfr_letters.toml";
  struct Case {
    std::string sets, expect;
  };
  for (const Case& c : std::vector<Case>{
           {"--set integrator.steps=4611686018427387904", "'steps'"},
           {"--set dataset.n_train=4611686018427387904", "'n_train'"},
           {"--set evaluate.horizon=1000000000", "'horizon'"},
           {"--set train.checkpoint_every=4611686018427387904", "'checkpoint_every'"},
           {"--set model.n=4611686018427387904", "'n'"},
           // Within every bound, but the adjoint would keep ~100 GB per batch.
           {"--set integrator.steps=1000000 --set train.checkpoint_every=1 --set "
            "train.batch_size=20000",
            "this run needs ~"},
       }) {
    const auto r = test::run_dynsim("validate " + letters + " " + c.sets);
    INFO(c.sets << "\n" << r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find(c.expect) != std::string::npos);
    CHECK(r.output.find("bad_alloc") == std::string::npos);
    CHECK(r.output.find("_M_") == std::string::npos);
  }
}

TEST_CASE("dopri5 in f32 keeps time in double (steps below float's resolution of t)", "[cli]") {
  // At t = 30000 a float's last digit is 0.002; this oscillator needs steps of about 2e-4. A float
  // clock would not move (t + h == t) and the run would end at max_steps.
  const std::string file = scenario("dopri_f32", R"([scenario]
name = "dopri_f32"
precision = "f32"

[model]
plugin = "linear"
M = [[0.0, 1000.0], [-1000.0, 0.0]]

[integrator]
method = "dopri5"
dt = 0.0001
t0 = 30000.0
t_end = 30000.5
rtol = 1e-6
max_steps = 200000

[simulate]
x0 = [[1.0, 0.0]]
save_trajectory = false
)");
  const std::string out = test::temp_dir() + "/dopri_f32";
  const auto r = test::run_dynsim("run " + file + " --out " + out);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  std::ifstream f(out + "/final_state.csv");
  std::string header;
  double x0 = 0, x1 = 0;
  char comma = 0;
  int path = 0, item = 0;
  std::getline(f, header);
  f >> path >> comma >> item >> comma >> x0 >> comma >> x1;
  // The exact rotation by 1000 x 0.5 rad.
  CHECK(std::abs(x0 - std::cos(500.0)) < 1e-3);
  CHECK(std::abs(x1 + std::sin(500.0)) < 1e-3);
}
