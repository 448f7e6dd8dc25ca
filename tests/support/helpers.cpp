#include "support/helpers.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "common/errors.hpp"
#include "plugin_host/registry.hpp"
#include "scenario/scenario.hpp"

namespace dynsim::test {

Options options_from(const OptionSpecs& specs, const std::string& toml_options) {
  const toml::table t =
      toml::parse(std::string_view(toml_options), std::string_view("test-options"));
  return check_table(&t, specs, "[test]", "test-options");
}

const Registry& build_plugins() {
  static Registry* reg = [] {  // plugins are never unloaded, so neither is their registry
    auto* r = new Registry;
    r->load_directories({DYNSIM_PLUGIN_DIR});
    return r;
  }();
  return *reg;
}

template <class S>
std::unique_ptr<Model<S>> entry_model(const std::string& name, const std::string& toml_options,
                                      const Context& ctx, Precision precision) {
  const Factory* factory = build_plugins().find(PluginKind::model, name).factory;
  const Options o = options_from(factory->options(), toml_options);
  if (precision == Precision::bf16) REQUIRE((std::is_same_v<S, float>));
  auto obj =
      factory->create(precision == Precision::bf16 ? Precision::bf16 : precision_of<S>(), o, ctx);
  return std::unique_ptr<Model<S>>(static_cast<Model<S>*>(obj.release()));
}
template <class S>
std::unique_ptr<Model<S>> entry_model(const std::string& name, const std::string& toml_options,
                                      std::uint64_t seed, int threads, Precision precision) {
  Context ctx;
  ctx.seed = seed;
  ctx.threads = threads;
  return entry_model<S>(name, toml_options, ctx, precision);
}
template std::unique_ptr<Model<float>> entry_model<float>(const std::string&, const std::string&,
                                                          std::uint64_t, int, Precision);
template std::unique_ptr<Model<double>> entry_model<double>(const std::string&, const std::string&,
                                                            std::uint64_t, int, Precision);
template std::unique_ptr<Model<double>> entry_model<double>(const std::string&, const std::string&,
                                                            const Context&, Precision);

template <class S>
std::unique_ptr<Model<S>> linear_model(const std::string& toml_options) {
  return entry_model<S>("linear", toml_options, 0, 1);
}
template std::unique_ptr<Model<float>> linear_model<float>(const std::string&);
template std::unique_ptr<Model<double>> linear_model<double>(const std::string&);

nlohmann::json read_json(const std::filesystem::path& file) {
  std::ifstream in(file);
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

std::string input_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

Matrix<double> random_matrix(Index rows, Index cols, unsigned seed, double scale) {
  std::srand(seed);
  return scale * Matrix<double>::Random(rows, cols);
}

std::unique_ptr<PluginObject> loss_plugin(const std::string& name, Precision precision) {
  const PluginRecord& rec = build_plugins().find(PluginKind::loss, name);
  return rec.factory->create(precision, options_from(rec.factory->options(), ""), Context{});
}

double fd_gradient_error(Model<double>& model, const std::vector<Matrix<double>>& grads,
                         const std::function<double()>& loss) {
  double worst = 0;
  auto params = model.parameters();
  REQUIRE(grads.size() == params.size());
  for (std::size_t p = 0; p < params.size(); ++p) {
    Matrix<double> fd(params[p].rows, params[p].cols);
    for (Index i = 0; i < fd.size(); ++i) {
      const double keep = params[p].data[i], h = 1e-6 * std::max(1.0, std::abs(keep));
      params[p].data[i] = keep + h;
      model.parameters_changed();
      const double up = loss();
      params[p].data[i] = keep - h;
      model.parameters_changed();
      const double down = loss();
      params[p].data[i] = keep;
      model.parameters_changed();
      fd(i) = (up - down) / (2 * h);
    }
    INFO("block " << params[p].name);
    CHECK(fd.norm() > 0);
    worst = std::max(worst, (grads[p] - fd).norm() / fd.norm());
  }
  return worst;
}

Command run(const std::string& command) {
  Command c{-1, ""};
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return c;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), p)) c.output += buf.data();
  const int status = ::pclose(p);
  c.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return c;
}

Command run_dynsim(const std::string& args, const std::string& env) {
  return run(env + (env.empty() ? "" : " ") + DYNSIM_BIN + " " + args);
}

namespace {
// The test process's scratch folder, removed at exit unless DYNSIM_KEEP_TEST_FILES is set.
struct ScratchDir {
  std::filesystem::path path;
  ScratchDir()
      : path(std::filesystem::temp_directory_path() /
             ("dynsim-tests-" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!std::getenv("DYNSIM_KEEP_TEST_FILES")) std::filesystem::remove_all(path, ec);
  }
};
}  // namespace

std::string temp_dir() {
  static const ScratchDir dir;
  return dir.path.string();
}

std::string temp_file(const std::string& name, const std::string& text) {
  const std::string path = temp_dir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace dynsim::test
