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
