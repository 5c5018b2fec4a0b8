"""Cross-validation against scikit-learn's LassoCV / ElasticNetCV."""

import warnings

import jax
import numpy as np
import pytest
from sklearn import datasets, linear_model
from sklearn.model_selection import KFold

import jaxreg as jr

MAX_ITER = 100_000
TOL = 1e-10


def _sk_cv(X, y, alphas, cv, l1_ratio=1.0):
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    if l1_ratio == 1.0:
      m = linear_model.LassoCV(alphas=alphas, cv=cv, tol=TOL, max_iter=MAX_ITER)
    else:
      m = linear_model.ElasticNetCV(l1_ratio=l1_ratio, alphas=alphas, cv=cv, tol=TOL,
                                    max_iter=MAX_ITER)
    return m.fit(X, y)


def _check_against(res, m, n_folds):
  alphas = np.asarray(res.alphas)
  np.testing.assert_allclose(alphas, m.alphas_, rtol=1e-12)
  sk_mean = m.mse_path_.mean(axis=1)
  np.testing.assert_allclose(np.asarray(res.mse_path), m.mse_path_, rtol=1e-6)
  np.testing.assert_allclose(np.asarray(res.mse_mean), sk_mean, rtol=1e-6)
  np.testing.assert_allclose(np.asarray(res.mse_std), m.mse_path_.std(axis=1), rtol=1e-4,
                             atol=1e-6 * sk_mean.min())
  assert float(res.best_alpha) == pytest.approx(m.alpha_, rel=1e-12)
  # The one-standard-error rule computed from scikit-learn's fold errors.
  best = np.argmin(sk_mean)
  se = m.mse_path_.std(axis=1)[best] / np.sqrt(n_folds)
  assert float(res.alpha_1se) == pytest.approx(alphas[np.argmax(sk_mean <= sk_mean[best] + se)])
  scale = np.abs(m.coef_).max()
  np.testing.assert_allclose(np.asarray(res.coef), m.coef_, atol=1e-5 * scale)
  assert float(res.intercept) == pytest.approx(m.intercept_, abs=1e-5 * scale)


def test_lasso_cv_matches_lassocv(x64):
  X, y = datasets.load_diabetes(return_X_y=True)
  res = jr.linear.cross_validate(X, y, cv=5, tol=TOL, max_iter=MAX_ITER)
  assert res.mse_path.shape == (100, 5)
  m = _sk_cv(X, y, np.asarray(res.alphas), KFold(5))
  _check_against(res, m, 5)


def test_enet_cv_with_explicit_uneven_folds(x64):
  X, y = datasets.load_diabetes(return_X_y=True)
  rng = np.random.default_rng(0)
  perm = rng.permutation(len(y))
  folds = [(np.setdiff1d(perm, perm[a:b]), perm[a:b]) for a, b in [(0, 100), (100, 250), (250, 442)]]
  res = jr.linear.cross_validate(X, y, l1_ratio=0.7, cv=folds, tol=TOL, max_iter=MAX_ITER)
  m = _sk_cv(X, y, np.asarray(res.alphas), folds, l1_ratio=0.7)
  _check_against(res, m, 3)


def test_kfold_matches_sklearn():
  for n, k in [(11, 3), (10, 5), (7, 7)]:
    ours = jr.linear.cross_validation.kfold(n, k)
    for (tr, te), (str_, ste) in zip(ours, KFold(k).split(np.zeros(n))):
      np.testing.assert_array_equal(tr, str_)
      np.testing.assert_array_equal(te, ste)


def test_float32_cv_runs():
  X, y = datasets.load_diabetes(return_X_y=True)
  X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
  res = jr.linear.cross_validate(X, y.astype(np.float32), cv=5, tol=1e-5, max_iter=MAX_ITER)
  assert res.coef.dtype == np.float32
  assert np.all(np.isfinite(np.asarray(res.mse_mean)))
  m = _sk_cv(X.astype(np.float64), y, np.asarray(res.alphas, np.float64), KFold(5))
  np.testing.assert_allclose(np.asarray(res.mse_mean), m.mse_path_.mean(1), rtol=1e-3)


def test_cv_bad_input():
  X, y = datasets.load_diabetes(return_X_y=True)
  with pytest.raises(ValueError, match="more than the"):
    jr.linear.cross_validate(X[:4], y[:4], cv=5)
  with pytest.raises(ValueError, match="at least 2"):
    jr.linear.cross_validate(X, y, cv=1)
  with pytest.raises(ValueError, match="indices"):
    jr.linear.cross_validate(X, y, cv=[(np.arange(10), np.array([500]))])
  with pytest.raises(ValueError, match="l1_ratio"):
    jr.linear.cross_validate(X, y, l1_ratio=-0.1)
  with pytest.raises(ValueError, match="different numbers"):
    jr.linear.cross_validate(X, y[:10])


@pytest.mark.parametrize("datafit,penalty", [("logistic", jr.L1(1.0)), ("squared", jr.MCP(1.0, 3.0))],
                         ids=["logistic-l1", "squared-mcp"])
def test_weighted_generic_cv_equals_cv_on_repeated_rows(datafit, penalty):
  """Integer weights k: the grid, every fold's held-out loss and the refit
  of the data with row i repeated kᵢ times (its copies in row i's folds)."""
  rng = np.random.default_rng(11)
  n = 45
  X = rng.normal(size=(n, 5))
  y = X @ rng.normal(size=5) + rng.normal(size=n)
  if datafit == "logistic":
    y = (y > 0).astype(float)
  k = rng.integers(0, 3, size=n)
  k[:3] = (0, 2, 1)
  rep = np.repeat(np.arange(n), k)
  folds = [(np.flatnonzero(np.arange(n) % 3 != f), np.flatnonzero(np.arange(n) % 3 == f))
           for f in range(3)]
  copies = lambda rows: np.flatnonzero(np.isin(rep, rows))
  rep_folds = [(copies(tr), copies(te)) for tr, te in folds]
  with jax.enable_x64(True):
    a = jr.linear.cross_validate(X, y, penalty=penalty, datafit=datafit, cv=folds, n_alphas=5,
                                 tol=1e-10, sample_weight=k)
    b = jr.linear.cross_validate(X[rep], y[rep], penalty=penalty, datafit=datafit,
                                 cv=rep_folds, n_alphas=5, tol=1e-10)
  np.testing.assert_allclose(a.alphas, b.alphas, rtol=1e-12)
  np.testing.assert_allclose(a.mse_path, b.mse_path, rtol=1e-9, atol=1e-12)
  np.testing.assert_allclose(a.coefs, b.coefs, atol=1e-8)
  assert np.any(np.asarray(a.coefs) != 0)
