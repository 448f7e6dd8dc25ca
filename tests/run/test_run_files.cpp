// Run-folder files: written whole or not at all; .npy headers as NumPy reads them.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "common/errors.hpp"
#include "run/atomic_file.hpp"
#include "run/npy.hpp"
#include "support/helpers.hpp"

using namespace dynsim;
namespace fs = std::filesystem;

TEST_CASE("an atomic file appears only on commit", "[run]") {
  const fs::path target = test::temp_dir() + "/atomic.txt";
  {
    AtomicFile f(target);
    f.stream() << "half";
    CHECK_FALSE(fs::exists(target));
  }  // destroyed without commit: nothing left behind
  CHECK_FALSE(fs::exists(target));
  for (const auto& e : fs::directory_iterator(test::temp_dir()))
    CHECK(e.path().filename().string().find("atomic.txt.tmp") == std::string::npos);
  write_file_atomic(target, "whole\n");
  std::ifstream in(target);
  std::string s;
  std::getline(in, s);
  CHECK(s == "whole");
}

TEST_CASE("npy files carry a 64-byte aligned header with dtype and shape", "[run]") {
  const fs::path f = test::temp_dir() + "/a.npy";
  const std::vector<float> data = {1, 2, 3, 4, 5, 6};
  write_npy(f, data.data(), {2, 3});
  std::ifstream in(f, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  REQUIRE(bytes.substr(0, 6) == "\x93NUMPY");
  const std::size_t hlen =
      static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  CHECK((10 + hlen) % 64 == 0);
  const std::string header = bytes.substr(10, hlen);
  CHECK_THAT(header, Catch::Contains("'descr': '<f4'") && Catch::Contains("'shape': (2,3)"));
  CHECK(bytes.size() == 10 + hlen + 6 * sizeof(float));
  float last;
  std::memcpy(&last, bytes.data() + bytes.size() - 4, 4);
  CHECK(last == 6.0f);
}

TEST_CASE("a .npy header is checked against the file's size before allocating", "[run]") {
  const std::string dir = test::temp_dir();
  Matrix<double> m(2, 3);
  m << 1, 2, 3, 4, 5, 6;
  const std::string good = dir + "/good.npy";
  write_matrix_npy(good, m);
  std::string bytes;
  {
    std::ifstream in(good, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto with_shape = [&](const std::string& name, const std::string& shape) {
    std::string b = bytes;
    const auto at = b.find("(2,3)");
    REQUIRE(at != std::string::npos);
    REQUIRE(shape.size() == 5);  // the header keeps its length: the data stays where it was
    b.replace(at, 5, shape);
    const std::string p = dir + "/" + name;
    std::ofstream(p, std::ios::binary) << b;
    return p;
  };
  auto error = [](const std::string& p) {
    try {
      read_matrix_npy<double>(p);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  CHECK(read_matrix_npy<double>(good) == m);
  CHECK_THAT(error(with_shape("big.npy", "(9,9)")), Catch::Contains("needs more data than"));
  CHECK_THAT(error(with_shape("small.npy", "(1,3)")), Catch::Contains("the file has 48"));
  // 10^16 rows: more digits than any file could back; a std::stol would throw out_of_range.
  std::string b = bytes;
  b.replace(b.find("(2,3)"), 5, "(9999999999999999999999,3)");
  const std::string huge = dir + "/huge.npy";
  std::ofstream(huge, std::ios::binary) << b;
  CHECK_THAT(error(huge), Catch::Contains("huge.npy"));
  // A 64 kB header of spaces between a key and its value (fuzz_npy's first finding: std::regex
  // overflowed the stack on it), and a header shorter than it says.
  std::string spaced("\x93NUMPY\x01\x00\xff\xff", 10);
  spaced.append("{'descr':");
  spaced.append(65000, ' ');
  spaced.append("'<f8', 'fortran_order': False, 'shape': (1,), }");
  spaced.resize(10 + 65535, ' ');
  spaced += std::string(8, '\0');
  std::ofstream(dir + "/spaced.npy", std::ios::binary) << spaced;
  CHECK(read_matrix_npy<double>(dir + "/spaced.npy") == Matrix<double>::Zero(1, 1));
  std::ofstream(dir + "/short.npy", std::ios::binary) << spaced.substr(0, 400);
  CHECK_THAT(error(dir + "/short.npy"), Catch::Contains("truncated header"));
}
