// Training-time augmentation of image items: each epoch, every training image is translated by
// a whole number of pixels in each direction, drawn from Random(seed, Stream::augment) keyed by
// (epoch, item id). The draw depends on nothing else, so the shifted batches are the same for
// any batch split, thread count, rank count or resume point. Validation and test items are
// never shifted.
#pragma once

#include <dynsim/sdk/random.hpp>
#include <dynsim/sdk/types.hpp>

namespace dynsim {

struct PixelShift {
  int dy = 0, dx = 0;  // rows down, columns right
};

// The shift of one item in one (1-based) epoch: dy and dx each uniform on {-k, ..., k}.
PixelShift pixel_shift(const Random& rng, std::uint32_t epoch, std::uint64_t id, int k);

// dst = src (a rows x cols image stored row by row in one column) moved by `s`; the pixels that
// come in from outside the frame are 0, the background of the image datasets. No allocation.
template <class S>
void shift_image(const S* src, S* dst, int rows, int cols, PixelShift s) {
  for (int r = 0; r < rows; ++r) {
    const int from = r - s.dy;
    S* out = dst + static_cast<Index>(r) * cols;
    if (from < 0 || from >= rows) {
      for (int c = 0; c < cols; ++c) out[c] = S(0);
      continue;
    }
    const S* in = src + static_cast<Index>(from) * cols;
    for (int c = 0; c < cols; ++c) {
      const int fc = c - s.dx;
      out[c] = fc >= 0 && fc < cols ? in[fc] : S(0);
    }
  }
}

}  // namespace dynsim
