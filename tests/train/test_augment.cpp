// Training-time pixel shifts (train.shift_pixels): the image moves by exactly the drawn
// (dy, dx) with a zero fill, and the draws are uniform on {-k, ..., k}, cover every value and
// depend on the seed, epoch and item id alone.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>
#include <vector>

#include "train/augment.hpp"

using namespace dynsim;

TEST_CASE("shift_image moves a row-major image and fills with zeros", "[augment]") {
  // 3 rows x 4 columns holding 1..12.
  std::vector<float> src(12), dst(12, -1.0f);
  for (int i = 0; i < 12; ++i) src[static_cast<std::size_t>(i)] = float(i + 1);
  SECTION("no shift copies") {
    shift_image(src.data(), dst.data(), 3, 4, {0, 0});
    CHECK(dst == src);
  }
  SECTION("one row down and two columns left") {
    shift_image(src.data(), dst.data(), 3, 4, {1, -2});
    const std::vector<float> want = {0, 0, 0, 0,  //
                                     3, 4, 0, 0,  //
                                     7, 8, 0, 0};
    CHECK(dst == want);
  }
  SECTION("one row up and one column right") {
    shift_image(src.data(), dst.data(), 3, 4, {-1, 1});
    const std::vector<float> want = {0, 5, 6,  7,   //
                                     0, 9, 10, 11,  //
                                     0, 0, 0,  0};
    CHECK(dst == want);
  }
  SECTION("a shift past the frame leaves only background") {
    shift_image(src.data(), dst.data(), 3, 4, {0, 4});
    CHECK(dst == std::vector<float>(12, 0.0f));
  }
}

TEST_CASE("pixel shifts are uniform on -k to k and keyed by seed and epoch and item", "[augment]") {
  const Random rng(7, Stream::augment);
  CHECK(pixel_shift(rng, 1, 5, 0).dy == 0);
  CHECK(pixel_shift(rng, 1, 5, 0).dx == 0);
  const int k = 2, n = 20000;
  std::map<int, int> dy, dx;
  int moved_with_epoch = 0, equal_axes = 0;
  for (int id = 0; id < n; ++id) {
    const PixelShift s = pixel_shift(rng, 3, static_cast<std::uint64_t>(id), k);
    ++dy[s.dy];
    ++dx[s.dx];
    equal_axes += s.dy == s.dx;
    const PixelShift again = pixel_shift(rng, 3, static_cast<std::uint64_t>(id), k);
    REQUIRE((again.dy == s.dy && again.dx == s.dx));
    const PixelShift next = pixel_shift(rng, 4, static_cast<std::uint64_t>(id), k);
    moved_with_epoch += next.dy != s.dy || next.dx != s.dx;
  }
  // Exactly the 2k + 1 values on each axis, each near n / (2k + 1) = 4000 (std about 57).
  REQUIRE(dy.size() == 2 * k + 1);
  REQUIRE(dx.size() == 2 * k + 1);
  for (int v = -k; v <= k; ++v) {
    INFO("value " << v);
    CHECK(std::abs(dy[v] - n / (2 * k + 1)) < 300);
    CHECK(std::abs(dx[v] - n / (2 * k + 1)) < 300);
  }
  // The axes are drawn independently (equal on about 1/5 of items), and a new epoch redraws
  // (the same pair again on about 1/25).
  CHECK(std::abs(equal_axes - n / 5) < 300);
  CHECK(std::abs(moved_with_epoch - n * 24 / 25) < 300);
  // Another seed gives other shifts.
  const Random other(8, Stream::augment);
  int differ = 0;
  for (int id = 0; id < 100; ++id)
    differ += pixel_shift(other, 3, static_cast<std::uint64_t>(id), k).dy !=
              pixel_shift(rng, 3, static_cast<std::uint64_t>(id), k).dy;
  CHECK(differ > 50);
}
