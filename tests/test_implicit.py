"""Implicit hypergradients against central finite differences of refitted solutions."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.datasets import make_regression

import jaxreg as jr
from jaxreg.implicit import implicit_solution


def _split():
  X, y = make_regression(60, 30, n_informative=8, noise=5.0, random_state=0)
  y = y / y.std()
  return X[:40], y[:40], X[40:], y[40:]


def _central(f, a, rel=1e-5):
  h = rel * a
  return (f(a + h) - f(a - h)) / (2 * h)


PENALTIES = {
    "ridge": (lambda a: jr.L2(a), 0.3),
    "lasso": (lambda a: jr.L1(a), 0.05),
    "enet": (lambda a: jr.ElasticNet(a, 0.3), 0.05),
}


@pytest.mark.parametrize("kind", sorted(PENALTIES))
def test_hypergradient_matches_finite_differences(x64, kind):
  X, y, Xv, yv = _split()
  make, a0 = PENALTIES[kind]

  def val(a):
    r = jr.linear.fit(X, y, make(a))
    return jnp.mean((yv - Xv @ r.coef - r.intercept) ** 2)

  g = float(jax.grad(val)(a0))
  fd = float(_central(val, a0))
  assert abs(g - fd) <= 1e-4 * abs(fd)
  if kind != "ridge":
    # Finite differences only make sense away from a change of support.
    s0 = np.asarray(jr.linear.fit(X, y, make(a0 * 0.999)).coef) != 0
    s1 = np.asarray(jr.linear.fit(X, y, make(a0 * 1.001)).coef) != 0
    assert np.array_equal(s0, s1)


def test_hypergradient_logistic_l2(x64):
  rng = np.random.default_rng(0)
  X = rng.standard_normal((80, 5))
  y = (X @ np.array([1.0, -2.0, 0.5, 0.0, 0.0]) + 0.5 * rng.standard_normal(80) > 0) * 1.0
  Xt, yt, Xv, yv = X[:60], y[:60], X[60:], y[60:]

  def val(a):
    r = jr.linear.fit(Xt, yt, jr.L2(a), loss="logistic")
    z = Xv @ r.coef + r.intercept
    return jnp.mean(jax.nn.softplus(z) - yv * z)

  a0 = 0.05
  g = float(jax.grad(val)(a0))
  assert abs(g - float(_central(val, a0))) <= 1e-4 * abs(float(_central(val, a0)))


def test_gradient_in_l1_ratio_and_data(x64):
  X, y, Xv, yv = _split()

  def val(r, X):
    res = jr.linear.fit(X, y, jr.ElasticNet(0.05, r))
    return jnp.mean((yv - Xv @ res.coef - res.intercept) ** 2)

  g_r, g_X = jax.grad(val, argnums=(0, 1))(0.3, jnp.asarray(X))
  assert abs(float(g_r) - float(_central(lambda r: val(r, X), 0.3))) <= 1e-4 * abs(float(g_r))
  j = int(np.argmax(np.abs(np.asarray(jr.linear.fit(X, y, jr.ElasticNet(0.05, 0.3)).coef))))
  E = np.zeros_like(X)
  E[3, j] = 1.0
  fd = float((val(0.3, X + 1e-6 * E) - val(0.3, X - 1e-6 * E)) / 2e-6)
  assert abs(float(g_X[3, j]) - fd) <= 1e-4 * abs(fd)


@pytest.mark.parametrize("kind", ["ridge", "lasso"])
def test_second_derivative_matches_finite_differences(x64, kind):
  X, y, Xv, yv = _split()
  make, a0 = PENALTIES[kind]

  def val(a):
    r = jr.linear.fit(X, y, make(a))
    return jnp.mean((yv - Xv @ r.coef - r.intercept) ** 2)

  h2 = float(jax.grad(jax.grad(val))(a0))
  fd = float(_central(jax.grad(val), a0))
  assert abs(h2 - fd) <= 1e-4 * abs(fd)


class _MLP(nn.Module):

  @nn.compact
  def __call__(self, x):
    return nn.Dense(1)(jnp.tanh(nn.Dense(6)(x)))[:, 0]


def test_flax_mlp_hypergradient_matches_unrolled_training(x64):
  rng = np.random.default_rng(0)
  X = rng.uniform(-2, 2, (24, 1))
  y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(24)
  Xv = rng.uniform(-2, 2, (16, 1))
  yv = np.sin(Xv[:, 0])
  model = _MLP()
  p0 = model.init(jax.random.PRNGKey(0), X)["params"]
  p0 = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), p0)
  steps, lr = 2000, 0.3

  def train_obj(params, alpha):
    pred = model.apply({"params": params}, X)
    return 0.5 * jnp.mean((pred - y) ** 2) + jr.L2(alpha)(params)

  def train(alpha):
    opt = optax.sgd(lr, momentum=0.95)

    def step(carry, _):
      params, state = carry
      g = jax.grad(train_obj)(params, alpha)
      upd, state = opt.update(g, state, params)
      return (optax.apply_updates(params, upd), state), None

    (params, _), _ = jax.lax.scan(step, (p0, opt.init(p0)), None, length=steps)
    return params

  def val(params):
    return jnp.mean((model.apply({"params": params}, Xv) - yv) ** 2)

  # Each quantity below is one compiled program (run eagerly, every op of
  # the training loop and of its derivatives was compiled on its own).
  alpha = 0.01
  params = jax.jit(train)(alpha)
  gnorm = jax.jit(lambda p, a: optax.global_norm(jax.grad(train_obj)(p, a)))(params, alpha)
  assert gnorm < 1e-7  # trained to convergence, so both derivatives are of w*(α)

  solution = implicit_solution(train, jax.grad(train_obj))
  g_implicit = float(jax.jit(jax.grad(lambda a: val(solution(a))))(alpha))
  g_unrolled = float(jax.jit(jax.grad(lambda a: val(train(a))))(alpha))
  assert abs(g_implicit - g_unrolled) <= 1e-2 * abs(g_unrolled)


def test_implicit_solution_scalar_closed_form():
  # w*(α) = 3/(1 + α): first and second derivatives in closed form.
  sol = implicit_solution(lambda a: 3.0 / (1.0 + a), lambda w, a: (w - 3.0) + a * w)
  assert abs(float(jax.grad(sol)(1.0)) + 0.75) < 1e-5
  assert abs(float(jax.grad(jax.grad(sol))(1.0)) - 0.75) < 1e-4
  damped = implicit_solution(lambda a: 3.0 / (1.0 + a), lambda w, a: (w - 3.0) + a * w,
                             damping=0.5)
  # (H + λ)⁻¹ ∂F/∂α = w*/(2 + 0.5) with w* = 1.5.
  assert abs(float(jax.grad(damped)(1.0)) + 1.5 / 2.5) < 1e-5


def test_implicit_solution_bad_arguments():
  with pytest.raises(TypeError, match="solve_fn"):
    implicit_solution(3.0, lambda w, a: w)
  with pytest.raises(TypeError, match="optimality_fn"):
    implicit_solution(lambda a: a, None)
  with pytest.raises(ValueError, match="damping"):
    implicit_solution(lambda a: a, lambda w, a: w, damping=-1.0)
