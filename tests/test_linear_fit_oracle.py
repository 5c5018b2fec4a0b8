"""jr.linear.fit against oracles it does not share code with: scikit-learn,
numpy.linalg.lstsq and the optimality conditions written out in NumPy.

Tolerances come from the solver's documented stopping rule (a duality gap of
tol·‖y_c‖², an optimality violation of tol times the largest possible
gradient) or from ε of the dtype, never from a previous jaxreg run.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn import datasets, linear_model

import jaxreg as jr
from jaxreg.linear.fit import ConvergenceWarning

EPS64 = float(np.finfo(np.float64).eps)


def _lasso_gap(X, y, w, alpha, l1_ratio=1.0):
  """scikit-learn's sum-form duality gap of ½‖y_c − X_c w‖² + n·pen(w)
  (formulation A, the rescaled residual as dual point), and the primal."""
  Xc, yc = X - X.mean(0), y - y.mean()
  n = len(y)
  l1, l2 = n * alpha * l1_ratio, n * alpha * (1 - l1_ratio)
  R = yc - Xc @ w
  primal = 0.5 * R @ R + l1 * np.abs(w).sum() + 0.5 * l2 * w @ w
  dual_norm = np.abs(Xc.T @ R - l2 * w).max()
  s = min(1.0, l1 / dual_norm) if dual_norm > 0 else 1.0
  dual = -0.5 * s * s * (R @ R + l2 * w @ w) + s * R @ yc
  return primal - dual, primal


def _wide_fold(n=60, p=2000):
  """The structure of the report: make_regression(150, 8000, 15 informative,
  random_state=3), training rows 30-149, shrunk to n × p for CI."""
  X, y = datasets.make_regression(n, p, n_informative=15, random_state=3)
  return X[n // 5:], y[n // 5:]


def test_wide_lasso_converges_to_sklearns_optimum(x64):
  # p ≫ n with a nearly interpolating solution: CD crawls there (scikit-learn
  # needs ~20 000 sweeps), and f8dd914 stopped at max_iter with more
  # non-zeros than rows and a gap of 1e-4·‖y‖², saying nothing.
  X, y = _wide_fold()
  n = len(y)
  yc = y - y.mean()
  with warnings.catch_warnings():
    warnings.simplefilter("error", ConvergenceWarning)
    res = jr.linear.fit(X, y, jr.L1(0.2))
  w = np.asarray(res.coef)
  gap, primal = _lasso_gap(X, y, w, 0.2)
  assert gap <= 1e-10 * (yc @ yc)
  assert bool(res.converged) and int(res.n_iter) < 1000
  # The centered X has rank n − 1: a lasso solution in general position has
  # at most that many non-zeros.
  assert np.count_nonzero(w) <= n - 1
  sk = linear_model.Lasso(alpha=0.2, tol=1e-10, max_iter=1_000_000).fit(X, y)
  gap_sk, primal_sk = _lasso_gap(X, y, sk.coef_, 0.2)
  # Both primals lie within their own gaps above the optimum.
  assert primal <= primal_sk + gap
  assert primal_sk <= primal + gap_sk + gap
  np.testing.assert_allclose(float(res.intercept), y.mean() - X.mean(0) @ w, rtol=1e-12)


def test_wide_lasso_path_converges(x64):
  X, y = _wide_fold()
  yc = y - y.mean()
  path = jr.linear.lasso_path(X, y, alphas=[0.2], tol=1e-10)
  gap, _ = _lasso_gap(X, y, np.asarray(path.coefs[0]), 0.2)
  assert gap <= 1e-10 * (yc @ yc)
  assert bool(path.converged[0])


def _logistic_kkt(X, y, w, b, a1, a2):
  """Largest violation of the optimality conditions of the mean log-loss +
  a1‖w‖₁ + a2/2‖w‖², intercept free, ∞-norm (closed form)."""
  z = X @ w + b
  r = 1 / (1 + np.exp(-z)) - y
  g = X.T @ r / len(y) + a2 * w
  v = np.where(w != 0, np.abs(g + a1 * np.sign(w)), np.maximum(np.abs(g) - a1, 0.0))
  return max(v.max(), abs(r.mean()))


def _logistic_obj(X, y, w, b, a1, a2):
  z = X @ w + b
  return np.mean(np.logaddexp(0, z) - y * z) + a1 * np.abs(w).sum() + 0.5 * a2 * w @ w


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_logistic_l1_large_C_is_optimal(x64, l1_ratio):
  # C = 1000 on make_classification(random_state=42): f8dd914 stopped on a
  # small relative change at a point violating the optimality conditions,
  # with a different support.
  X, y = datasets.make_classification(random_state=42)
  n = len(y)
  alpha = 1.0 / (n * 1000.0)
  pen = jr.L1(alpha) if l1_ratio == 1 else jr.ElasticNet(alpha, l1_ratio)
  res = jr.linear.fit(X, y, pen, loss="logistic")
  w, b = np.asarray(res.coef), float(res.intercept)
  a1, a2 = alpha * l1_ratio, alpha * (1 - l1_ratio)
  # The documented rule: violation ≤ tol·max(1, max_j mean|X_ij|).
  scale = max(1.0, np.abs(X).mean(0).max())
  assert _logistic_kkt(X, y, w, b, a1, a2) <= 1e-10 * scale
  assert bool(res.converged)
  # scikit-learn's saga, same objective (at C = 1000 it does not reach
  # tight tolerances in any reasonable time; the comparison is one-sided).
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    sk = linear_model.LogisticRegression(C=1000.0, l1_ratio=l1_ratio, solver="saga",
                                         max_iter=10_000).fit(X, y)
  f_jr = _logistic_obj(X, y, w, b, a1, a2)
  f_sk = _logistic_obj(X, y, sk.coef_[0], sk.intercept_[0], a1, a2)
  # jaxreg's point is optimal to rounding, so it is at least as low as any
  # other point up to the objective's rounding.
  assert f_jr <= f_sk + 100 * EPS64 * abs(f_sk)
  # The support is that of the optimality conditions: every zero
  # coefficient has |∇_j| strictly below a1 by more than the violation.
  path = jr.linear.logistic_path(X, y, penalty="elasticnet", l1_ratio=l1_ratio,
                                 alphas=[alpha], tol=1e-10)
  np.testing.assert_array_equal(np.asarray(path.coefs[0]) != 0, w != 0)


def _small_problem(seed=0, n=40, p=30):
  rng = np.random.default_rng(seed)
  X = rng.normal(size=(n, p))
  y = X[:, :5] @ np.arange(1.0, 6.0) + rng.normal(size=n)
  return X, y


@pytest.mark.parametrize("pen, loss, solver", [
    (jr.L1(1e-3), "squared", "cd"),
    (jr.L1(1e-3), "squared", "fista"),
    (jr.L1(1e-3), "logistic", "auto"),
    (jr.L2(1e-3), "logistic", "auto"),
])
def test_max_iter_is_a_cap_and_nonconvergence_is_loud(x64, pen, loss, solver):
  X, y = _small_problem()
  if loss == "logistic":
    y = (y > np.median(y)).astype(float)
  with pytest.warns(ConvergenceWarning, match="max_iter=2"):
    res = jr.linear.fit(X, y, pen, loss=loss, solver=solver, max_iter=2)
  assert int(res.n_iter) <= 2
  assert not bool(res.converged)
  with warnings.catch_warnings():
    warnings.simplefilter("error", ConvergenceWarning)
    ok = jr.linear.fit(X, y, pen, loss=loss, solver=solver)
  assert bool(ok.converged)


def test_converged_is_traced_under_jit_without_warning():
  X, y = _small_problem()
  f = jax.jit(lambda a: jr.linear.fit(X, y, jr.L1(a), max_iter=2).converged)
  with warnings.catch_warnings():
    warnings.simplefilter("error", ConvergenceWarning)
    assert not bool(f(1e-3))


def test_fit_batch_reports_convergence_per_problem(x64):
  X, y = _small_problem()
  Xs, ys = np.stack([X, X]), np.stack([y, y])
  with pytest.warns(ConvergenceWarning, match="2 of 2"):
    res = jr.linear.fit_batch(Xs, ys, jr.L1(jnp.array([1e-3, 1e-4])), max_iter=3)
  assert res.converged.shape == (2,) and not bool(np.any(res.converged))
  assert np.all(np.asarray(res.n_iter) <= 3)


@pytest.mark.parametrize("n, p, fit_intercept", [(5, 4, True), (5, 4, False), (5, 8, True),
                                                 (6, 6, False)])
def test_l2_zero_is_lstsq_minimum_norm(x64, n, p, fit_intercept):
  # f8dd914 refused n = 5, p = 4 (full rank once centered) and every p ≥ n.
  rng = np.random.default_rng(n * p)
  X = rng.normal(size=(n, p))
  y = rng.normal(size=n)
  Xc, yc = (X - X.mean(0), y - y.mean()) if fit_intercept else (X, y)
  ref = np.linalg.lstsq(Xc, yc, rcond=None)[0]
  res = jr.linear.fit(X, y, jr.L2(0.0), fit_intercept=fit_intercept)
  path = jr.linear.ridge_path(X, y, [1.0, 0.0], fit_intercept=fit_intercept)
  # Backward-stable SVD solves: relative error a small multiple of κ·ε.
  s = np.linalg.svd(Xc, compute_uv=False)
  s = s[s > max(n, p) * EPS64 * s[0]]
  bound = 100 * (s[0] / s[-1]) * EPS64 * np.linalg.norm(ref)
  assert np.linalg.norm(np.asarray(res.coef) - ref) <= bound
  assert np.linalg.norm(np.asarray(path.coefs[1]) - ref) <= bound
  assert bool(path.converged[1])


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), 0.0, -1e-3])
def test_tol_checked_in_fit_and_fit_batch(bad):
  X, y = _small_problem()
  with pytest.raises(ValueError, match="tol"):
    jr.linear.fit(X, y, jr.L1(0.1), tol=bad)
  with pytest.raises(ValueError, match="tol"):
    jr.linear.fit_batch(X[None], y[None], jr.L1(0.1), tol=bad)


@pytest.mark.parametrize("bad, err", [(0, ValueError), (-3, ValueError), (2.5, TypeError),
                                      (True, TypeError)])
def test_max_iter_checked_in_fit_and_fit_batch(bad, err):
  X, y = _small_problem()
  with pytest.raises(err, match="max_iter"):
    jr.linear.fit(X, y, jr.L1(0.1), max_iter=bad)
  with pytest.raises(err, match="max_iter"):
    jr.linear.fit_batch(X[None], y[None], jr.L1(0.1), max_iter=bad)


# Ported from scikit-learn's linear_model/tests/test_coordinate_descent.py.

def test_lasso_toy():
  X = np.array([[-1.0], [0.0], [1.0]])
  y = np.array([-1.0, 0.0, 1.0])
  for alpha, coef in [(1e-8, 1.0), (0.1, 0.85), (0.5, 0.25), (1.0, 0.0)]:
    res = jr.linear.fit(X, y, jr.L1(alpha))
    # float32: the closed form 1 − 1.5α, to a few ε.
    np.testing.assert_allclose(np.asarray(res.coef), [coef], atol=1e-6)
    assert bool(res.converged)


def test_enet_toy():
  X = np.array([[-1.0], [0.0], [1.0]])
  y = np.array([-1.0, 0.0, 1.0])
  # Closed form on centered 1-d data with ‖x‖²/n = 2/3:
  # w = (2/3 − α r)₊ / (2/3 + α(1 − r)).
  for alpha, r in [(1e-8, 1.0), (0.5, 0.3), (0.5, 0.5)]:
    res = jr.linear.fit(X, y, jr.ElasticNet(alpha, r))
    want = max(2 / 3 - alpha * r, 0.0) / (2 / 3 + alpha * (1 - r))
    np.testing.assert_allclose(np.asarray(res.coef), [want], atol=1e-6)


def test_lasso_zero():
  X = np.zeros((3, 1))
  y = np.zeros(3)
  res = jr.linear.fit(X, y, jr.L1(0.1))
  assert np.asarray(res.coef).tolist() == [0.0] and bool(res.converged)


def test_vmapped_fit_stops_on_the_gap(x64):
  # Under jax.vmap fit runs plain cyclic CD (its loops batch); it stops, as
  # the working-set solver, on scikit-learn's two conditions, and says so.
  X, y = _small_problem()
  yc = y - y.mean()
  alphas = jnp.array([1e-1, 1e-2, 1e-3])
  res = jax.vmap(lambda a: jr.linear.fit(X, y, jr.L1(a)))(alphas)
  assert res.converged.shape == (3,) and bool(np.all(res.converged))
  for k, a in enumerate(np.asarray(alphas)):
    gap, _ = _lasso_gap(X, y, np.asarray(res.coef[k]), a)
    assert gap <= 1e-10 * (yc @ yc)
