#include "jobs/instances.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "common/errors.hpp"
#include "common/version.hpp"
#include "latent/latent_model.hpp"
#include "train/adjoint.hpp"

namespace dynsim {

std::string data_dir() {
  if (const char* d = std::getenv("DYNSIM_DATA_DIR")) return d;
  return std::string(kSourceDir) + "/data";
}

namespace {

double physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? double(pages) * double(page) : 0;
}

std::string gigabytes(double bytes) {
  std::ostringstream o;
  o.precision(bytes < 1e10 ? 2 : 3);
  o << bytes / 1e9 << " GB";
  return o.str();
}

// The big allocations a run will make, from the scenario alone, against the machine's memory:
// refused before anything is allocated (a typo of a few digits would otherwise end in
// std::bad_alloc, or in swapping, hours in). Sizes in double: no product can overflow.
template <class S>
void check_memory(const Wiring& w, const Model<S>& model) {
  const double have = physical_memory_bytes();
  if (have <= 0) return;
  const double n = double(model.dim()), scalar = double(sizeof(S));
  auto refuse = [&](const Options& table, const std::string& key, double need,
                    const std::string& what) {
    if (need > 0.9 * have)
      table.fail(key, "this run needs ~" + gigabytes(need) + " for " + what + "; the machine has " +
                          gigabytes(have));
  };
  const IntegratorConfig& ic = w.integrator;
  const bool fixed = ic.method != Method::dopri5;
  if (w.training && fixed) {
    // The adjoint keeps a state every k steps and one segment of k (train/adjoint.hpp), per
    // batch, with k as the trainer chooses it.
    const std::int64_t steps = ic.fixed_steps(), b = w.train_table.integer("batch_size");
    std::int64_t k = w.train_table.integer("checkpoint_every");
    if (k == 0) k = auto_checkpoint_every(steps, model.dim(), b, sizeof(S));
    k = std::clamp<std::int64_t>(k, 1, std::max<std::int64_t>(steps, 1));
    const double states = std::ceil(double(steps) / double(k)) + double(k) + 8;
    refuse(w.train_table, "batch_size", states * n * double(b) * scalar,
           "the adjoint's stored states of one batch (" + std::to_string(steps) +
               " steps, a checkpoint every " + std::to_string(k) + ")");
  }
  refuse(w.evaluate_table, "batch_size",
         8 * n * double(w.evaluate_table.integer("batch_size")) * scalar,
         "the states of one evaluation batch");
  if (!w.training && fixed && w.simulate_table.boolean("save_trajectory")) {
    const double saves = double(ic.fixed_steps() / ic.save_every + 2);
    const double items = w.simulate_table.real_matrix("x0").empty()
                             ? double(w.simulate_table.integer("items"))
                             : double(w.simulate_table.real_matrix("x0").size());
    // Kept in memory, then written as .npy and as CSV text.
    refuse(w.integrator_table, "save_every",
           saves * n * items * double(w.simulate_table.integer("paths")) * scalar,
           "the stored trajectory");
  }
}

}  // namespace

template <class S>
Instances<S> instantiate(const Wiring& w, LogSink sink, const std::string& data) {
  Instances<S> in;
  // The dataset comes first so the model can default its dimension and classes to the data's.
  std::vector<std::pair<std::string, PluginKind>> order = {{"dataset", PluginKind::dataset}};
  for (const auto& role : plugin_roles())
    if (role.second != PluginKind::dataset) order.push_back(role);
  for (const auto& [table, kind] : order) {
    const PluginChoice* c = w.plugin(table);
    if (!c) continue;
    Context ctx{Logger(sink, c->record->name), w.seed, w.threads, data, w.scenario.dir().string()};
    ctx.integrator = method_name(w.integrator.method);
    if (w.integrator.method != Method::dopri5) ctx.dt = w.integrator.dt;
    if (in.dataset) {
      ctx.data_dim = static_cast<long>(in.dataset->dim());
      ctx.data_classes = in.dataset->classes();
      // A latent model's state is the latent space, whatever the items' dimension.
      if (kind == PluginKind::model && w.latent)
        ctx.data_dim = static_cast<long>(w.latent_table.integer("dim"));
    }
    std::unique_ptr<PluginObject> obj;
    try {
      // bf16 is the float instantiation; the factory tells the model through Context::bf16.
      obj = c->record->factory->create(std::is_same_v<S, float> && w.precision == Precision::bf16
                                           ? Precision::bf16
                                           : precision_of<S>(),
                                       c->options, ctx);
    } catch (const InputError&) {
      throw;
    } catch (const std::bad_alloc&) {
      throw InputError("[" + table + "] plugin '" + c->record->name + "' (" +
                       c->record->file.string() +
                       ") ran out of memory while initialising: its options ask for more than "
                       "the machine's " +
                       gigabytes(physical_memory_bytes()));
    } catch (const std::exception& e) {
      throw InputError("[" + table + "] plugin '" + c->record->name + "' (" +
                       c->record->file.string() + ") failed to initialise: " + e.what());
    }
    // The registry checked the kind, so the static downcast is safe.
    PluginObject* p = obj.get();
    switch (kind) {
      case PluginKind::model:
        in.model = static_cast<Model<S>*>(p);
        break;
      case PluginKind::noise:
        in.noise = static_cast<NoiseLaw<S>*>(p);
        break;
      case PluginKind::loss:
        in.loss = static_cast<Loss<S>*>(p);
        break;
      case PluginKind::dataset:
        in.dataset = static_cast<Dataset<S>*>(p);
        break;
      case PluginKind::attack:
        in.attack = static_cast<Attack<S>*>(p);
        break;
    }
    in.owned.push_back(std::move(obj));
  }
  if (w.latent) {
    if (!in.dataset)
      throw InputError(w.scenario.where_table("latent") +
                       ": [latent] needs a [dataset]: the encoder's input is an item");
    if (in.model->dim() != w.latent_table.integer("dim"))
      throw InputError(w.scenario.where_table("latent") +
                       ": [latent] dim = " + std::to_string(w.latent_table.integer("dim")) +
                       " but the model's state has " + std::to_string(in.model->dim()) +
                       " dimensions (set [model] n to match)");
    auto wrapped =
        std::make_unique<LatentModel<S>>(*in.model, in.dataset->dim(), w.latent_table, w.seed);
    in.model = wrapped.get();
    in.owned.push_back(std::move(wrapped));  // its destructor leaves the inner model alone
  }
  // A model's declared shapes, checked before anything runs (a wrong shape would otherwise
  // surface as a divergence or a crash far from its cause).
  if (const PluginChoice* mc = w.plugin("model"); mc && !w.latent) {
    const Model<S>& m = *in.model;
    const std::string who =
        "[model] plugin '" + mc->record->name + "' (" + mc->record->file.string() + "): ";
    const Matrix<S> att = m.attractors();
    if (att.size() > 0 && att.rows() != m.dim())
      throw InputError(who + "attractors() is " + std::to_string(att.rows()) + " x " +
                       std::to_string(att.cols()) +
                       " but must be dim() x K = " + std::to_string(m.dim()) +
                       " x K: one planted state (not its readout) "
                       "per column");
  }
  check_memory(w, *in.model);
  if (in.noise) in.noise->bind(*in.model);
  if (in.dataset && in.dataset->dim() != in.model->input_dim())
    throw InputError(w.scenario.where_table("dataset") + ": dataset items have dimension " +
                     std::to_string(in.dataset->dim()) +
                     " but the model takes inputs of dimension " +
                     std::to_string(in.model->input_dim()));
  return in;
}

LogSink log_sink(spdlog::logger& log) {
  // Plugins log through this C callback; spdlog stays in the host.
  return LogSink{[](void* state, int level, const char* source, const char* message) {
                   static_cast<spdlog::logger*>(state)->log(
                       static_cast<spdlog::level::level_enum>(std::clamp(level, 0, 4)), "[{}] {}",
                       source, message);
                 },
                 &log};
}

template Instances<float> instantiate<float>(const Wiring&, LogSink, const std::string&);
template Instances<double> instantiate<double>(const Wiring&, LogSink, const std::string&);

}  // namespace dynsim
