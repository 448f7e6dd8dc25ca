// The gradient check from C++ (what `dynsim check-plugin` runs) on this plugin's class: the
// start of the plugin's own tests. ctest builds and runs it.
#include <dynsim/sdk/gradcheck.hpp>
#include <iostream>

#include "@NAME@.cpp"  // the class, compiled into this program

int main() {
  // The declared defaults, then what the check varies (no dataset here to take sizes from).
  dynsim::Options o = dynsim::default_options(@CLASS@<double>::options(), "[model] '@NAME@'");
  o.set("n", std::int64_t{16}, "check_@NAME@.cpp");
  o.set("classes", std::int64_t{3}, "check_@NAME@.cpp");
  dynsim::Context ctx;
  ctx.seed = 1;
  @CLASS@<double> model(o, ctx);
  const dynsim::GradCheckReport report = dynsim::check_gradients(model);
  std::cout << report.table();
  return report.ok() ? 0 : 1;
}
