// Saved models: a folder of .npy parameter blocks plus model.json (format, plugin and dynsim
// versions, the resolved scenario, a checksum per block). Loading checks names, shapes and
// checksums, so a run is never evaluated with a silently corrupted or mismatched model.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>

#include "scenario/wiring.hpp"

namespace dynsim {

template <class S>
void save_model(const std::filesystem::path& dir, Model<S>& model, const Wiring& w,
                const nlohmann::json& extra = {});

// Loads parameters into the model (and calls parameters_changed). InputError on mismatch.
template <class S>
nlohmann::json load_model(const std::filesystem::path& dir, Model<S>& model);

// Named arrays (optimizer state) saved and loaded the same way.
template <class S>
void save_arrays(const std::filesystem::path& dir, const std::string& manifest,
                 const std::vector<std::pair<std::string, Matrix<S>>>& arrays,
                 const nlohmann::json& extra = {});
template <class S>
std::vector<std::pair<std::string, Matrix<S>>> load_arrays(const std::filesystem::path& dir,
                                                           const std::string& manifest,
                                                           nlohmann::json* extra = nullptr);

std::uint64_t file_checksum(const std::filesystem::path& file);  // FNV-1a 64

}  // namespace dynsim
