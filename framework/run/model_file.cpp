#include "run/model_file.hpp"

#include <fstream>
#include <sstream>

#include "common/errors.hpp"
#include "common/version.hpp"
#include "run/atomic_file.hpp"
#include "run/npy.hpp"

namespace dynsim {
namespace fs = std::filesystem;

std::uint64_t file_checksum(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::uint64_t h = 1469598103934665603ull;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      h ^= static_cast<unsigned char>(buf[i]);
      h *= 1099511628211ull;
    }
    if (!in) break;
  }
  return h;
}

namespace {
std::string hex(std::uint64_t v) {
  std::ostringstream s;
  s << std::hex << v;
  return s.str();
}
}  // namespace

template <class S>
void save_arrays(const fs::path& target, const std::string& manifest,
                 const std::vector<std::pair<std::string, Matrix<S>>>& arrays,
                 const nlohmann::json& extra) {
  // Staged beside the target and swapped in whole: a crash leaves the old folder or the new one.
  fs::path dir = target;
  dir += ".staged";
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) throw RunError("cannot create " + dir.string() + ": " + ec.message());
  try {
    nlohmann::json blocks = nlohmann::json::array();
    for (const auto& [name, m] : arrays) {
      const std::string file = name + ".npy";
      write_matrix_npy(dir / file, m);
      blocks.push_back({{"name", name},
                        {"rows", m.rows()},
                        {"cols", m.cols()},
                        {"file", file},
                        {"fnv1a64", hex(file_checksum(dir / file))}});
    }
    nlohmann::json j = extra;
    j["arrays"] = blocks;
    j["dynsim_version"] = kDynsimVersion;
    // The manifest is written last: its presence means every block is complete.
    write_file_atomic(dir / manifest, j.dump(2) + "\n");
    replace_directory(dir, target);
  } catch (...) {
    fs::remove_all(dir, ec);  // a half-written stage frees its space; the target is untouched
    throw;
  }
}

template <class S>
std::vector<std::pair<std::string, Matrix<S>>> load_arrays(const fs::path& dir,
                                                           const std::string& manifest,
                                                           nlohmann::json* extra) {
  complete_directory(dir);  // after a crash inside replace_directory's fallback
  std::ifstream in(dir / manifest);
  if (!in) throw InputError((dir / manifest).string() + ": not found");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const std::exception& e) {
    throw InputError((dir / manifest).string() + ": " + e.what());
  }
  std::vector<std::pair<std::string, Matrix<S>>> out;
  // The manifest is user-reachable input (a copied or hand-edited run folder): a missing key or a
  // value of the wrong type is an input error naming the file, never nlohmann's exception text.
  const auto manifest_error = [&](const std::string& why) {
    return InputError((dir / manifest).string() + ": " + why);
  };
  const auto text = [&](const nlohmann::json& b, const char* key) {
    const auto it = b.find(key);
    if (it == b.end() || !it->is_string())
      throw manifest_error(std::string("each entry of 'arrays' needs a string '") + key + "'");
    return it->template get<std::string>();
  };
  if (!j.is_object() || !j.contains("arrays") || !j["arrays"].is_array())
    throw manifest_error("not a dynsim manifest (no list 'arrays')");
  for (const auto& b : j["arrays"]) {
    if (!b.is_object()) throw manifest_error("each entry of 'arrays' must be an object");
    const std::string name = text(b, "file");
    // A plain file name inside the folder: a manifest cannot send the reader elsewhere.
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
      throw manifest_error("array file '" + name + "' is not a file name in the folder");
    const fs::path file = dir / name;
    if (hex(file_checksum(file)) != text(b, "fnv1a64"))
      throw InputError(file.string() + ": checksum mismatch (file changed or corrupted)");
    out.emplace_back(text(b, "name"), read_matrix_npy<S>(file));
  }
  if (extra) *extra = j;
  return out;
}

template <class S>
void save_model(const fs::path& dir, Model<S>& model, const Wiring& w,
                const nlohmann::json& extra) {
  std::vector<std::pair<std::string, Matrix<S>>> arrays;
  for (const auto& p : model.parameters()) arrays.emplace_back(p.name, p.map());
  nlohmann::json j = extra;
  j["format"] = "dynsim-model/1";
  const PluginChoice* m = w.plugin("model");
  j["plugin"] = m->record->name;
  j["plugin_version"] = m->record->version;
  j["precision"] = precision_name(w.precision);
  std::ostringstream scenario;
  scenario << toml::toml_formatter(w.resolved());
  j["scenario"] = scenario.str();
  save_arrays(dir, "model.json", arrays, j);
}

template <class S>
nlohmann::json load_model(const fs::path& dir, Model<S>& model) {
  nlohmann::json j;
  const auto arrays = load_arrays<S>(dir, "model.json", &j);
  auto params = model.parameters();
  if (arrays.size() != params.size())
    throw InputError((dir / "model.json").string() + ": " + std::to_string(arrays.size()) +
                     " parameter blocks, the model has " + std::to_string(params.size()));
  for (std::size_t i = 0; i < params.size(); ++i) {
    const auto& [name, m] = arrays[i];
    if (name != params[i].name || m.rows() != params[i].rows || m.cols() != params[i].cols)
      throw InputError(
          (dir / "model.json").string() + ": block '" + name + "' (" + std::to_string(m.rows()) +
          " x " + std::to_string(m.cols()) + ") does not match the model's '" + params[i].name +
          "' (" + std::to_string(params[i].rows) + " x " + std::to_string(params[i].cols) + ")");
    params[i].map() = m;
  }
  model.parameters_changed();
  return j;
}

template void save_model<float>(const fs::path&, Model<float>&, const Wiring&,
                                const nlohmann::json&);
template void save_model<double>(const fs::path&, Model<double>&, const Wiring&,
                                 const nlohmann::json&);
template nlohmann::json load_model<float>(const fs::path&, Model<float>&);
template nlohmann::json load_model<double>(const fs::path&, Model<double>&);
template void save_arrays<float>(const fs::path&, const std::string&,
                                 const std::vector<std::pair<std::string, Matrix<float>>>&,
                                 const nlohmann::json&);
template void save_arrays<double>(const fs::path&, const std::string&,
                                  const std::vector<std::pair<std::string, Matrix<double>>>&,
                                  const nlohmann::json&);
template std::vector<std::pair<std::string, Matrix<float>>> load_arrays<float>(const fs::path&,
                                                                               const std::string&,
                                                                               nlohmann::json*);
template std::vector<std::pair<std::string, Matrix<double>>> load_arrays<double>(const fs::path&,
                                                                                 const std::string&,
                                                                                 nlohmann::json*);

}  // namespace dynsim
