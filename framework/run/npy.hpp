// NumPy .npy files (format 1.0), so arrays open in Python with numpy.load, and model files
// read back exactly.
#pragma once

#include <cstdint>
#include <dynsim/sdk/types.hpp>
#include <filesystem>
#include <vector>

namespace dynsim {

// Writes `data` (row-major, C order) with the given shape, atomically.
template <class T>
void write_npy(const std::filesystem::path& file, const T* data,
               const std::vector<std::int64_t>& shape);

// An Eigen matrix as a (rows, cols) array in C order.
template <class S>
void write_matrix_npy(const std::filesystem::path& file, const Matrix<S>& m);

// Reads a 2-D (or 1-D, as one column) little-endian f4/f8 array and converts it to S.
// InputError naming the file for anything else.
template <class S>
Matrix<S> read_matrix_npy(const std::filesystem::path& file);

}  // namespace dynsim
