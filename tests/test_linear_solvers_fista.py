"""FISTA with restart: against scikit-learn, the KKT conditions and itself under vmap."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import expit
from sklearn import linear_model

import jaxreg as jr
from jaxreg import penalties
from jaxreg.linear import datafits
from jaxreg.linear.solvers import fista


@functools.partial(jax.jit, static_argnames="fit_intercept")
def _run(X, Y, datafit, penalty, fit_intercept, tol, max_iter):
  p, T = X.shape[1], Y.shape[1]
  coords = penalties.coordinates(penalty, p, T)
  return fista.solve(X, Y, datafit, coords, jnp.zeros((p, T), X.dtype), jnp.zeros((T,), X.dtype),
                     fit_intercept=fit_intercept, tol=tol, max_iter=max_iter)


def _solve(X, Y, datafit, penalty, *, fit_intercept=True, tol=1e-10, max_iter=20000):
  """One jitted solve from zero (all but fit_intercept traced: a new α, tol or budget
  reuses the compiled program)."""
  X = jnp.asarray(X)
  return _run(X, jnp.asarray(Y, X.dtype), datafit, penalty, fit_intercept, tol, max_iter)


def _regression(seed=0, n=50, p=12):
  rng = np.random.default_rng(seed)
  X = rng.standard_normal((n, p))
  w = np.zeros(p)
  w[:4] = [2.0, -1.5, 1.0, 0.5]
  y = X @ w + 0.5 * rng.standard_normal(n) + 1.0
  return X, y


def _lasso_objective(X, y, w, b, a):
  r = y - X @ w - b
  return r @ r / (2 * len(y)) + a * np.abs(w).sum()


def test_lasso_matches_sklearn(x64):
  X, y = _regression()
  a = 0.1
  sk = linear_model.Lasso(alpha=a, tol=1e-14, max_iter=100_000).fit(X, y)
  res = _solve(X, y[:, None], datafits.Squared(), jr.L1(a))
  assert bool(res.converged) and float(res.violation) <= 1e-10
  w, b = np.asarray(res.W[:, 0]), float(res.b[0])
  ours, theirs = _lasso_objective(X, y, w, b, a), _lasso_objective(X, y, sk.coef_, sk.intercept_, a)
  assert abs(ours - theirs) <= 1e-8 * theirs
  np.testing.assert_allclose(w, sk.coef_, atol=1e-7)
  np.testing.assert_array_equal(w != 0, sk.coef_ != 0)


def test_logistic_l2_matches_sklearn(x64):
  X, y = _regression(seed=1)
  yb = (y > np.median(y)).astype(float)
  n, a = len(yb), 0.02
  sk = linear_model.LogisticRegression(C=1 / (n * a), tol=1e-12, max_iter=10_000).fit(X, yb)
  res = _solve(X, yb[:, None], datafits.Logistic(), jr.L2(a))
  assert bool(res.converged)

  def objective(w, b):
    eta = X @ w + b
    return np.mean(np.logaddexp(0, eta) - yb * eta) + 0.5 * a * w @ w

  ours = objective(np.asarray(res.W[:, 0]), float(res.b[0]))
  theirs = objective(sk.coef_[0], sk.intercept_[0])
  assert abs(ours - theirs) <= 1e-8 * theirs
  np.testing.assert_allclose(res.W[:, 0], sk.coef_[0], atol=1e-6)


def test_poisson_backtracking_matches_sklearn(x64):
  """No curvature bound (Poisson): the step comes from backtracking."""
  rng = np.random.default_rng(2)
  n, p, a = 60, 6, 0.05
  X = 0.5 * rng.standard_normal((n, p))
  y = rng.poisson(np.exp(X @ np.linspace(-0.5, 0.5, p) + 0.3)).astype(float)
  sk = linear_model.PoissonRegressor(alpha=a, tol=1e-12, max_iter=10_000).fit(X, y)
  res = _solve(X, y[:, None], datafits.Poisson(), jr.L2(a))
  assert bool(res.converged)

  def objective(w, b):
    eta = X @ w + b
    return np.mean(np.exp(eta) - y * eta) + 0.5 * a * w @ w   # up to a constant in y

  ours = objective(np.asarray(res.W[:, 0]), float(res.b[0]))
  theirs = objective(sk.coef_, sk.intercept_)
  assert abs(ours - theirs) <= 1e-9 * abs(theirs)
  np.testing.assert_allclose(res.W[:, 0], sk.coef_, atol=1e-6)


def test_group_lasso_satisfies_kkt(x64):
  """Group lasso checked by its optimality conditions, computed here in numpy."""
  X, y = _regression(seed=3, p=10)
  y = y + 2.0 * X[:, 5]
  groups = [[0, 1, 2], [3, 4], [5, 6, 7], [8, 9]]
  n, a = len(y), 0.15
  res = _solve(X, y[:, None], datafits.Squared(), jr.GroupLasso(a, groups=groups))
  assert bool(res.converged)
  w, b = np.asarray(res.W[:, 0]), float(res.b[0])
  r = y - X @ w - b
  grad = -X.T @ r / n
  assert abs(r.mean()) <= 1e-9
  zero = 0
  for g in groups:
    wg, gg, scale = w[g], grad[g], a * np.sqrt(len(g))
    if np.linalg.norm(wg) > 0:
      # ∇_g f + α√|g| w_g/‖w_g‖ = 0
      np.testing.assert_allclose(gg + scale * wg / np.linalg.norm(wg), 0, atol=1e-9)
    else:
      zero += 1
      assert np.linalg.norm(gg) <= scale + 1e-9
  assert 0 < zero < len(groups)     # both kinds of groups were tested


def test_vmap_over_alpha_matches_separate_solves(x64):
  X, y = _regression(seed=4)
  Xj, Yj = jnp.asarray(X), jnp.asarray(y)[:, None]
  alphas = jnp.array([0.01, 0.05, 0.1, 0.3, 1.0])
  p = X.shape[1]

  def one(a):
    coords = penalties.coordinates(jr.L1(a), p, 1)
    return fista.solve(Xj, Yj, datafits.Squared(), coords, jnp.zeros((p, 1)), jnp.zeros(1),
                       fit_intercept=True, tol=1e-10, max_iter=20000)

  batch = jax.jit(jax.vmap(one))(alphas)
  assert batch.W.shape == (5, p, 1) and bool(jnp.all(batch.converged))
  for k, a in enumerate(alphas):
    single = _solve(X, y[:, None], datafits.Squared(), jr.L1(a))
    np.testing.assert_allclose(batch.W[k], single.W, atol=1e-8)
    np.testing.assert_allclose(batch.b[k], single.b, atol=1e-8)
  nnz = np.asarray(jnp.sum(batch.W != 0, axis=(1, 2)))
  assert np.all(np.diff(nnz) <= 0) and nnz[0] > nnz[-1]


def test_float32_converges_to_the_float64_solution():
  X, y = _regression(seed=5)
  a = 0.1
  res = _solve(X.astype(np.float32), y[:, None].astype(np.float32), datafits.Squared(), jr.L1(a),
               tol=1e-4, max_iter=5000)
  assert res.W.dtype == jnp.float32 and res.b.dtype == jnp.float32
  assert bool(res.converged)
  sk = linear_model.Lasso(alpha=a, tol=1e-14, max_iter=100_000).fit(X, y)
  np.testing.assert_allclose(res.W[:, 0], sk.coef_, atol=1e-3)
  ours = _lasso_objective(X, y, np.asarray(res.W[:, 0], float), float(res.b[0]), a)
  theirs = _lasso_objective(X, y, sk.coef_, sk.intercept_, a)
  assert abs(ours - theirs) <= 1e-5 * theirs


def test_no_intercept_and_max_iter(x64):
  """Without an intercept b stays at its start; a short budget reports non-convergence."""
  X, y = _regression(seed=6)
  yb = (y > np.median(y)).astype(float)
  res = _solve(X, yb[:, None], datafits.Logistic(), jr.L1(0.01), fit_intercept=False)
  assert bool(res.converged) and float(res.b[0]) == 0.0
  w = np.asarray(res.W[:, 0])
  grad = X.T @ (expit(X @ w) - yb) / len(yb)
  on = w != 0
  np.testing.assert_allclose(grad[on], -0.01 * np.sign(w[on]), atol=1e-9)
  assert np.all(np.abs(grad[~on]) <= 0.01 + 1e-9)
  short = _solve(X, yb[:, None], datafits.Logistic(), jr.L2(0.01), max_iter=10)
  assert int(short.n_iter) == 10 and not bool(short.converged)
  assert float(short.violation) > 1e-10


def test_mcp_fixed_point_is_stationary(x64):
  """A non-convex penalty through the full prox: MCP's stationarity, checked in numpy."""
  X, y = _regression(seed=7)
  n, a, gamma = len(y), 0.3, 3.0
  res = _solve(X, y[:, None], datafits.Squared(), jr.MCP(a, gamma))
  assert bool(res.converged)
  w, b = np.asarray(res.W[:, 0]), float(res.b[0])
  r = y - X @ w - b
  grad = -X.T @ r / n
  assert abs(r.mean()) <= 1e-9
  on = w != 0
  assert 0 < on.sum() < len(w)
  # MCP'(w) = sign(w)(α − |w|/γ) for |w| ≤ γα, 0 beyond; at 0 the subdifferential is [−α, α].
  slope = np.sign(w) * np.maximum(a - np.abs(w) / gamma, 0)
  np.testing.assert_allclose(grad[on] + slope[on], 0, atol=1e-9)
  assert np.all(np.abs(grad[~on]) <= a + 1e-9)


def test_spectral_norm_by_power_iteration(x64):
  """Past 128 rows and columns the step comes from power iteration: an upper bound within 3 %."""
  A = np.random.default_rng(8).standard_normal((300, 200))
  exact = np.linalg.norm(A, 2) ** 2
  assert exact <= float(fista.spectral_norm_sq(jnp.asarray(A))) <= 1.03 * exact
  assert float(fista.spectral_norm_sq(jnp.asarray(A[:, :50]))) == pytest.approx(
      np.linalg.norm(A[:, :50], 2) ** 2, rel=1e-12)
