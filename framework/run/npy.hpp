// NumPy .npy writer (format 1.0), so arrays open in Python with numpy.load.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace dynsim {

// Writes `data` (row-major, C order) with the given shape, atomically.
template <class T>
void write_npy(const std::filesystem::path& file, const T* data,
               const std::vector<std::int64_t>& shape);

}  // namespace dynsim
