#include "jobs/new_plugin.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <utility>
#include <vector>

#include "common/errors.hpp"
#include "jobs/plugin_templates.hpp"

namespace dynsim {
namespace fs = std::filesystem;

namespace {

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

// my_model -> MyModel
std::string class_name(const std::string& name) {
  std::string c;
  bool up = true;
  for (const char ch : name) {
    if (ch == '_') {
      up = true;
      continue;
    }
    c += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(ch))) : ch;
    up = false;
  }
  return c;
}

}  // namespace

int new_plugin(const std::string& kind, const std::string& name, const std::string& dir) {
  if (kind != "model")
    throw InputError("new-plugin: kind '" + kind +
                     "' has no skeleton; known: model (noise, loss, dataset and attack plugins: "
                     "see docs/sdk_guide.md and plugins/)");
  const bool valid = !name.empty() && std::islower(static_cast<unsigned char>(name[0])) &&
                     std::all_of(name.begin(), name.end(), [](char c) {
                       return std::islower(static_cast<unsigned char>(c)) ||
                              std::isdigit(static_cast<unsigned char>(c)) || c == '_';
                     });
  if (!valid)
    throw InputError("new-plugin: name '" + name +
                     "' must start with a lower-case letter and hold only a-z, 0-9 and _ (it "
                     "names the plugin, its file dynsim_" +
                     name + ".so and a C++ class)");
  const fs::path to = dir.empty() ? fs::path(name) : fs::path(dir);
  std::error_code ec;
  if (fs::exists(to, ec) && !fs::is_empty(to, ec))
    throw InputError("new-plugin: " + to.string() + " exists and is not empty");
  fs::create_directories(to, ec);
  if (ec) throw InputError("new-plugin: cannot create " + to.string() + ": " + ec.message());
  for (const auto& [file, text] : model_template()) {
    std::string out_name = file;
    if (out_name == "model.cpp") out_name = name + ".cpp";
    if (out_name == "model.toml") out_name = name + ".toml";
    if (out_name == "check_model.cpp") out_name = "check_" + name + ".cpp";
    const fs::path p = to / out_name;
    std::ofstream f(p);
    f << replace_all(replace_all(text, "@NAME@", name), "@CLASS@", class_name(name));
    f.close();
    if (!f) throw RunError("new-plugin: writing " + p.string() + " failed");
    std::cout << "wrote " << p.string() << "\n";
  }
  std::cout << "\nnext:\n  cd " << to.string()
            << "\n  cmake -S . -B build -DCMAKE_PREFIX_PATH=<dynsim install prefix>"
               "\n  cmake --build build"
               "\n  dynsim check-plugin "
            << name << ".toml      # derivatives against finite differences\n  dynsim run " << name
            << ".toml               # trains on the letters\n";
  return 0;
}

}  // namespace dynsim
