#include "run/npy.hpp"

#include <string>
#include <type_traits>

#include "run/atomic_file.hpp"

namespace dynsim {

template <class T>
void write_npy(const std::filesystem::path& file, const T* data,
               const std::vector<std::int64_t>& shape) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  std::string dict = std::string("{'descr': '<f") + (sizeof(T) == 4 ? "4" : "8") +
                     "', 'fortran_order': False, 'shape': (";
  std::int64_t count = 1;
  for (auto d : shape) {
    dict += std::to_string(d) + ",";
    count *= d;
  }
  if (shape.size() > 1) dict.pop_back();
  dict += "), }";
  // Header length (magic + version + len + dict + '\n') is padded to a multiple of 64.
  const std::size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  AtomicFile f(file, true);
  auto& o = f.stream();
  o.write("\x93NUMPY\x01\x00", 8);
  const auto len = static_cast<std::uint16_t>(dict.size());
  const char le[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  o.write(le, 2);
  o.write(dict.data(), static_cast<std::streamsize>(dict.size()));
  o.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(count * sizeof(T)));
  f.commit();
}

template void write_npy<float>(const std::filesystem::path&, const float*,
                               const std::vector<std::int64_t>&);
template void write_npy<double>(const std::filesystem::path&, const double*,
                                const std::vector<std::int64_t>&);

}  // namespace dynsim

#include <cctype>
#include <fstream>

#include "common/errors.hpp"

namespace dynsim {

template <class S>
void write_matrix_npy(const std::filesystem::path& file, const Matrix<S>& m) {
  const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> r = m;
  write_npy(file, r.data(), {m.rows(), m.cols()});
}

template <class S>
Matrix<S> read_matrix_npy(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(file.string() + ": cannot open");
  char magic[10];
  in.read(magic, 10);
  if (!in || std::string(magic, 6) != "\x93NUMPY" || magic[6] != 1)
    throw InputError(file.string() + ": not a version 1 .npy file");
  const std::size_t hlen = static_cast<unsigned char>(magic[8]) |
                           (static_cast<std::size_t>(static_cast<unsigned char>(magic[9])) << 8);
  std::string header(hlen, ' ');
  in.read(header.data(), static_cast<std::streamsize>(hlen));
  if (!in) throw InputError(file.string() + ": truncated header");
  // A hand-written reader of the three keys: std::regex recurses once per character it matches
  // and overflowed the stack on a 64 kB header of spaces (found by tests/fuzz, fuzz_npy).
  const auto spaces = [&](std::size_t& at) {
    while (at < header.size() && header[at] == ' ') ++at;
  };
  const auto value_of = [&](const std::string& key) -> std::size_t {
    std::size_t at = header.find("'" + key + "':");
    if (at == std::string::npos) return at;
    at += key.size() + 3;
    spaces(at);
    return at;
  };
  const auto digits = [&](std::size_t& at) {
    const std::size_t from = at;
    while (at < header.size() && std::isdigit(static_cast<unsigned char>(header[at]))) ++at;
    return header.substr(from, at - from);
  };
  const std::size_t descr = value_of("descr"), order = value_of("fortran_order");
  std::size_t at = value_of("shape");
  std::string rows_text, cols_text;
  bool shape_ok = at != std::string::npos && at < header.size() && header[at] == '(';
  if (shape_ok) {
    ++at;
    spaces(at);
    rows_text = digits(at);
    spaces(at);
    if (at < header.size() && header[at] == ',') {
      ++at;
      spaces(at);
      cols_text = digits(at);
      spaces(at);
    } else if (!rows_text.empty()) {
      shape_ok = false;  // (n) is not a tuple
    }
    shape_ok = shape_ok && !rows_text.empty() && at < header.size() && header[at] == ')';
  }
  const bool f4 = descr != std::string::npos && header.compare(descr, 5, "'<f4'") == 0;
  const bool f8 = descr != std::string::npos && header.compare(descr, 5, "'<f8'") == 0;
  if (!(f4 || f8) || order == std::string::npos || header.compare(order, 5, "False") != 0 ||
      !shape_ok)
    throw InputError(file.string() +
                     ": expected a C-order float32/float64 array of 1 or 2 "
                     "dimensions; header: " +
                     (header.size() > 160 ? header.substr(0, 160) + "..." : header));
  // The shape is checked against the file's size before anything is allocated: a corrupt or
  // hostile header can neither overflow the product nor ask for more memory than the file holds.
  const std::size_t width = f4 ? 4 : 8;
  std::error_code ec;
  const auto file_size = std::filesystem::file_size(file, ec);
  const std::size_t data_bytes =
      ec || file_size < 10 + hlen ? 0 : static_cast<std::size_t>(file_size) - 10 - hlen;
  auto dimension = [&](const std::string& text) -> Index {
    if (text.size() > 15)  // beyond any file: 10^15 values
      throw InputError(file.string() + ": implausible dimension " + text + " in the header");
    return static_cast<Index>(std::stoll(text));
  };
  const Index rows = dimension(rows_text), cols = cols_text.empty() ? 1 : dimension(cols_text);
  if (rows > 0 &&
      static_cast<std::size_t>(cols) > data_bytes / width / static_cast<std::size_t>(rows) + 1)
    throw InputError(file.string() + ": the header's shape (" + std::to_string(rows) + ", " +
                     std::to_string(cols) + ") needs more data than the file's " +
                     std::to_string(data_bytes) + " bytes");
  const std::size_t count = static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols);
  if (count * width != data_bytes)
    throw InputError(file.string() + ": the header's shape (" + std::to_string(rows) + ", " +
                     std::to_string(cols) + ") needs " + std::to_string(count * width) +
                     " data bytes, the file has " + std::to_string(data_bytes));
  Matrix<S> m(rows, cols);
  auto fill = [&](auto tag) {
    using T = decltype(tag);
    std::vector<T> buf(count);
    in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(count * sizeof(T)));
    if (!in) throw InputError(file.string() + ": truncated data");
    for (Index i = 0; i < rows; ++i)
      for (Index j = 0; j < cols; ++j)
        m(i, j) = static_cast<S>(buf[static_cast<std::size_t>(i * cols + j)]);
  };
  if (f4)
    fill(float{});
  else
    fill(double{});
  return m;
}

template void write_matrix_npy<float>(const std::filesystem::path&, const Matrix<float>&);
template void write_matrix_npy<double>(const std::filesystem::path&, const Matrix<double>&);
template Matrix<float> read_matrix_npy<float>(const std::filesystem::path&);
template Matrix<double> read_matrix_npy<double>(const std::filesystem::path&);

}  // namespace dynsim
