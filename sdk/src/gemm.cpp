// Single-precision products through oneDNN's matmul (AVX-512 kernels on this class of CPU,
// where Debian's OpenBLAS runs its AVX2 ones), or through OpenBLAS. A shared library, so that the
// host and every plugin see one backend switch and one cache of primitives.
#include "dynsim/sdk/blas.hpp"

#include <omp.h>
#include <dnnl.hpp>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

namespace dynsim::blas {

namespace {

Backend initial_backend() {
  // DYNSIM_GEMM=openblas|onednn overrides the default for programs that never set it.
  if (const char* v = std::getenv("DYNSIM_GEMM"))
    return std::strcmp(v, "openblas") == 0 ? Backend::openblas : Backend::onednn;
  return Backend::onednn;
}

std::atomic<Backend> g_backend{initial_backend()};

// One product shape and its operands' layout: the primitive and the memory objects whose data
// handles are swapped per call, so a call allocates nothing once its shape has been seen.
struct Key {
  int m, n, k, lda, ldb, ldc;
  int ta, tb;   // ints, not bools: no padding, so the bytes compare and hash as the fields
  int threads;  // a primitive is laid out for the thread count it was made under
  int bf16;     // operands in bf16 (C stays f32)
  float alpha, beta;
  bool operator==(const Key& o) const { return std::memcmp(this, &o, sizeof(Key)) == 0; }
};
struct KeyHash {
  std::size_t operator()(const Key& k) const {
    std::size_t h = 1469598103934665603ull;
    const auto* p = reinterpret_cast<const unsigned char*>(&k);
    for (std::size_t i = 0; i < sizeof(Key); ++i) h = (h ^ p[i]) * 1099511628211ull;
    return h;
  }
};
struct Prepared {
  dnnl::matmul prim;
  dnnl::memory src, wei, dst;
  std::unordered_map<int, dnnl::memory> args;  // the same handles: built once, not per call
};

struct Engine {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  std::unordered_map<Key, Prepared, KeyHash> cache;
  std::mutex mutex;  // products are issued from one thread at a time; this guards the cache
};

Engine& engine() {
  static Engine e;
  return e;
}

// Column-major C (m x n) = alpha op(A) op(B) + beta C is, in oneDNN's row-major terms,
// C^T (n x m) = op(B)^T (n x k) . op(A)^T (k x m): every operand is then a plain row-major
// matrix with its leading dimension as row stride, or its transpose.
Prepared prepare(const Engine& e, const Key& key) {
  using dt = dnnl::memory::data_type;
  using dims = dnnl::memory::dims;
  const dnnl::memory::dim m = key.m, n = key.n, k = key.k;
  const dt in = key.bf16 ? dt::bf16 : dt::f32;
  // op(B)^T, n x k: B is k x n column-major (row-major n x k, stride ldb) unless transposed.
  const dnnl::memory::desc src_md(dims{n, k}, in, key.tb ? dims{1, key.ldb} : dims{key.ldb, 1});
  // op(A)^T, k x m: A is m x k column-major (row-major k x m, stride lda) unless transposed.
  const dnnl::memory::desc wei_md(dims{k, m}, in, key.ta ? dims{1, key.lda} : dims{key.lda, 1});
  const dnnl::memory::desc dst_md(dims{n, m}, dt::f32, dims{key.ldc, 1});
  dnnl::primitive_attr attr;
  if (key.alpha != 1.0f) attr.set_output_scales(0, {key.alpha});
  if (key.beta != 0.0f) {
    dnnl::post_ops po;
    po.append_sum(key.beta);
    attr.set_post_ops(po);
  }
  const dnnl::matmul::desc d(src_md, wei_md, dst_md);
  const dnnl::matmul::primitive_desc pd(d, attr, e.eng);
  Prepared p{dnnl::matmul(pd),
             dnnl::memory(src_md, e.eng, DNNL_MEMORY_NONE),
             dnnl::memory(wei_md, e.eng, DNNL_MEMORY_NONE),
             dnnl::memory(dst_md, e.eng, DNNL_MEMORY_NONE),
             {}};
  p.args = {{DNNL_ARG_SRC, p.src}, {DNNL_ARG_WEIGHTS, p.wei}, {DNNL_ARG_DST, p.dst}};
  return p;
}

}  // namespace

void set_backend(Backend b) {
  g_backend.store(b);
}
Backend backend() {
  return g_backend.load(std::memory_order_relaxed);
}

namespace {

void matmul(bool bf16, bool ta, bool tb, int m, int n, int k, float alpha, const void* a, int lda,
            const void* b, int ldb, float beta, float* c, int ldc) {
  if (k == 0) {  // an empty sum: C = beta C (oneDNN has no zero-size reduction)
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i) {
        float& x = c[static_cast<std::size_t>(j) * static_cast<std::size_t>(ldc) + i];
        x = beta == 0.0f ? 0.0f : beta * x;
      }
    return;
  }
  Engine& e = engine();
  const Key key{
      m,     n,   k, lda, ldb, ldc, ta ? 1 : 0, tb ? 1 : 0, omp_get_max_threads(), bf16 ? 1 : 0,
      alpha, beta};
  std::lock_guard<std::mutex> lock(e.mutex);
  auto it = e.cache.find(key);
  if (it == e.cache.end()) {
    if (e.cache.size() >= 512) e.cache.clear();  // a long study's many shapes stay bounded
    it = e.cache.emplace(key, prepare(e, key)).first;
  }
  Prepared& p = it->second;
  p.src.set_data_handle(const_cast<void*>(b));
  p.wei.set_data_handle(const_cast<void*>(a));
  p.dst.set_data_handle(c);
  p.prim.execute(e.strm, p.args);
  e.strm.wait();
}

}  // namespace

bool bf16_available() {
  static const bool available = [] {
    try {
      const Key key{16, 16, 16, 16, 16, 16, 0, 0, 1, 1, 1.0f, 0.0f};
      prepare(engine(), key);
      return true;
    } catch (const dnnl::error&) {
      return false;
    }
  }();
  return available;
}

void sgemm_onednn(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda,
                  const float* b, int ldb, float beta, float* c, int ldc) {
  matmul(false, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void bf16gemm_onednn(bool ta, bool tb, int m, int n, int k, float alpha, const std::uint16_t* a,
                     int lda, const std::uint16_t* b, int ldb, float beta, float* c, int ldc) {
  matmul(true, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace dynsim::blas
