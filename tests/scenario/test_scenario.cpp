// Scenario tables checked against option specs: every error names where it comes from.
#include <catch2/catch.hpp>

#include "scenario/scenario.hpp"
#include "support/helpers.hpp"

using namespace dynsim;

namespace {

const OptionSpecs kSpecs = {
    opt::real("dt", "step").def(0.1).positive(),
    opt::integer("steps", "count").def(std::int64_t{10}).at_least(1),
    opt::string("method", "stepper").def("rk4").one_of({"euler", "rk4"}),
    opt::real_matrix("M", "matrix"),
    opt::boolean("flag", "a flag").def(false),
};

std::string scenario_error(const std::string& toml, const std::vector<std::string>& sets = {}) {
  const std::string file = test::temp_file("t.toml", toml);
  try {
    const Scenario sc = Scenario::load(file, sets);
    check_table(sc.table("m"), kSpecs, "[m]", sc.where_table("m"));
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("unknown keys are named with file:line:column and a suggestion", "[scenario]") {
  const auto e = scenario_error("[m]\nM = [[1.0]]\nsteep = 3\n");
  CHECK_THAT(e, Catch::Contains("t.toml:3:9") && Catch::Contains("unknown key 'steep'") &&
                    Catch::Contains("did you mean 'steps'"));
}

TEST_CASE("wrong types are named with the expected type", "[scenario]") {
  CHECK_THAT(scenario_error("[m]\nM = [[1.0]]\ndt = \"fast\"\n"),
             Catch::Contains("t.toml:3:6") && Catch::Contains("'dt' must be real, got a string"));
  CHECK_THAT(scenario_error("[m]\nM = [1.0, 2.0]\n"),
             Catch::Contains("t.toml:2:5") && Catch::Contains("list of lists of reals"));
  CHECK_THAT(scenario_error("[m]\nM = [[1.0]]\nsteps = 2.5\n"),
             Catch::Contains("must be integer, got a real"));
}

TEST_CASE("missing required keys point at the table", "[scenario]") {
  CHECK_THAT(scenario_error("[m]\ndt = 0.5\n"),
             Catch::Contains("t.toml:1:1") && Catch::Contains("missing required key 'M'"));
}

TEST_CASE("out-of-range values and bad choices are refused", "[scenario]") {
  CHECK_THAT(scenario_error("[m]\nM = [[1.0]]\ndt = 0\n"),
             Catch::Contains("t.toml:3:6") && Catch::Contains("out of range: must be > 0"));
  CHECK_THAT(scenario_error("[m]\nM = [[1.0]]\nsteps = 0\n"), Catch::Contains("must be >= 1"));
  CHECK_THAT(scenario_error("[m]\nM = [[1.0]]\nmethod = \"leapfrog\"\n"),
             Catch::Contains("'leapfrog' is not one of: euler, rk4"));
}

TEST_CASE("syntax errors carry the position", "[scenario]") {
  CHECK_THAT(scenario_error("[m]\nM = [[1.0]\n"),
             Catch::Contains("t.toml:") && Catch::Contains("TOML syntax error"));
}

TEST_CASE("overrides given by --set are type-checked and named in errors", "[scenario]") {
  CHECK(
      scenario_error("[m]\nM = [[1.0]]\n", {"m.dt=0.25", "m.method=euler", "m.flag=true"}).empty());
  CHECK_THAT(scenario_error("[m]\nM = [[1.0]]\n", {"m.dt=abc"}),
             Catch::Contains("--set m.dt=abc") && Catch::Contains("must be real, got a string"));
  CHECK_THAT(scenario_error("[m]\nM = [[1.0]]\n", {"m.dt=[1"}),
             Catch::Contains("--set m.dt=[1: VALUE is not valid TOML"));
  CHECK_THAT(scenario_error("[m]\nM = [[1.0]]\n", {"dt=1"}),
             Catch::Contains("expected TABLE.KEY=VALUE"));
  CHECK_THAT(scenario_error("[m]\nM = [[1.0]]\n", {"m.dt"}),
             Catch::Contains("expected TABLE.KEY=VALUE"));
  CHECK_THAT(scenario_error("[m]\nM = [[1.0]]\n", {"m.dtt=1.0"}),
             Catch::Contains("--set m.dtt=1.0") && Catch::Contains("unknown key 'dtt'"));
}

TEST_CASE("defaults fill what the table leaves out and the values round-trip", "[scenario]") {
  const std::string file = test::temp_file("ok.toml", "[m]\nM = [[1, 2], [3, 4]]\nsteps = 7\n");
  const Scenario sc = Scenario::load(file, {"m.dt=0.5"});
  const Options o = check_table(sc.table("m"), kSpecs, "[m]", sc.where_table("m"));
  CHECK(o.real("dt") == 0.5);
  CHECK(o.where("dt") == "--set m.dt=0.5");
  CHECK(o.integer("steps") == 7);
  CHECK(o.where("steps").find("ok.toml:3:9") != std::string::npos);
  CHECK(o.string("method") == "rk4");
  CHECK(o.where("method") == "default");
  CHECK(o.real_matrix("M")[1][0] == 3.0);
  const toml::table back = to_toml(o);
  const Options again = check_table(&back, kSpecs, "[m]", "resolved");
  CHECK(again.real_matrix("M") == o.real_matrix("M"));
  CHECK(again.real("dt") == 0.5);
  CHECK_THROWS_WITH(o.fail("M", "must be square"),
                    Catch::Contains("ok.toml:2:5") && Catch::Contains("must be square"));
}
