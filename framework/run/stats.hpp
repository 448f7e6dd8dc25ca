// Mean, sample standard deviation (n - 1), min and max of a list of figures: the summaries of
// `run --seeds` and of sweeps.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

namespace dynsim {

struct Stat {
  double mean = 0, sd = 0, min = 0, max = 0;
  std::size_t n = 0;
};

inline Stat stat_of(const std::vector<double>& v) {
  Stat s;
  s.n = v.size();
  if (v.empty()) return s;
  for (double x : v) s.mean += x / double(v.size());
  for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(s.sd / double(v.size() - 1)) : 0.0;
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  return s;
}

}  // namespace dynsim
