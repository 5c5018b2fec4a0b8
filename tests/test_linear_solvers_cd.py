"""Working-set block coordinate descent: against scikit-learn, the KKT conditions and itself."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn import linear_model

import jaxreg as jr
from jaxreg import penalties
from jaxreg.linear import datafits
from jaxreg.linear.solvers import coordinate_descent as cd


@functools.partial(jax.jit, static_argnames=("fit_intercept", "gram", "anderson", "max_iter"))
def _run(X, Y, datafit, penalty, fit_intercept=True, tol=1e-12, max_iter=5000, gram=None,
         anderson=5):
  p, T = X.shape[1], Y.shape[1]
  coords = penalties.coordinates(penalty, p, T)
  return cd.solve(X, Y, datafit, coords, jnp.zeros((p, T), X.dtype), jnp.zeros((T,), X.dtype),
                  fit_intercept=fit_intercept, tol=tol, max_iter=max_iter, gram=gram,
                  anderson=anderson)


def _data(n, p, seed=0, T=None):
  rng = np.random.default_rng(seed)
  X = rng.standard_normal((n, p))
  W = np.zeros((p, T or 1))
  k = min(4, p)
  W[:k] = rng.standard_normal((k, T or 1)) * 2
  Y = X @ W + 0.3 * rng.standard_normal((n, T or 1)) + 1.0
  return X, (Y if T else Y[:, 0])


def _sq_obj(X, y, w, b, pen):
  return np.sum((y - X @ w - b) ** 2) / (2 * len(y)) + pen(w)


@pytest.mark.parametrize("shape,gram", [((40, 120), False), ((120, 15), True), ((120, 15), False)])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_elastic_net_matches_sklearn(x64, shape, gram, l1_ratio):
  X, y = _data(*shape)
  a = 0.05
  sk = linear_model.ElasticNet(alpha=a, l1_ratio=l1_ratio, tol=1e-14, max_iter=100_000).fit(X, y)
  r = _run(jnp.asarray(X), jnp.asarray(y)[:, None], datafits.Squared(),
           jr.ElasticNet(a, l1_ratio), gram=gram)
  assert bool(r.converged)
  pen = lambda w: a * l1_ratio * np.abs(w).sum() + a * (1 - l1_ratio) / 2 * np.sum(w ** 2)
  f_sk = _sq_obj(X, y, sk.coef_, sk.intercept_, pen)
  f_jr = _sq_obj(X, y, np.asarray(r.W[:, 0]), float(r.b[0]), pen)
  assert abs(f_jr - f_sk) <= 1e-10 * f_sk
  np.testing.assert_array_equal(np.abs(np.asarray(r.W[:, 0])) > 1e-9, np.abs(sk.coef_) > 1e-9)


def test_multitask_group_lasso_matches_sklearn(x64):
  X, Y = _data(60, 20, seed=1, T=3)
  a = 0.1
  sk = linear_model.MultiTaskLasso(alpha=a, tol=1e-14, max_iter=100_000).fit(X, Y)
  # sklearn: α Σ_j ‖W_j‖; jaxreg's group weight is √|g| = √T per row.
  r = _run(jnp.asarray(X), jnp.asarray(Y), datafits.Squared(),
           jr.GroupLasso(a / np.sqrt(3), axis=1))
  assert bool(r.converged)
  np.testing.assert_allclose(np.asarray(r.W), sk.coef_.T, atol=1e-8)
  np.testing.assert_allclose(np.asarray(r.b), sk.intercept_, atol=1e-8)


def test_anderson_and_gram_do_not_change_the_solution(x64):
  X, y = _data(100, 30, seed=2)
  args = (jnp.asarray(X), jnp.asarray(y)[:, None], datafits.Squared(), jr.L1(0.02))
  ref = _run(*args, gram=True, anderson=5)
  for gram, anderson in ((False, 5), (True, 0), (False, 0)):
    r = _run(*args, gram=gram, anderson=anderson)
    np.testing.assert_allclose(np.asarray(r.W), np.asarray(ref.W), atol=1e-9)


def test_huber_l1_satisfies_kkt(x64):
  X, y = _data(80, 10, seed=3)
  y[:5] += 20.0  # outliers: some residuals in the linear part of the loss
  a, eps = 0.01, 1.0
  r = _run(jnp.asarray(X), jnp.asarray(y)[:, None], datafits.Huber(eps), jr.L1(a), tol=1e-11,
           max_iter=20000)
  assert bool(r.converged)
  w, b = np.asarray(r.W[:, 0]), float(r.b[0])
  res = y - X @ w - b
  assert np.sum(np.abs(res) > eps) >= 3
  psi = np.clip(res, -eps, eps)            # −dH/dη
  g = -X.T @ psi / len(y)                  # gradient of the mean Huber loss in w
  on = np.abs(w) > 0
  np.testing.assert_allclose(g[on], -a * np.sign(w[on]), atol=1e-9)
  assert np.all(np.abs(g[~on]) <= a + 1e-9)
  assert abs(np.sum(psi)) / len(y) <= 1e-9


def test_vmap_over_alpha_equals_separate_solves(x64):
  X, y = _data(50, 25, seed=4)
  Xj, Yj = jnp.asarray(X), jnp.asarray(y)[:, None]
  alphas = jnp.array([0.3, 0.1, 0.03, 0.01])
  batched = jax.vmap(lambda a: _run(Xj, Yj, datafits.Squared(), jr.L1(a)).W)(alphas)
  for k, a in enumerate(alphas):
    one = _run(Xj, Yj, datafits.Squared(), jr.L1(a)).W
    np.testing.assert_allclose(np.asarray(batched[k]), np.asarray(one), atol=1e-9)


def test_mcp_reaches_a_stationary_point_below_lasso_start(x64):
  X, y = _data(60, 30, seed=5)
  a, gamma = 0.1, 3.0
  r = _run(jnp.asarray(X), jnp.asarray(y)[:, None], datafits.Squared(), jr.MCP(a, gamma))
  assert bool(r.converged)
  w = np.asarray(r.W[:, 0])
  b = float(r.b[0])
  g = -X.T @ (y - X @ w - b) / len(y)
  dP = np.where(np.abs(w) <= gamma * a, a * np.sign(w) - w / gamma, 0.0)
  on = w != 0
  np.testing.assert_allclose(g[on] + dP[on], 0.0, atol=1e-9)
  assert np.all(np.abs(g[~on]) <= a + 1e-9)


def test_float32_runs_and_converges():
  X, y = _data(40, 20, seed=6)
  r = _run(jnp.asarray(X, jnp.float32), jnp.asarray(y, jnp.float32)[:, None], datafits.Squared(),
           jr.L1(0.05), tol=1e-5)
  assert r.W.dtype == jnp.float32
  assert bool(r.converged)


def test_datafit_without_curvature_is_refused():
  X, y = _data(10, 3)
  coords = penalties.coordinates(jr.L1(0.1), 3, 1)
  with pytest.raises(ValueError, match="curvature"):
    cd.solve(jnp.asarray(X), jnp.abs(jnp.asarray(y))[:, None], datafits.Poisson(), coords,
             jnp.zeros((3, 1)), jnp.zeros(1))
