// Data-parallel gradients whose bits do not depend on the rank count. A batch is cut into a
// fixed number of shards (contiguous column blocks); ranks take contiguous blocks of shards;
// the shards' partial sums are added in a fixed binary tree over shard index, with
// point-to-point messages where a tree node's halves live on different ranks, and the total is
// broadcast from rank 0. Every addition is the same for any number of ranks, so the sum is too
// (MPI_Allreduce's order is unspecified, hence not used).
#pragma once

#include <dynsim/sdk/types.hpp>
#include <utility>
#include <vector>

#include "parallel/comm.hpp"

namespace dynsim::parallel {

// What one shard contributes: the model's accumulators and its share of the batch loss.
template <class S>
struct Partial {
  std::vector<Matrix<S>> acc;
  double loss = 0;
};

template <class S>
class ShardTree {
 public:
  ShardTree(const Comm& comm, int shards, const std::vector<std::pair<Index, Index>>& shapes)
      : comm_(comm), shards_(shards), owner_(static_cast<std::size_t>(shards)) {
    const int p = comm.size();
    for (int r = 0; r < p; ++r)
      for (int s = first(r); s < first(r + 1); ++s) owner_[static_cast<std::size_t>(s)] = r;
    lo_ = first(comm.rank());
    hi_ = first(comm.rank() + 1);
    auto make = [&] {
      Partial<S> q;
      for (const auto& [r, c] : shapes) q.acc.push_back(Matrix<S>::Zero(r, c));
      return q;
    };
    for (int s = lo_; s < hi_; ++s) mine_.push_back(make());
    for (int d = 0; (1 << d) <= 2 * shards; ++d) scratch_.push_back(make());
    total_ = make();
  }

  int shards() const { return shards_; }
  // This rank's shards: [first, last).
  int first_shard() const { return lo_; }
  int last_shard() const { return hi_; }
  // The partial this rank fills for shard s (first_shard() <= s < last_shard()).
  Partial<S>& partial(int s) { return mine_[static_cast<std::size_t>(s - lo_)]; }

  // The sum over every shard of the batch, identical on every rank.
  Partial<S>& sum() {
    if (lo_ < hi_) node(0, shards_, total_, 0);
    // The tree's root is the owner of shard 0 (rank 0 unless there are more ranks than shards).
    for (auto& m : total_.acc)
      comm_.broadcast(m.data(), static_cast<std::size_t>(m.size()) * sizeof(S), owner(0));
    comm_.broadcast(&total_.loss, sizeof(double), owner(0));
    return total_;
  }

 private:
  const Comm& comm_;
  int shards_, lo_ = 0, hi_ = 0;
  std::vector<int> owner_;
  std::vector<Partial<S>> mine_, scratch_;
  Partial<S> total_;

  int first(int rank) const {
    return static_cast<int>(static_cast<long long>(rank) * shards_ / comm_.size());
  }
  bool mine_in(int lo, int hi) const { return lo_ < hi && lo < hi_; }
  int owner(int s) const { return owner_[static_cast<std::size_t>(s)]; }

  static void add(Partial<S>& into, const Partial<S>& x) {
    for (std::size_t i = 0; i < into.acc.size(); ++i) into.acc[i] += x.acc[i];
    into.loss += x.loss;
  }
  void send(const Partial<S>& x, int to, int tag) const {
    for (const auto& m : x.acc)
      comm_.send(m.data(), static_cast<std::size_t>(m.size()) * sizeof(S), to, tag);
    comm_.send(&x.loss, sizeof(double), to, tag);
  }
  void recv(Partial<S>& x, int from, int tag) const {
    for (auto& m : x.acc)
      comm_.recv(m.data(), static_cast<std::size_t>(m.size()) * sizeof(S), from, tag);
    comm_.recv(&x.loss, sizeof(double), from, tag);
  }

  // The sum over shards [lo, hi) ends in `out` on owner(lo); every rank holding one of these
  // shards takes part.
  void node(int lo, int hi, Partial<S>& out, std::size_t depth) {
    if (hi - lo == 1) {
      const Partial<S>& leaf = partial(lo);
      for (std::size_t i = 0; i < out.acc.size(); ++i) out.acc[i] = leaf.acc[i];
      out.loss = leaf.loss;
      return;
    }
    const int mid = lo + (hi - lo) / 2;
    const int a = owner(lo), b = owner(mid), me = comm_.rank();
    const bool left = mine_in(lo, mid), right = mine_in(mid, hi);
    Partial<S>& r = left ? scratch_[depth] : out;
    if (left) node(lo, mid, out, depth + 1);
    if (right) node(mid, hi, r, depth + 1);
    if (a == b) {
      if (me == a) add(out, r);
    } else if (me == b) {
      send(r, a, mid);
    } else if (me == a) {
      recv(scratch_[depth], b, mid);
      add(out, scratch_[depth]);
    }
  }
};

}  // namespace dynsim::parallel
