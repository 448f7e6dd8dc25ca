#include "jobs/instances.hpp"

#include <cstdlib>

#include "common/errors.hpp"
#include "common/version.hpp"
#include "latent/latent_model.hpp"

namespace dynsim {

std::string data_dir() {
  if (const char* d = std::getenv("DYNSIM_DATA_DIR")) return d;
  return std::string(kSourceDir) + "/data";
}

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
  if (in.noise) in.noise->bind(*in.model);
  if (in.dataset && in.dataset->dim() != in.model->input_dim())
    throw InputError(w.scenario.where_table("dataset") + ": dataset items have dimension " +
                     std::to_string(in.dataset->dim()) +
                     " but the model takes inputs of dimension " +
                     std::to_string(in.model->input_dim()));
  return in;
}

template Instances<float> instantiate<float>(const Wiring&, LogSink, const std::string&);
template Instances<double> instantiate<double>(const Wiring&, LogSink, const std::string&);

}  // namespace dynsim
