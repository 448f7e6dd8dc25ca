// Euler-Maruyama for dX = F(t, X) dt + G(t, X) dW, written to Boost.Odeint's stepper concept
// (stepper_tag, order(), do_step) so it drops in wherever an odeint stepper does.
//
// The system is a pair (drift, diffusion) as in odeint's stochastic examples:
//   drift(x, dxdt, t)       writes F(t, x)
//   diffusion(x, gxi, t)    writes G(t, x) xi, xi being this step's standard normal draws
// and one step is x += dt F + sqrt(dt) G xi. Weak order 1, strong order 1/2.
#pragma once

#include <boost/numeric/odeint/algebra/algebra_dispatcher.hpp>
#include <boost/numeric/odeint/algebra/default_operations.hpp>
#include <boost/numeric/odeint/stepper/stepper_categories.hpp>
#include <boost/numeric/odeint/util/resize.hpp>
#include <boost/numeric/odeint/util/same_size.hpp>
#include <cmath>

namespace dynsim {

template <class State, class Value = double, class Time = Value,
          class Algebra = typename boost::numeric::odeint::algebra_dispatcher<State>::algebra_type,
          class Operations = boost::numeric::odeint::default_operations>
class euler_maruyama {
 public:
  using state_type = State;
  using deriv_type = State;
  using value_type = Value;
  using time_type = Time;
  using algebra_type = Algebra;
  using operations_type = Operations;
  using order_type = unsigned short;
  using stepper_category = boost::numeric::odeint::stepper_tag;

  static constexpr order_type order() { return 1; }  // weak order

  template <class System>
  void do_step(System system, state_type& x, time_type t, time_type dt) {
    // Buffers are sized on the first step only; later steps of the same shape allocate nothing.
    if (!boost::numeric::odeint::same_size(dxdt_, x)) boost::numeric::odeint::resize(dxdt_, x);
    if (!boost::numeric::odeint::same_size(gxi_, x)) boost::numeric::odeint::resize(gxi_, x);
    system.first(x, dxdt_, t);
    system.second(x, gxi_, t);
    using std::sqrt;
    algebra_.for_each4(
        x, x, dxdt_, gxi_,
        typename operations_type::template scale_sum3<value_type, time_type, time_type>(
            value_type(1), dt, sqrt(dt)));
  }

 private:
  state_type dxdt_, gxi_;
  algebra_type algebra_;
};

}  // namespace dynsim
