// Counter-based random numbers (Random123 Philox4x64-10).
//
// A draw is a pure function of (seed, stream; epoch, draw, item, step, index): no generator
// state advances, so the value an item gets never depends on batch size, batch order or the
// number of threads. Key = {seed, stream}; counter = {epoch << 32 | draw, item, step, index / 4};
// one Philox call yields four values, lane index % 4.
#pragma once

#include <Random123/philox.h>
#include <Random123/boxmuller.hpp>
#include <Random123/uniform.hpp>

#include <array>
#include <cstdint>

#include "dynsim/sdk/types.hpp"

namespace dynsim {

// Which part of a run a draw belongs to. Distinct streams never share a key.
enum class Stream : std::uint64_t {
  noise = 1,    // Euler-Maruyama increments
  init = 2,     // parameter initialisation
  data = 3,     // dataset generation
  shuffle = 4,  // minibatch order and splits
  attack = 5,   // input corruption
  perturb = 6,  // stability probes
  sample = 7,   // generation: latent samples
  augment = 8,  // training-time shifts of image items
  user = 1000   // first id free for plugins' own streams
};

// A plugin's k-th own stream: Stream::user + k (Stream is an enum class, so no arithmetic on it).
constexpr Stream user_stream(std::uint64_t k) {
  return static_cast<Stream>(static_cast<std::uint64_t>(Stream::user) + k);
}

struct Counter {
  std::uint32_t epoch = 0;  // training epoch (0 outside training)
  std::uint32_t draw = 0;   // repeat / noise realisation index
  std::uint64_t item = 0;   // dataset item id
  std::uint64_t step = 0;   // integration step
};

class Random {
 public:
  Random(std::uint64_t seed, Stream stream) : Random(seed, static_cast<std::uint64_t>(stream)) {}
  Random(std::uint64_t seed, std::uint64_t stream) : key_{{seed, stream}} {}

  // Four raw 64-bit words: values 4*block .. 4*block+3 of the counter's sequence.
  std::array<std::uint64_t, 4> raw(const Counter& c, std::uint64_t block) const {
    r123::Philox4x64::ctr_type ctr = {
        {(std::uint64_t(c.epoch) << 32) | c.draw, c.item, c.step, block}};
    const auto r = gen_(ctr, key_);
    return {r[0], r[1], r[2], r[3]};
  }

  // n standard normals (Box-Muller in double, then rounded to S).
  template <class S>
  void normals(const Counter& c, S* out, Index n) const {
    for (Index b = 0; 4 * b < n; ++b) {
      const auto r = raw(c, static_cast<std::uint64_t>(b));
      const r123::double2 p = r123::boxmuller(r[0], r[1]);
      const r123::double2 q = r123::boxmuller(r[2], r[3]);
      const double v[4] = {p.x, p.y, q.x, q.y};
      for (Index k = 0; k < 4 && 4 * b + k < n; ++k) out[4 * b + k] = static_cast<S>(v[k]);
    }
  }

  // n uniforms in (0, 1].
  template <class S>
  void uniforms(const Counter& c, S* out, Index n) const {
    for (Index b = 0; 4 * b < n; ++b) {
      const auto r = raw(c, static_cast<std::uint64_t>(b));
      for (Index k = 0; k < 4 && 4 * b + k < n; ++k)
        out[4 * b + k] = static_cast<S>(r123::u01<double>(r[k]));
    }
  }

  // The index-th uniform in (0, 1] of the counter's sequence.
  double uniform(const Counter& c, std::uint64_t index) const {
    return r123::u01<double>(raw(c, index / 4)[index % 4]);
  }

 private:
  r123::Philox4x64::key_type key_;
  r123::Philox4x64 gen_;
};

}  // namespace dynsim
