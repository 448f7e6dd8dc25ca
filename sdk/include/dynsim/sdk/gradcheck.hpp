// Finite-difference check of a model's derivatives: every vector-Jacobian product the host trains
// with, against central differences of the model's own forward functions, on random states.
// `dynsim check-plugin` runs it on an installed plugin; a plugin's own tests can call it too:
//
//   dynsim::GradCheckReport r = dynsim::check_gradients(model);
//   REQUIRE(r.ok());  // r.table() names the worst block
//
// Blocks: drift_vjp with respect to the state and to each parameter block (through
// accumulator_shapes, flush_accumulators and finish_gradients, as training uses them), the fused
// euler_step and euler_step_vjp against drift and drift_vjp (when the model provides them),
// readout_vjp, encode_vjp and regularize. The error of a block is its worst over a few random
// directions: |analytic - finite difference| / max(|analytic|, |finite difference|, 1e-3 x the
// gradient's norm x the direction's), so a direction nearly orthogonal to the gradient cannot
// inflate it. Check in double precision: float's differences are only good to about 1e-3.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "dynsim/sdk/model.hpp"

namespace dynsim {

struct GradCheckConfig {
  Index batch = 4;     // items per random state
  int directions = 3;  // random directions per block
  std::uint64_t seed = 1;
  double t = 0;         // time handed to drift (for a non-autonomous model)
  double h = 0.05;      // step of the fused-Euler checks
  double spread = 0.3;  // states: planted attractors plus this much noise (x their scale)
  // Parameters: the model's own, each entry moved by this much noise (x the block's largest
  // entry) for the check and restored after it, so that a symmetric start (orthogonal columns,
  // zero biases) puts no kink (|cos| at 0) under the differences.
  double move_parameters = 1e-2;
  double eps = 0;        // finite-difference step; 0: 1e-6 in double, 1e-2 in float
  double tolerance = 0;  // pass mark; 0: 1e-5 in double, 5e-2 in float
};

struct GradCheckBlock {
  std::string name;
  double error = 0;  // worst relative error over the directions
  std::string note;  // why a block was not checked, or a shape problem
  bool checked = true;
};

struct GradCheckReport {
  std::vector<GradCheckBlock> blocks;
  double tolerance = 0;
  bool ok() const {
    return std::all_of(blocks.begin(), blocks.end(), [&](const GradCheckBlock& b) {
      return !b.checked || (std::isfinite(b.error) && b.error <= tolerance);
    });
  }
  std::string table() const {
    std::ostringstream o;
    o << std::left << std::setw(36) << "block" << std::setw(14) << "rel. error"
      << "result\n";
    for (const auto& b : blocks) {
      o << std::left << std::setw(36) << b.name;
      if (b.checked)
        o << std::setw(14) << std::setprecision(3) << std::scientific << b.error
          << (std::isfinite(b.error) && b.error <= tolerance ? "ok" : "FAIL");
      else
        o << std::setw(14) << "-"
          << "not checked";
      if (!b.note.empty()) o << "  (" << b.note << ")";
      o << "\n";
    }
    o << (ok() ? "all blocks within " : "some blocks above ") << std::setprecision(1)
      << std::scientific << tolerance << "\n";
    return o.str();
  }
};

namespace gradcheck_detail {

template <class S>
double dot(const Matrix<S>& a, const Matrix<S>& b) {
  return static_cast<double>((a.array() * b.array()).sum());
}

inline double rel_error(double analytic, double fd, double scale) {
  const double d = std::abs(analytic - fd);
  const double den = std::max(
      {std::abs(analytic), std::abs(fd), 1e-3 * scale, std::numeric_limits<double>::min()});
  return d / den;
}

template <class S>
Matrix<S> normal(Index r, Index c, std::mt19937_64& g, double scale = 1) {
  std::normal_distribution<double> n(0, scale);
  Matrix<S> m(r, c);
  for (Index j = 0; j < c; ++j)
    for (Index i = 0; i < r; ++i) m(i, j) = static_cast<S>(n(g));
  return m;
}

template <class S>
std::vector<Matrix<S>> zeros(const std::vector<std::pair<Index, Index>>& shapes) {
  std::vector<Matrix<S>> z;
  for (const auto& [r, c] : shapes) z.push_back(Matrix<S>::Zero(r, c));
  return z;
}

// drift_vjp's accumulators mapped to parameter gradients, as the trainer does it.
template <class S>
std::vector<Matrix<S>> finish(Model<S>& m, std::vector<Matrix<S>>& acc) {
  m.flush_accumulators(acc);
  std::vector<Matrix<S>> grads;
  m.finish_gradients(acc, grads);
  return grads;
}

// Checks grads[i] against d/d(theta_i) of f(), one block at a time, by perturbing the block.
template <class S, class F>
void check_params(Model<S>& m, const std::vector<Matrix<S>>& grads, const std::string& prefix,
                  F&& f, double eps, int directions, std::mt19937_64& g,
                  std::vector<GradCheckBlock>& out) {
  auto params = m.parameters();
  if (grads.size() != params.size()) {
    out.push_back({prefix + "(all parameters)", INFINITY,
                   "finish_gradients gave " + std::to_string(grads.size()) + " blocks for " +
                       std::to_string(params.size()) + " parameters",
                   true});
    return;
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    GradCheckBlock b{prefix + params[i].name, 0, "", true};
    if (grads[i].rows() != params[i].rows || grads[i].cols() != params[i].cols) {
      b.error = INFINITY;
      b.note = "gradient is " + std::to_string(grads[i].rows()) + " x " +
               std::to_string(grads[i].cols()) + ", parameter is " +
               std::to_string(params[i].rows) + " x " + std::to_string(params[i].cols);
      out.push_back(b);
      continue;
    }
    const Matrix<S> saved = params[i].map();
    const double step = eps * std::max(1.0, static_cast<double>(saved.cwiseAbs().maxCoeff()));
    for (int d = 0; d < directions; ++d) {
      const Matrix<S> D = normal<S>(params[i].rows, params[i].cols, g);
      params[i].map() = saved + static_cast<S>(step) * D;
      m.parameters_changed();
      const double fp = f();
      params[i].map() = saved - static_cast<S>(step) * D;
      m.parameters_changed();
      const double fm = f();
      params[i].map() = saved;
      m.parameters_changed();
      const double an = dot(grads[i], D);
      b.error = std::max(b.error, rel_error(an, (fp - fm) / (2 * step),
                                            static_cast<double>(grads[i].norm() * D.norm())));
    }
    out.push_back(b);
  }
}

}  // namespace gradcheck_detail

template <class S>
GradCheckReport check_gradients(Model<S>& m, GradCheckConfig cfg = {}) {
  using namespace gradcheck_detail;
  constexpr bool dbl = std::is_same_v<S, double>;
  if (cfg.eps <= 0) cfg.eps = dbl ? 1e-6 : 1e-2;
  if (cfg.tolerance <= 0) cfg.tolerance = dbl ? 1e-5 : 5e-2;
  GradCheckReport rep;
  rep.tolerance = cfg.tolerance;
  auto& out = rep.blocks;
  std::mt19937_64 g(cfg.seed);
  const Index n = m.dim(), b = cfg.batch;
  const S t = static_cast<S>(cfg.t), h = static_cast<S>(cfg.h);

  // Moved parameters, restored on every way out.
  struct Restore {
    Model<S>& m;
    std::vector<Matrix<S>> saved;
    ~Restore() {
      auto ps = m.parameters();
      for (std::size_t i = 0; i < ps.size() && i < saved.size(); ++i) ps[i].map() = saved[i];
      m.parameters_changed();
    }
  } restore{m, {}};
  for (auto& p : m.parameters()) {
    restore.saved.emplace_back(p.map());
    const double scale = std::max(1.0, static_cast<double>(p.map().cwiseAbs().maxCoeff()));
    p.map() += normal<S>(p.rows, p.cols, g, cfg.move_parameters * scale);
  }
  m.parameters_changed();

  // States around the planted attractors (where training sends them), or around zero.
  Matrix<S> X = normal<S>(n, b, g, 0.5);
  const Matrix<S> att = m.attractors();
  if (att.size() > 0) {
    if (att.rows() != n) {
      out.push_back({"attractors()", INFINITY,
                     "is " + std::to_string(att.rows()) + " x " + std::to_string(att.cols()) +
                         ", must be dim() x K with dim() = " + std::to_string(n),
                     true});
      return rep;
    }
    const double scale = std::max(1e-3, static_cast<double>(att.cwiseAbs().maxCoeff()));
    X = normal<S>(n, b, g, cfg.spread * scale);
    for (Index j = 0; j < b; ++j) X.col(j) += att.col(j % att.cols());
  }
  const auto shapes = m.accumulator_shapes();

  // drift_vjp: state.
  const Matrix<S> adj = normal<S>(n, b, g);
  Matrix<S> adj_x(n, b), F(n, b);
  std::vector<Matrix<S>> acc = zeros<S>(shapes);
  m.drift_vjp(t, X, adj, adj_x, acc);
  // Mapped to parameter gradients at once: a model may buffer contributions that a later
  // drift() would overwrite.
  const std::vector<Matrix<S>> grads = finish(m, acc);
  auto along = [&](const Matrix<S>& at) {  // <adj, F(at)>
    m.drift(t, at, F);
    return dot(adj, F);
  };
  {
    GradCheckBlock blk{"drift_vjp: state", 0, "", true};
    const double e = cfg.eps * std::max(1.0, static_cast<double>(X.cwiseAbs().maxCoeff()));
    for (int d = 0; d < cfg.directions; ++d) {
      const Matrix<S> V = normal<S>(n, b, g);
      const double fd =
          (along(X + static_cast<S>(e) * V) - along(X - static_cast<S>(e) * V)) / (2 * e);
      blk.error = std::max(
          blk.error, rel_error(dot(adj_x, V), fd, static_cast<double>(adj_x.norm() * V.norm())));
    }
    out.push_back(blk);
  }
  // drift_vjp: parameters (accumulated, flushed and finished as training does).
  check_params(
      m, grads, "drift_vjp: ", [&] { return along(X); }, cfg.eps, cfg.directions, g, out);

  // The fused Euler step and its adjoint, against drift and drift_vjp.
  {
    Matrix<S> Xs = X;
    GradCheckBlock blk{"euler_step", 0, "", true};
    if (m.euler_step(t, h, Xs)) {
      m.drift(t, X, F);
      const Matrix<S> ref = X + h * F;
      blk.error = static_cast<double>((Xs - ref).norm()) /
                  std::max(static_cast<double>(ref.norm()), 1e-300);
    } else {
      blk.checked = false;
      blk.note = "not provided: the host steps with drift()";
    }
    out.push_back(blk);
    Matrix<S> a = adj;
    std::vector<Matrix<S>> acc2 = zeros<S>(shapes);
    GradCheckBlock sb{"euler_step_vjp: state", 0, "", true};
    if (m.euler_step_vjp(t, h, X, a, acc2)) {
      const Matrix<S> ref = adj + h * adj_x;
      sb.error =
          static_cast<double>((a - ref).norm()) / std::max(static_cast<double>(ref.norm()), 1e-300);
      out.push_back(sb);
      const std::vector<Matrix<S>> g2 = finish(m, acc2);
      GradCheckBlock pb{"euler_step_vjp: parameters", 0, "", true};
      if (g2.size() != grads.size()) {
        pb.error = INFINITY;
        pb.note = "a different number of gradient blocks than drift_vjp's";
      }
      for (std::size_t i = 0; i < g2.size() && i < grads.size(); ++i) {
        const Matrix<S> ref_g = h * grads[i];
        if (g2[i].rows() != ref_g.rows() || g2[i].cols() != ref_g.cols()) {
          pb.error = INFINITY;
          pb.note = "block " + std::to_string(i) + " has another shape than drift_vjp's";
          continue;
        }
        pb.error = std::max(pb.error, static_cast<double>((g2[i] - ref_g).norm()) /
                                          std::max(static_cast<double>(ref_g.norm()), 1e-300));
      }
      out.push_back(pb);
    } else {
      sb.checked = false;
      sb.note = "not provided: the host uses drift_vjp";
      out.push_back(sb);
    }
  }

  // readout_vjp.
  {
    const Index r = m.readout_dim();
    const Matrix<S> dY = normal<S>(r, b, g);
    Matrix<S> Y(r, b), dX(n, b);
    m.readout_vjp(X, dY, dX);
    auto ro = [&](const Matrix<S>& at) {
      m.readout(at, Y);
      return dot(dY, Y);
    };
    GradCheckBlock blk{"readout_vjp", 0, "", true};
    const double e = cfg.eps * std::max(1.0, static_cast<double>(X.cwiseAbs().maxCoeff()));
    for (int d = 0; d < cfg.directions; ++d) {
      const Matrix<S> V = normal<S>(n, b, g);
      const double fd = (ro(X + static_cast<S>(e) * V) - ro(X - static_cast<S>(e) * V)) / (2 * e);
      blk.error =
          std::max(blk.error, rel_error(dot(dX, V), fd, static_cast<double>(dX.norm() * V.norm())));
    }
    out.push_back(blk);
  }

  // encode_vjp: inputs like pixels, in [0, 1].
  {
    std::uniform_real_distribution<double> u(0, 1);
    Matrix<S> U(m.input_dim(), b);
    for (Index j = 0; j < b; ++j)
      for (Index i = 0; i < U.rows(); ++i) U(i, j) = static_cast<S>(u(g));
    const Matrix<S> dX0 = normal<S>(n, b, g);
    std::vector<Matrix<S>> acc3 = zeros<S>(shapes);
    m.encode_vjp(U, dX0, acc3);
    const std::vector<Matrix<S>> ge = finish(m, acc3);
    Matrix<S> X0(n, b);
    check_params(
        m, ge, "encode_vjp: ",
        [&] {
          m.encode(U, X0);
          return dot(dX0, X0);
        },
        cfg.eps, cfg.directions, g, out);
  }

  // regularize: its value against the gradient it adds.
  {
    std::vector<Matrix<S>> gr;
    for (const auto& p : m.parameters()) gr.push_back(Matrix<S>::Zero(p.rows, p.cols));
    m.regularize(gr);
    std::vector<Matrix<S>> scratch = gr;
    check_params(
        m, gr, "regularize: ",
        [&] {
          for (auto& s : scratch) s.setZero();
          return static_cast<double>(m.regularize(scratch));
        },
        cfg.eps, cfg.directions, g, out);
  }
  return rep;
}

}  // namespace dynsim
