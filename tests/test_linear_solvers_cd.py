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


@pytest.mark.parametrize("compact", [True, False])
def test_working_sets_across_capacities_match_sklearn(x64, compact):
  # p ≫ n with a support of about n = 50: working sets gathered into the
  # 256-slot capacity (of 256 and 600) with Newton steps on nearly
  # rank-deficient supports (compact), or the program over all blocks (as
  # for p < 1024 by default).
  assert cd.capacities(600, (100,)) == (256, 600)
  rng = np.random.default_rng(7)
  X = rng.standard_normal((50, 600))
  y = X[:, :40] @ rng.standard_normal(40) + 0.1 * rng.standard_normal(50)
  a = 0.05
  sk = linear_model.Lasso(alpha=a, tol=1e-14, max_iter=1_000_000).fit(X, y)
  p = X.shape[1]
  co = penalties.coordinates(jr.L1(a), p, 1)
  r = jax.jit(lambda X, Y: cd.solve(X, Y, datafits.Squared(), co, jnp.zeros((p, 1)),
                                    jnp.zeros(1), tol=1e-12, max_iter=20000,
                                    compact=compact))(jnp.asarray(X), jnp.asarray(y)[:, None])
  assert bool(r.converged)
  assert np.sum(sk.coef_ != 0) > 40
  pen = lambda w: a * np.abs(w).sum()
  f_sk = _sq_obj(X, y, sk.coef_, sk.intercept_, pen)
  f_jr = _sq_obj(X, y, np.asarray(r.W[:, 0]), float(r.b[0]), pen)
  assert abs(f_jr - f_sk) <= 1e-10 * f_sk
  np.testing.assert_array_equal(np.asarray(r.W[:, 0]) != 0, sk.coef_ != 0)


def _gram_block(rng, m, n=80):
  XA = rng.standard_normal((m, n))
  y = rng.standard_normal(n)
  return cd._GramBlock(jnp.asarray(XA @ XA.T / n), jnp.asarray(XA @ y / n)[:, None]), XA, y


@pytest.mark.parametrize("kind", ["gram", "residual"])
def test_newton_step_lands_on_the_orthant_minimiser(x64, kind):
  # Lasso on a fixed sign pattern σ: ½wᵀQw − rᵀw + a·σᵀw is minimised where
  # Q_SS w_S = r_S − aσ_S. Build r so that a chosen w* is that minimiser;
  # from a start with w*'s signs, 20% away from it, one step gets there,
  # whether the working set is its Gram block or its columns and residual.
  rng = np.random.default_rng(8)
  m, a, n = 64, 0.05, 80
  data, XA, _ = _gram_block(rng, m, n)
  Q = np.asarray(data.QA)
  w_star = np.zeros(m)
  w_star[:10] = rng.choice([-1.0, 1.0], 10) * rng.uniform(0.5, 2.0, 10)
  r = np.asarray(data.rA[:, 0]).copy()
  r[:10] = Q[:10, :10] @ w_star[:10] + a * np.sign(w_star[:10])
  if kind == "gram":
    data = data._replace(rA=jnp.asarray(r)[:, None])
  else:
    # The targets whose XAᵀy/n is r (XA has full row rank, m < n).
    y = n * np.linalg.lstsq(XA, r, rcond=None)[0]
    data = cd._ResidualBlock(jnp.asarray(XA), jnp.asarray(y)[:, None], jnp.zeros((n, 1)),
                             datafits.Squared())
  start = w_star * (1 + 0.2 * rng.uniform(-1, 1, m))
  co = penalties.coordinates(jr.L1(a), m, 1)
  step = jax.jit(lambda w: cd._newton_steps(data, w, data.init(w, 0.0), jnp.arange(m), co,
                                            m)[0])
  out = np.asarray(step(jnp.asarray(start)[:, None]))[:, 0]
  np.testing.assert_allclose(out, w_star, atol=1e-10)
  # The same from a start in a different orthant: the step stops at the first
  # zero crossing (an active-set step) rather than jumping across.
  bad = start.copy()
  bad[0] = -0.01 * np.sign(w_star[0])
  out = np.asarray(step(jnp.asarray(bad)[:, None]))[:, 0]
  assert np.all(np.sign(out) * np.sign(bad) >= 0)


def test_newton_steps_never_raise_the_objective(x64):
  # Any separable penalty, any start: a step is kept only if it lowers the
  # working-set objective (MCP's concave part, Lp's, elastic net's curvature).
  rng = np.random.default_rng(9)
  m = 64
  data, XA, y = _gram_block(rng, m)
  Q, r = np.asarray(data.QA), np.asarray(data.rA[:, 0])
  for pen, f in [(jr.MCP(0.1, 3.0), None), (jr.ElasticNet(0.1, 0.5), None),
                 (jr.Lp(0.05, 0.5), None), (jr.L1(0.1), None)]:
    co = penalties.coordinates(pen, m, 1)
    step = jax.jit(lambda w, co=co: cd._newton_steps(data, w, data.init(w, None),
                                                     jnp.arange(m), co, m)[0])
    for _ in range(5):
      w = rng.standard_normal(m) * (rng.random(m) < 0.3)
      obj = lambda w: 0.5 * w @ Q @ w - r @ w + float(pen(jnp.asarray(w)))
      out = np.asarray(step(jnp.asarray(w)[:, None]))[:, 0]
      assert obj(out) <= obj(w) + 1e-12 * abs(obj(w))
      assert np.all((out == 0) | (w != 0))  # the step never leaves the support
