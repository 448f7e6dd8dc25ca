// dynsim._dynsim: the host's commands for Python (python/dynsim/__init__.py wraps them). Every
// call releases the GIL while dynsim works; the progress callback and the log lines take it back
// between batches, and so does the check for Ctrl-C (PyErr_CheckSignals), which stops the job at
// the next batch with the run folder kept. Errors become dynsim.ScenarioError (what the CLI exits
// 2 for) or dynsim.RunError (exit 1), with the CLI's messages.
#include <dlfcn.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <spdlog/sinks/base_sink.h>

#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "common/progress.hpp"
#include "common/version.hpp"
#include "jobs/commands.hpp"
#include "plugin_host/registry.hpp"

namespace py = pybind11;
namespace fs = std::filesystem;
using namespace dynsim;

namespace {

// Log lines to Python's sys.stderr, so a notebook shows them.
class PythonSink : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    py::gil_scoped_acquire gil;
    try {
      py::module_::import("sys").attr("stderr").attr("write")(py::str(buf.data(), buf.size()));
    } catch (py::error_already_set&) {
      PyErr_Clear();  // a closed stderr loses the line, not the run
    }
  }
  void flush_() override {}
};

// Progress records to the caller's callable; Ctrl-C (or an exception in the callable) becomes a
// stop at the next batch, re-raised in Python once the job has unwound.
class PythonListener : public progress::Listener {
 public:
  explicit PythonListener(py::object callback) : callback_(std::move(callback)) {}
  ~PythonListener() override {
    py::gil_scoped_acquire gil;
    callback_ = py::object();
    error_.reset();
  }

  void record(const nlohmann::json& r) override {
    if (error_ || callback_.is_none()) return;
    py::gil_scoped_acquire gil;
    try {
      callback_(py::module_::import("json").attr("loads")(r.dump()));
    } catch (py::error_already_set& e) {
      error_.emplace(std::move(e));
    }
  }
  bool interrupted() override {
    if (error_) return true;
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) error_.emplace();  // fetches the KeyboardInterrupt
    return error_.has_value();
  }
  // Raises what stopped the job (GIL held).
  [[noreturn]] void raise() {
    if (error_) {
      py::error_already_set e = std::move(*error_);
      error_.reset();
      throw e;
    }
    PyErr_SetNone(PyExc_KeyboardInterrupt);
    throw py::error_already_set();
  }

 private:
  py::object callback_;
  std::optional<py::error_already_set> error_;
};

py::object g_scenario_error, g_run_error;

// Runs `job` without the GIL, with a logger on sys.stderr and the listener installed; maps the
// C++ errors to the module's exceptions.
template <class F>
auto guarded(const std::string& log_level, const py::object& callback, F&& job) {
  auto log = make_logger(log_level, std::make_shared<PythonSink>());
  PythonListener listener(callback);
  std::string error;
  bool input_error = false, interrupted = false;
  using R = decltype(job(*log));
  std::optional<R> result;
  {
    py::gil_scoped_release release;
    progress::Scoped scope(&listener);
    try {
      result.emplace(job(*log));
    } catch (const progress::Interrupted&) {
      interrupted = true;
    } catch (const InputError& e) {
      input_error = true;
      error = e.what();
      log->error("{}", error);
    } catch (const std::exception& e) {
      error = e.what();
      log->error("{}", error);
    }
    log->flush();
  }
  if (interrupted) listener.raise();
  if (!result) {
    PyErr_SetString((input_error ? g_scenario_error : g_run_error).ptr(), error.c_str());
    throw py::error_already_set();
  }
  return std::move(*result);
}

Mode mode_named(const std::string& m) {
  if (m == "run") return Mode::run;
  if (m == "validate") return Mode::validate;
  if (m == "resume") return Mode::resume;
  if (m == "evaluate") return Mode::evaluate;
  if (m == "stability") return Mode::stability;
  throw py::value_error("unknown mode '" + m + "'");
}

// The folder above lib/dynsim/plugins for this module: the build tree (build/<preset>/python/
// dynsim/) or the install prefix (<prefix>/lib/python3.X/dist-packages/dynsim/).
void find_host_root() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&find_host_root), &info) == 0 || !info.dli_fname) return;
  std::error_code ec;
  for (fs::path p = fs::weakly_canonical(info.dli_fname, ec).parent_path(); p.has_relative_path();
       p = p.parent_path())
    if (fs::is_directory(p / DYNSIM_PLUGIN_RELDIR, ec)) {
      Registry::set_host_root(p);
      return;
    }
}

}  // namespace

PYBIND11_MODULE(_dynsim, m) {
  m.doc() = "dynsim's host, for Python: see the dynsim package";
  m.attr("__version__") = kDynsimVersion;
  g_scenario_error = py::exception<InputError>(m, "ScenarioError", PyExc_ValueError);
  g_run_error = py::exception<RunError>(m, "RunError", PyExc_RuntimeError);
  find_host_root();

  m.def(
      "execute",
      [](const std::string& mode, const std::string& target, const std::vector<std::string>& sets,
         const std::string& out, const std::string& name, const py::object& callback,
         const std::string& log_level, const std::string& command_line) {
        RunRequest r;
        r.mode = mode_named(mode);
        r.scenario = r.mode == Mode::resume ? "" : target;
        r.out = r.mode == Mode::resume ? target : out;
        r.sets = sets;
        r.eval_name = name;
        r.command_line = command_line;
        const RunOutcome o =
            guarded(log_level, callback, [&](spdlog::logger& log) { return execute(r, log); });
        return py::make_tuple(o.exit_code, o.folder.string());
      },
      py::arg("mode"), py::arg("target"), py::arg("sets"), py::arg("out"), py::arg("name"),
      py::arg("progress"), py::arg("log_level"), py::arg("command_line"),
      "Runs a request as the CLI would; returns (exit code, folder).");

  m.def(
      "simulate",
      [](const std::string& run_dir, const std::vector<std::string>& sets,
         const py::array_t<double, py::array::c_style | py::array::forcecast>& x0, bool states,
         const std::string& log_level) -> py::tuple {
        if (x0.ndim() != 2) throw py::value_error("x0 must be 2-D: (items, dimension)");
        // Row-major (items, d) is column-major (d, items): one item per column, as the host has.
        const Eigen::MatrixXd cols =
            Eigen::Map<const Eigen::MatrixXd>(x0.data(), x0.shape(1), x0.shape(0));
        SimulateOutput o = guarded(log_level, py::none(), [&](spdlog::logger& log) {
          return simulate_run(run_dir, sets, cols, states, log);
        });
        const std::vector<py::ssize_t> shape{o.saves, o.items, o.n};
        py::array states_out = o.f64 ? py::array(py::array_t<double>(shape, o.d.data()))
                                     : py::array(py::array_t<float>(shape, o.f.data()));
        return py::make_tuple(
            states_out,
            py::array_t<double>({static_cast<py::ssize_t>(o.times.size())}, o.times.data()));
      },
      py::arg("run_dir"), py::arg("sets"), py::arg("x0"), py::arg("states"), py::arg("log_level"),
      "Integrates a run's model from x0 (items x dimension); returns (states, times).");

  m.def(
      "plugins",
      [](const std::vector<std::string>& paths) {
        const std::string text = guarded(
            "warn", py::none(), [&](spdlog::logger&) { return plugins_json(paths).dump(); });
        return py::module_::import("json").attr("loads")(text);
      },
      py::arg("paths"), "The installed plugins and their options.");
}
