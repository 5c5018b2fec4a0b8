"""Paths (ridge, lasso, elastic net, logistic) against scikit-learn."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn import datasets, linear_model
from sklearn.preprocessing import StandardScaler

import jaxreg as jr

# One max_iter everywhere: it is a static argument, so sharing it shares the
# compiled programs between tests.
MAX_ITER = 100_000
TOL = 1e-10


def _diabetes():
  return datasets.load_diabetes(return_X_y=True)


def _p_greater_than_n():
  return datasets.make_regression(60, 200, n_informative=10, noise=1.0, random_state=0)


def _sk_enet_path(X, y, l1_ratio, alphas):
  Xc, yc = X - X.mean(0), y - y.mean()
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    _, coefs, _ = linear_model.enet_path(Xc, yc, l1_ratio=l1_ratio, alphas=alphas, tol=TOL,
                                         max_iter=MAX_ITER)
  return coefs.T


def _assert_matches_sklearn(path, X, y, l1_ratio):
  alphas = np.asarray(path.alphas)
  assert np.all(np.diff(alphas) < 0)
  sk = _sk_enet_path(X, y, l1_ratio, alphas)
  ours = np.asarray(path.coefs)
  scale = np.abs(sk).max()
  np.testing.assert_allclose(ours, sk, rtol=0, atol=1e-5 * scale)
  # Same support at every α: exact zeros in both solvers.
  np.testing.assert_array_equal(ours != 0, sk != 0)
  icpt = y.mean() - ours @ X.mean(0)
  np.testing.assert_allclose(np.asarray(path.intercepts), icpt, rtol=1e-10, atol=1e-8 * scale)
  yc = y - y.mean()
  assert np.all(np.asarray(path.dual_gaps) <= TOL * (yc @ yc))


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_diabetes_path_matches_sklearn(x64, l1_ratio):
  X, y = _diabetes()
  path = jr.linear.enet_path(X, y, l1_ratio=l1_ratio, tol=TOL, max_iter=MAX_ITER)
  assert path.coefs.shape == (100, 10)
  _assert_matches_sklearn(path, X, y, l1_ratio)


def test_default_grid_matches_sklearn(x64):
  X, y = _diabetes()
  Xc, yc = X - X.mean(0), y - y.mean()
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    sk_alphas, _, _ = linear_model.lasso_path(Xc, yc, eps=1e-3, alphas=100)
  path = jr.linear.lasso_path(X, y, tol=TOL, max_iter=MAX_ITER)
  np.testing.assert_allclose(np.asarray(path.alphas), sk_alphas, rtol=1e-12)
  # α_max is the smallest α with an all-zero solution.
  assert np.all(np.asarray(path.coefs[0]) == 0)
  assert np.any(np.asarray(path.coefs[1]) != 0)
  # One sweep confirms w = 0, as in scikit-learn (which also sweeps once).
  assert int(path.n_iter[0]) == 1 and bool(path.converged[0])


def test_p_greater_than_n_lasso_matches_sklearn(x64):
  X, y = _p_greater_than_n()
  path = jr.linear.lasso_path(X, y, n_alphas=30, eps=1e-2, tol=TOL, max_iter=MAX_ITER)
  _assert_matches_sklearn(path, X, y, 1.0)


def test_gram_and_residual_modes_agree(x64):
  X, y = _diabetes()
  a = jr.linear.lasso_path(X, y, tol=TOL, max_iter=MAX_ITER, precompute=True)
  b = jr.linear.lasso_path(X, y, tol=TOL, max_iter=MAX_ITER, precompute=False)
  scale = np.abs(np.asarray(a.coefs)).max()
  np.testing.assert_allclose(np.asarray(a.coefs), np.asarray(b.coefs), atol=1e-6 * scale)


def test_float32_close_to_sklearn():
  X, y = _diabetes()
  X32 = StandardScaler().fit_transform(X).astype(np.float32)
  y32 = (y - y.mean()).astype(np.float32)
  path = jr.linear.lasso_path(X32, y32, tol=1e-6, max_iter=MAX_ITER)
  assert path.coefs.dtype == jnp.float32 and path.alphas.dtype == jnp.float32
  assert np.all(np.isfinite(np.asarray(path.coefs)))
  sk = _sk_enet_path(X32.astype(np.float64), y32.astype(np.float64), 1.0,
                     np.asarray(path.alphas, np.float64))
  scale = np.abs(sk).max()
  np.testing.assert_allclose(np.asarray(path.coefs), sk, atol=2e-3 * scale)
  # The certified gap respects the float32 tolerance floor.
  floor = 100 * np.finfo(np.float32).eps
  assert np.all(np.asarray(path.dual_gaps) <= max(1e-6, floor) * float(y32 @ y32) * 1.0001)


def test_no_intercept(x64):
  X, y = _diabetes()
  X = X + 1.0
  path = jr.linear.lasso_path(X, y, fit_intercept=False, tol=TOL, max_iter=MAX_ITER)
  assert np.all(np.asarray(path.intercepts) == 0)
  for k in (10, 50, 99):
    a = float(path.alphas[k])
    m = linear_model.Lasso(alpha=a, fit_intercept=False, tol=TOL, max_iter=MAX_ITER).fit(X, y)
    np.testing.assert_allclose(np.asarray(path.coefs[k]), m.coef_, atol=1e-5 * np.abs(m.coef_).max())


@pytest.mark.parametrize("shape", [(80, 6), (15, 40)])
def test_ridge_path_matches_sklearn_ridge(x64, shape):
  X, y = datasets.make_regression(*shape, noise=3.0, random_state=1)
  X = X + 2.0  # non-centered features exercise the intercept
  n = shape[0]
  alphas = np.geomspace(10.0, 1e-4, 7)
  path = jr.linear.ridge_path(X, y, alphas)
  assert path.coefs.shape == (7, shape[1])
  for k, a in enumerate(np.asarray(path.alphas)):
    m = linear_model.Ridge(alpha=n * a, solver="svd").fit(X, y)
    np.testing.assert_allclose(np.asarray(path.coefs[k]), m.coef_, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(float(path.intercepts[k]), m.intercept_, rtol=1e-8, atol=1e-9)
  assert np.all(np.asarray(path.dual_gaps) == 0)


def test_ridge_path_vmaps_over_targets(x64):
  X, y = datasets.make_regression(50, 4, random_state=2)
  ys = np.stack([y, 2 * y + 1])
  out = jax.vmap(lambda t: jr.linear.ridge_path(X, t, jnp.array([0.1, 1.0])).coefs)(ys)
  for i in range(2):
    np.testing.assert_allclose(out[i], jr.linear.ridge_path(X, ys[i], jnp.array([0.1, 1.0])).coefs,
                               rtol=1e-10)


def test_lasso_path_under_jit(x64):
  X, y = datasets.make_regression(30, 3, random_state=3)
  f = jax.jit(lambda X, y: jr.linear.lasso_path(X, y, n_alphas=5, tol=TOL, max_iter=MAX_ITER))
  a = f(X, y)
  b = jr.linear.lasso_path(X, y, n_alphas=5, tol=TOL, max_iter=MAX_ITER)
  assert int(jnp.sum(b.coefs[-1] != 0)) > 0
  np.testing.assert_allclose(a.coefs, b.coefs, rtol=1e-9, atol=1e-12)


def _breast_cancer():
  X, y = datasets.load_breast_cancer(return_X_y=True)
  return StandardScaler().fit_transform(X), y


def test_logistic_l1_path_matches_saga(x64):
  X, y = _breast_cancer()
  n = len(y)
  path = jr.linear.logistic_path(X, y, penalty="l1", n_alphas=4, eps=3e-2, tol=1e-10)
  alphas = np.asarray(path.alphas)
  assert np.all(np.asarray(path.dual_gaps) < 1e-8)
  for k in (1, 3):
    with warnings.catch_warnings():
      warnings.simplefilter("ignore")
      m = linear_model.LogisticRegression(C=1 / (n * alphas[k]), l1_ratio=1.0, solver="saga",
                                          tol=1e-12, max_iter=100_000).fit(X, y)
    scale = np.abs(m.coef_).max()
    np.testing.assert_allclose(np.asarray(path.coefs[k]), m.coef_[0], atol=1e-5 * scale)
    np.testing.assert_allclose(float(path.intercepts[k]), m.intercept_[0], atol=1e-5 * scale)
    np.testing.assert_array_equal(np.asarray(path.coefs[k]) != 0, np.abs(m.coef_[0]) > 1e-9 * scale)


def test_logistic_l2_path_matches_lbfgs(x64):
  X, y = _breast_cancer()
  n = len(y)
  # Labels given as two arbitrary values: the larger is the positive class.
  labels = np.where(y == 1, 7.0, -3.0)
  alphas = np.array([1e-1, 1e-2, 1e-3, 1e-4])
  path = jr.linear.logistic_path(X, labels, penalty="l2", alphas=alphas, tol=1e-10)
  for k, a in enumerate(np.asarray(path.alphas)):
    with warnings.catch_warnings():
      warnings.simplefilter("ignore")
      m = linear_model.LogisticRegression(C=1 / (n * a), l1_ratio=0.0, solver="lbfgs",
                                          tol=1e-12, max_iter=100_000).fit(X, y)
    scale = np.abs(m.coef_).max()
    np.testing.assert_allclose(np.asarray(path.coefs[k]), m.coef_[0], atol=1e-5 * scale)
    np.testing.assert_allclose(float(path.intercepts[k]), m.intercept_[0], atol=1e-5 * scale)


def test_logistic_float32_runs():
  X, y = _breast_cancer()
  path = jr.linear.logistic_path(X.astype(np.float32), y, penalty="elasticnet", l1_ratio=0.5,
                                 n_alphas=4, eps=3e-2)
  assert path.coefs.dtype == jnp.float32
  assert np.all(np.isfinite(np.asarray(path.coefs)))
  with jax.enable_x64(True):
    ref = jr.linear.logistic_path(X, y, penalty="elasticnet", l1_ratio=0.5,
                                  alphas=np.asarray(path.alphas, np.float64), tol=1e-10)
  scale = np.abs(np.asarray(ref.coefs)).max()
  np.testing.assert_allclose(np.asarray(path.coefs), np.asarray(ref.coefs), atol=1e-3 * scale)


def test_bad_input_raises():
  X, y = _diabetes()
  with pytest.raises(ValueError, match="different numbers of samples"):
    jr.linear.lasso_path(X, y[:-1])
  Xn = X.copy()
  Xn[3, 2] = np.nan
  with pytest.raises(ValueError, match="X contains NaN"):
    jr.linear.enet_path(Xn, y)
  with pytest.raises(ValueError, match="NaN"):
    jr.linear.ridge_path(Xn, y, [1.0])
  with pytest.raises(ValueError, match="l1_ratio"):
    jr.linear.enet_path(X, y, l1_ratio=1.5)
  with pytest.raises(ValueError, match="alphas"):
    jr.linear.lasso_path(X, y, alphas=[1.0, 0.0])
  with pytest.raises(ValueError, match="alphas"):
    jr.linear.ridge_path(X, y, [-1.0])
  with pytest.raises(ValueError, match="explicit alphas"):
    jr.linear.enet_path(X, y, l1_ratio=0.0)
  with pytest.raises(ValueError, match="two distinct labels"):
    jr.linear.logistic_path(X, np.arange(len(y)) % 3)
  with pytest.raises(ValueError, match="penalty"):
    jr.linear.logistic_path(X, y > 100, penalty="l3")
  with pytest.raises(ValueError, match="2-D"):
    jr.linear.lasso_path(X[:, 0], y)
  with pytest.raises(TypeError, match="numeric"):
    jr.linear.lasso_path(np.array([["a"], ["b"]]), np.array([1.0, 2.0]))


# --- few α with large jumps: prioritized working sets ------------------------

@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("shape", [(100, 300), (300, 150)])
def test_few_alphas_with_large_jumps_match_sklearn(x64, shape, l1_ratio):
  # One α far below α_max, then three widely spaced ones: nearly every
  # feature passes the strong rule, so the working set is cut down by
  # priority, grown, and rebuilt (residual mode for p > n, Gram mode else).
  X, y = datasets.make_regression(*shape, n_informative=100, noise=1.0, random_state=4)
  Xc, yc = X - X.mean(0), y - y.mean()
  amax = np.max(np.abs(Xc.T @ yc)) / (shape[0] * l1_ratio)
  for alphas in ([amax / 100], [amax / 3, amax / 30, amax / 300]):
    path = jr.linear.enet_path(X, y, l1_ratio=l1_ratio, alphas=alphas, tol=TOL,
                               max_iter=MAX_ITER)
    assert np.all(np.asarray(path.n_iter) < MAX_ITER)
    assert int(np.sum(np.asarray(path.coefs[-1]) != 0)) > 64  # more than one capacity
    _assert_matches_sklearn(path, X, y, l1_ratio)


def test_weighted_gap_is_sklearn_gap_for_equal_weights(x64):
  from jaxreg.linear import _coordinate_descent as cd
  X, y = _p_greater_than_n()
  X, y = jnp.asarray(X - X.mean(0)), jnp.asarray(y - y.mean())
  w = jnp.asarray(np.random.default_rng(0).normal(size=X.shape[1]) * (np.arange(200) < 20))
  r = y - X @ w
  xtr, r2, ry = r @ X, r @ r, r @ y
  d = jnp.sum(X * X, axis=0)
  for l1, l2 in ((30.0, 0.0), (30.0, 5.0)):
    a = cd.duality_gap(w, xtr, l1, l2, r2, ry)
    b = cd.weighted_gap(w, xtr, jnp.full(200, l1), l2, r2, ry, d)
    np.testing.assert_allclose(float(b), float(a), rtol=1e-12)
    assert float(a) > 0


def test_working_set_capacities():
  from jaxreg.linear import _coordinate_descent as cd
  assert cd._buckets(1000, 500) == (64, 256, 500, 1000)
  assert cd._buckets(2000, 200) == (64, 200, 400, 800, 2000)
  assert cd._buckets(500, 500) == (64, 256, 500)
  # A capacity within 1.25x of the next (1.6x below 256) is dropped: one
  # branch fewer.
  assert cd._buckets(300, 5000) == (64, 300)
  assert cd._buckets(100, 20000) == (100,)
  assert cd._buckets(10, 442) == (10,)


def test_wide_paths_share_a_program_across_nearby_widths(x64):
  """Above 1024 features the solver is compiled for p rounded up to a
  multiple of 128 (zero columns appended): 1030 and 1100 features share one
  program, and the padded path is still scikit-learn's."""
  from jaxreg.linear import _coordinate_descent as cd
  from jaxreg.linear import paths
  assert paths._bucket_p(1000) == 1000 and paths._bucket_p(1030) == paths._bucket_p(1100) == 1152
  rng = np.random.default_rng(3)
  before = cd.residual_path._cache_size()
  for p in (1030, 1100):
    X = rng.standard_normal((40, p))
    y = X[:, :4] @ np.array([2.0, -1.5, 1.0, 0.5]) + 0.1 * rng.standard_normal(40)
    res = jr.linear.lasso_path(X, y, n_alphas=8, eps=0.05, tol=1e-10)
    assert res.coefs.shape == (8, p)
    Xc, yc = X - X.mean(0), y - y.mean()
    _, sk, _ = linear_model.lasso_path(Xc, yc, alphas=np.asarray(res.alphas), tol=1e-12,
                                       max_iter=100_000)
    np.testing.assert_allclose(res.coefs, sk.T, atol=1e-7)
  assert cd.residual_path._cache_size() == before + 1
