#include "scenario/wiring.hpp"

#include <cmath>
#include <thread>

#include <dynsim/sdk/blas.hpp>

#include "common/errors.hpp"
#include "common/version.hpp"
#include "latent/latent_model.hpp"

namespace dynsim {
namespace fs = std::filesystem;

const std::vector<std::pair<std::string, OptionSpecs>>& host_tables() {
  static const std::vector<std::pair<std::string, OptionSpecs>> tables = {
      {"scenario",
       {
           opt::string("name", "run name (default: the file name without .toml)").def(""),
           opt::string("description", "free text, copied to the run folder").def(""),
           opt::string("precision",
                       "arithmetic of the run: f64, f32, or bf16 (f32 state, loss and optimizer; "
                       "bf16 operands with f32 sums in the model's big products)")
               .def("f64")
               .one_of({"f32", "f64", "bf16"}),
           opt::integer("seed", "seed of every random draw (init, noise, data order, attacks)")
               .def(std::int64_t{0})
               .at_least(0),
           opt::integer("threads", "threads for BLAS and host loops (0: all cores)")
               .def(std::int64_t{0})
               .at_least(0)
               .at_most(4096),
           opt::string("dynsim_version", "version that wrote this scenario (warns if different)")
               .def(""),
           opt::string("gemm",
                       "library of the single-precision matrix products: onednn (AVX-512 "
                       "kernels) or openblas (the path before oneDNN); f64 always uses OpenBLAS")
               .def("onednn")
               .one_of({"onednn", "openblas"}),
       }},
      {"plugins",
       {opt::string_list("paths", "extra plugin folders, relative to the scenario file")
            .def(std::vector<std::string>{})}},
      {"integrator",
       {
           opt::string("method", "time stepper")
               .def("rk4")
               .one_of({"euler", "rk4", "dopri5", "euler_maruyama"}),
           opt::real("dt", "step (fixed-step methods) or first step (dopri5)").def(0.01).positive(),
           opt::real("t0", "start time").def(0.0),
           opt::real("t_end", "end time (give this or steps)").def(0.0),
           opt::integer("steps", "number of fixed steps (give this or t_end)")
               .def(std::int64_t{0})
               .at_least(0)
               .at_most(1e12),
           opt::real("rtol", "dopri5 relative tolerance").def(1e-6).positive(),
           opt::real("atol", "dopri5 absolute tolerance").def(1e-8).positive(),
           opt::integer("max_steps", "dopri5: most step attempts")
               .def(std::int64_t{1000000})
               .at_least(1)
               .at_most(1e12),
           opt::integer("save_every", "record the state every this many steps")
               .def(std::int64_t{1})
               .at_least(1)
               .at_most(1e12),
       }},
      {"simulate",
       {
           opt::real_matrix("x0",
                            "starting points, one row per item (or take items from [dataset]); "
                            "see `initial`")
               .def(std::vector<std::vector<double>>{}),
           opt::string("initial",
                       "input: x0 rows are inputs (input_dim values) mapped by the model's "
                       "encode(), as dataset items are; state: full states (dim() values), "
                       "used as they are")
               .def("input")
               .one_of({"input", "state"}),
           opt::integer("items", "with [dataset]: how many items of the split to simulate")
               .def(std::int64_t{10})
               .at_least(1)
               .at_most(1e8),
           opt::string("split", "with [dataset]: which split")
               .def("test")
               .one_of({"train", "test"}),
           opt::integer("paths", "noise realisations per item (SDEs)")
               .def(std::int64_t{1})
               .at_least(1)
               .at_most(1e6),
           opt::boolean("save_trajectory", "write trajectory.csv and trajectory.npy").def(true),
           opt::integer("plot_nodes", "nodes drawn in trajectories.png")
               .def(std::int64_t{10})
               .at_least(1)
               .at_most(1000),
       }},
      {"train",
       {
           opt::integer("epochs", "passes over the training items")
               .def(std::int64_t{20})
               .at_least(1)
               .at_most(1e6),
           opt::integer("batch_size", "items per optimizer step")
               .def(std::int64_t{50})
               .at_least(1)
               .at_most(1e7),
           opt::string("optimizer", "update rule").def("adam").one_of({"adam", "sgd"}),
           opt::real("lr", "learning rate").def(0.01).positive(),
           opt::string("schedule", "learning-rate schedule over the epochs")
               .def("constant")
               .one_of({"constant", "cosine"}),
           opt::integer("warmup_steps",
                        "ramp the rate linearly over the first optimizer steps "
                        "(0: none)")
               .def(std::int64_t{0})
               .at_least(0)
               .at_most(1e12),
           opt::real("lr_final", "cosine: the last epoch's rate as a fraction of lr")
               .def(0.01)
               .range(0.0, 1.0),
           opt::real("beta1", "Adam first-moment decay").def(0.9).range(0.0, 1.0),
           opt::real("beta2", "Adam second-moment decay").def(0.999).range(0.0, 1.0),
           opt::real("eps", "Adam denominator guard").def(1e-8).positive(),
           opt::real("momentum", "SGD momentum").def(0.0).range(0.0, 1.0),
           opt::real("clip_norm", "clip the global gradient norm to this (0: off)")
               .def(0.0)
               .at_least(0.0),
           opt::real("validation_fraction", "share of training items held out for validation")
               .def(0.1)
               .range(0.0, 0.9),
           opt::string("validation_pick",
                       "random: the held-out items are drawn by the run's seed; last: the "
                       "last ones in the dataset's order (Keras' validation_split)")
               .def("random")
               .one_of({"random", "last"}),
           opt::integer("patience",
                        "stop after this many epochs without a better validation "
                        "accuracy (0: never)")
               .def(std::int64_t{0})
               .at_least(0)
               .at_most(1e6),
           opt::integer("stop_after_epochs",
                        "pause after this epoch, to continue later with "
                        "--resume (0: run all epochs)")
               .def(std::int64_t{0})
               .at_least(0)
               .at_most(1e6),
           opt::integer("checkpoint_every",
                        "adjoint memory: keep the state every k steps and "
                        "recompute the rest (0: automatic, 1: keep all)")
               .def(std::int64_t{0})
               .at_least(0)
               .at_most(1e12),
           opt::integer("shards",
                        "column blocks of each batch, summed in a fixed tree: the trained bits "
                        "are the same for any number of MPI ranks at a fixed value (0: one "
                        "per rank)")
               .def(std::int64_t{0})
               .range(0, 4096),
           opt::real("divergence_loss", "a batch loss above this stops training")
               .def(1e6)
               .positive(),
           opt::integer("skip_nonfinite",
                        "skip the optimizer step of a batch whose loss or gradient is NaN or "
                        "infinite, up to n batches in a row; one more stops training as "
                        "diverged (0: the first one stops it)")
               .def(std::int64_t{0})
               .at_least(0)
               .at_most(1e6),
           opt::boolean("rollback_nonfinite",
                        "with skip_nonfinite, also undo the optimizer step before the first "
                        "non-finite batch in a row (the update that led there; within an epoch)")
               .def(false),
           opt::integer("shift_pixels",
                        "augmentation: translate each training image by up to k pixels per "
                        "direction (uniform, redrawn every epoch, keyed by seed, epoch and item; "
                        "zero fill; validation and test are never shifted; 0: off)")
               .def(std::int64_t{0})
               .at_least(0)
               .at_most(1e4),
           opt::real("log_every_seconds", "progress line cadence (0: every batch)")
               .def(10.0)
               .at_least(0),
           opt::integer("max_items", "use only the first n training items (0: all)")
               .def(std::int64_t{0})
               .at_least(0)
               .at_most(1e9),
       }},
      {"evaluate",
       {
           opt::string("split", "items to evaluate on").def("test").one_of({"train", "test"}),
           opt::integer("max_items", "evaluate only the first n items (0: all)")
               .def(std::int64_t{0})
               .at_least(0)
               .at_most(1e9),
           opt::integer("horizon", "also classify at this multiple of T (1: only at T)")
               .def(std::int64_t{10})
               .at_least(1)
               .at_most(1e4),
           opt::real("tolerance", "relative L2 distance that counts as at an attractor")
               .def(0.05)
               .positive(),
           opt::string("criterion",
                       "how a final state gets its class, in evaluation and validation: overlap "
                       "with the planted readouts (the paper's), cosine (overlap over the "
                       "pattern's norm: for nested or unequal patterns) or nearest planted state")
               .def("overlap")
               .one_of({"overlap", "cosine", "nearest"}),
           opt::integer("batch_size", "items integrated at once")
               .def(std::int64_t{1000})
               .at_least(1)
               .at_most(1e7),
           opt::integer("draws",
                        "noise realisations per item (stochastic models): accuracy over all "
                        "draws and by majority vote")
               .def(std::int64_t{1})
               .at_least(1)
               .at_most(1e5),
           opt::real_list("attack_p",
                          "strengths p at which the [attack] plugin corrupts the evaluated "
                          "inputs (empty: no attack curve)")
               .def(std::vector<double>{})
               .at_least(0.0),
           opt::integer("attack_repeats", "independent corruptions of each item per p")
               .def(std::int64_t{1})
               .at_least(1)
               .at_most(1e5),
           opt::real("stability_perturbation",
                     "relative size of the kick in the empirical "
                     "stability check")
               .def(0.05)
               .positive(),
       }},
      {"latent", latent_options()},
  };
  return tables;
}

const std::vector<std::pair<std::string, PluginKind>>& plugin_roles() {
  static const std::vector<std::pair<std::string, PluginKind>> roles = {
      {"model", PluginKind::model},
      {"noise", PluginKind::noise},
      {"loss", PluginKind::loss},
      {"dataset", PluginKind::dataset},
      {"attack", PluginKind::attack}};
  return roles;
}

const PluginChoice* Wiring::plugin(const std::string& table) const {
  auto it = plugins.find(table);
  return it == plugins.end() ? nullptr : &it->second;
}

toml::table Wiring::resolved() const {
  toml::table t;
  auto sc = to_toml(scenario_table);
  sc.insert_or_assign("name", name);
  sc.insert_or_assign("dynsim_version", std::string(kDynsimVersion));
  t.insert("scenario", std::move(sc));
  // Plugin folders become absolute: the resolved file lives in the run folder, where a path
  // relative to the original scenario would point elsewhere.
  toml::table plugins_t = to_toml(plugins_table);
  toml::array paths;
  for (const auto& p : plugins_table.string_list("paths")) {
    const fs::path d(p);
    paths.push_back(
        fs::absolute(d.is_absolute() ? d : scenario.dir() / d).lexically_normal().string());
  }
  plugins_t.insert_or_assign("paths", std::move(paths));
  t.insert("plugins", std::move(plugins_t));
  for (const auto& [table, choice] : plugins) {
    auto pt = to_toml(choice.options);
    pt.insert("plugin", choice.record->name);
    pt.insert("version", choice.record->version);
    t.insert(table, std::move(pt));
  }
  auto integ = to_toml(integrator_table);
  // Exactly one of t_end and steps was given; the resolved file keeps that one so it reruns.
  integ.erase(integrator_table.integer("steps") == 0 ? "steps" : "t_end");
  t.insert("integrator", std::move(integ));
  if (latent) t.insert("latent", to_toml(latent_table));
  // Only the job's own tables, so the resolved file reruns the same job.
  if (training) {
    t.insert("train", to_toml(train_table));
    t.insert("evaluate", to_toml(evaluate_table));
  } else {
    t.insert("simulate", to_toml(simulate_table));
  }
  return t;
}

namespace {

const OptionSpecs& specs_of(const std::string& table) {
  for (const auto& [name, specs] : host_tables())
    if (name == table) return specs;
  throw std::logic_error("no host table " + table);
}

}  // namespace

Wiring wire(const fs::path& file, const std::vector<std::string>& sets, Registry& registry) {
  Wiring w;
  w.scenario = Scenario::load(file, sets);
  const Scenario& sc = w.scenario;

  std::set<std::string> known;
  for (const auto& [name, specs] : host_tables()) known.insert(name);
  for (const auto& [name, kind] : plugin_roles()) known.insert(name);
  known.insert("sweep");  // checked and run by the sweep driver (jobs/sweep.hpp)
  for (const auto& [k, node] : sc.root()) {
    const std::string key(k.str());
    if (!known.count(key)) {
      std::string list;
      for (const auto& n : known) list += (list.empty() ? "" : ", ") + n;
      throw InputError(Scenario::where(node) + ": unknown table '" + key + "'; known: " + list);
    }
    if (!node.is_table())
      throw InputError(Scenario::where(node) + ": '" + key + "' must be a table ([" + key + "])");
  }

  auto host = [&](const std::string& t) {
    return check_table(sc.table(t), specs_of(t), "[" + t + "]", sc.where_table(t));
  };
  w.scenario_table = host("scenario");
  w.plugins_table = host("plugins");
  w.integrator_table = host("integrator");
  w.simulate_table = host("simulate");
  w.train_table = host("train");
  w.evaluate_table = host("evaluate");
  w.training = sc.table("train") != nullptr;
  w.latent_table = host("latent");
  w.latent = sc.table("latent") != nullptr;
  if (w.training && sc.table("simulate"))
    throw InputError(sc.where_table("simulate") +
                     ": [simulate] and [train] are different jobs; a scenario has one of them");

  const Options& s = w.scenario_table;
  w.name = s.string("name").empty() ? file.stem().string() : s.string("name");
  const std::string& prec = s.string("precision");
  w.precision = prec == "f32" ? Precision::f32 : prec == "bf16" ? Precision::bf16 : Precision::f64;
  w.seed = static_cast<std::uint64_t>(s.integer("seed"));
  const auto threads = s.integer("threads");
  w.threads = threads > 0 ? static_cast<int>(threads)
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  // Integrator: exactly one of t_end and steps; fixed-step runs must land on t_end.
  const Options& it = w.integrator_table;
  IntegratorConfig& ic = w.integrator;
  ic.method = parse_method(it.string("method"));
  ic.dt = it.real("dt");
  ic.t0 = it.real("t0");
  ic.rtol = it.real("rtol");
  ic.atol = it.real("atol");
  ic.max_steps = it.integer("max_steps");
  ic.save_every = it.integer("save_every");
  const bool has_t_end = it.where("t_end") != "default", has_steps = it.integer("steps") > 0;
  if (has_t_end == has_steps)
    throw InputError(sc.where_table("integrator") +
                     ": [integrator]: give exactly one of 't_end' and 'steps' (steps > 0)");
  if (has_steps) {
    if (ic.method == Method::dopri5)
      it.fail("steps", "dopri5 chooses its own steps; give t_end instead");
    ic.t_end = ic.t0 + static_cast<double>(it.integer("steps")) * ic.dt;
  } else {
    ic.t_end = it.real("t_end");
    if (!(ic.t_end > ic.t0)) it.fail("t_end", "must be greater than t0");
    if (ic.method != Method::dopri5) {
      const double n = (ic.t_end - ic.t0) / ic.dt;
      if (std::abs(n - std::round(n)) > 1e-9 * std::max(1.0, n))
        it.fail("t_end", "t_end - t0 must be a whole number of steps dt for fixed-step methods");
    }
  }

  // Plugins: search path first, then each role table.
  for (const auto& p : w.plugins_table.string_list("paths")) {
    fs::path d(p);
    w.plugin_dirs.push_back(d.is_absolute() ? d : sc.dir() / d);
  }
  w.plugin_dirs = Registry::search_path(w.plugin_dirs);
  registry.load_directories(w.plugin_dirs);

  for (const auto& [table, kind] : plugin_roles()) {
    const toml::table* t = sc.table(table);
    if (!t) continue;
    const auto* pname = t->get("plugin");
    if (!pname)
      throw InputError(sc.where_table(table) + ": [" + table +
                       "]: missing key 'plugin' (the name of a " + kind_name(kind) + " plugin)");
    if (!pname->is_string())
      throw InputError(Scenario::where(*pname) + ": [" + table +
                       "]: key 'plugin' must be a string");
    const std::string name = pname->value<std::string>().value();
    const PluginRecord* rec;
    try {
      rec = &registry.find(kind, name);
    } catch (const InputError& e) {
      throw InputError(Scenario::where(*pname) + ": [" + table + "]: " + e.what());
    }
    std::string requested;
    if (const auto* v = t->get("version")) {
      if (!v->is_string())
        throw InputError(Scenario::where(*v) + ": [" + table + "]: key 'version' must be a string");
      // A different version is allowed (the CLI warns) so that old resolved scenarios still run.
      requested = v->value<std::string>().value();
    }
    const std::string owner = "[" + table + "] plugin '" + name + "'";
    PluginChoice choice{rec,
                        check_table(t, rec->factory->options(), owner, sc.where_table(table),
                                    {"plugin", "version"}),
                        table, requested};
    w.plugins.emplace(table, std::move(choice));
  }
  if (!w.plugin("model"))
    throw InputError(file.string() + ": missing table [model] (every scenario needs a model)");
  if (const PluginRecord* m = w.plugin("model")->record; !m->factory->supports(w.precision))
    s.fail("precision", "the model plugin '" + m->name + "' (" + m->file.string() +
                            ") has no bf16 path; use f32 or f64");
  if (w.precision == Precision::bf16 && !blas::bf16_available())
    s.fail("precision",
           "this CPU has no bf16 matrix product in oneDNN (it needs AVX-512 BF16 or AMX); use f32");
  if (ic.method == Method::euler_maruyama && !w.plugin("noise"))
    it.fail("method", "euler_maruyama needs a [noise] table");
  return w;
}

}  // namespace dynsim
