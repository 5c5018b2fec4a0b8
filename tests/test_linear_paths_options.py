"""``enet_path`` / ``lasso_path`` with ``positive=`` and ``sample_weight=``,
against scikit-learn's ``ElasticNet`` at every α of the path (float64);
``path`` and ``logistic_path`` with ``sample_weight=`` against scikit-learn's
``LogisticRegression`` and against repeated rows."""

import jax
import numpy as np
import pytest
from sklearn.linear_model import ElasticNet, LogisticRegression

import jaxreg as jr


def _data(n=70, p=12, seed=0):
  rng = np.random.default_rng(seed)
  X = rng.normal(size=(n, p))
  y = X @ (rng.normal(size=p) * (rng.random(p) < 0.6)) + rng.normal(size=n) + 1.5
  return X, y, rng


def _objective(X, y, w, b, alpha, r, s):
  res = y - X @ w - b
  return (0.5 * np.sum(s * res * res) / np.sum(s) + alpha * r * np.abs(w).sum()
          + 0.5 * alpha * (1 - r) * w @ w)


@pytest.mark.parametrize("positive,weighted", [(True, False), (False, True), (True, True)])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.6])
def test_path_options_equal_sklearn(positive, weighted, l1_ratio):
  X, y, rng = _data()
  s = rng.uniform(0, 2, size=len(y)) if weighted else None
  if weighted:
    s[:4] = 0
  with jax.enable_x64(True):
    res = jr.linear.enet_path(X, y, l1_ratio, n_alphas=6, eps=1e-2, tol=1e-12,
                              positive=positive, sample_weight=s)
  assert bool(np.all(res.converged))
  ss = np.ones(len(y)) if s is None else s
  for a, w, b in zip(np.asarray(res.alphas), np.asarray(res.coefs), np.asarray(res.intercepts)):
    ref = ElasticNet(alpha=a, l1_ratio=l1_ratio, positive=positive, tol=1e-14,
                     max_iter=1_000_000).fit(X, y, sample_weight=s)
    ours = _objective(X, y, w, b, a, l1_ratio, ss)
    theirs = _objective(X, y, ref.coef_, ref.intercept_, a, l1_ratio, ss)
    assert abs(ours - theirs) <= 1e-8 * theirs
    np.testing.assert_array_equal(w != 0, ref.coef_ != 0)
    if positive:
      assert np.all(w >= 0)


def test_default_grid_is_sklearns_also_when_positive():
  """With positive=True scikit-learn's grid starts at the largest positive
  correlation: planted here far below the largest absolute one."""
  from sklearn.linear_model import enet_path as sk_enet_path
  X, y, _ = _data(seed=1)
  y = y - 8.0 * X[:, 0]
  Xc, yc = X - X.mean(0), y - y.mean()
  assert np.max(Xc.T @ yc) < 0.5 * np.max(np.abs(Xc.T @ yc))
  with jax.enable_x64(True):
    a = jr.linear.lasso_path(X, y, n_alphas=5, positive=True)
    b = jr.linear.lasso_path(X, y, n_alphas=5)
  ref_pos = sk_enet_path(Xc, yc, l1_ratio=1.0, alphas=5, positive=True)[0]
  ref = sk_enet_path(Xc, yc, l1_ratio=1.0, alphas=5)[0]
  np.testing.assert_allclose(a.alphas, ref_pos, rtol=1e-12)
  np.testing.assert_allclose(b.alphas, ref, rtol=1e-12)
  assert float(a.alphas[0]) < 0.5 * float(b.alphas[0])


def test_positive_with_sparse_equals_dense():
  """The sparse route (FISTA on a BCOO) gives the dense route's grid and fits
  (coordinate descent: another algorithm)."""
  import scipy.sparse as sp
  X, y, _ = _data()
  with jax.enable_x64(True):
    a = jr.linear.lasso_path(sp.csr_array(X), y, n_alphas=4, positive=True, tol=1e-10)
    b = jr.linear.lasso_path(X, y, n_alphas=4, positive=True, tol=1e-10)
  np.testing.assert_allclose(a.alphas, b.alphas, rtol=1e-12)
  np.testing.assert_allclose(a.coefs, b.coefs, atol=1e-7)
  assert np.all(np.asarray(a.coefs) >= 0)


def _labels(y):
  return (y > np.median(y)).astype(float)


@pytest.mark.parametrize("entry", ["path", "logistic_path"])
def test_weighted_logistic_path_equals_sklearn_at_every_alpha(entry):
  # α = 1/(C Σᵢ sᵢ) is LogisticRegression(C).fit(X, y, sample_weight=s).
  X, y, rng = _data(n=60, p=6, seed=3)
  y = _labels(y)
  s = rng.uniform(0, 2, size=60)
  s[:5] = 0
  Cs = np.array([0.02, 0.2, 2.0])
  alphas = 1.0 / (Cs * s.sum())
  with jax.enable_x64(True):
    if entry == "path":
      res = jr.linear.path(X, y, jr.L2(1.0), "logistic", alphas=alphas, tol=1e-12,
                           sample_weight=s)
    else:
      res = jr.linear.logistic_path(X, y, "l2", alphas=alphas, tol=1e-12, sample_weight=s)
  assert bool(np.all(res.converged))
  for a, w, b in zip(np.asarray(res.alphas), np.asarray(res.coefs), np.asarray(res.intercepts)):
    ref = LogisticRegression(C=float(1.0 / (a * s.sum())), tol=1e-13,
                             max_iter=100_000).fit(X, y, sample_weight=s)
    np.testing.assert_allclose(w, ref.coef_[0], atol=1e-7)
    np.testing.assert_allclose(b, ref.intercept_[0], atol=1e-7)


@pytest.mark.parametrize("datafit,penalty", [("logistic", jr.L1(1.0)), ("poisson", jr.L1(1.0)),
                                             ("squared", jr.MCP(1.0, gamma=3.0)),
                                             ("multitask", jr.GroupLasso(1.0, axis=1))])
def test_weighted_path_equals_the_path_on_repeated_rows(datafit, penalty):
  """Integer weights k: the path (default grid included: α_max is the
  weighted one) of the data with row i repeated kᵢ times."""
  X, y, rng = _data(n=40, p=6, seed=4)
  if datafit == "logistic":
    y = _labels(y)
  elif datafit == "poisson":
    y = rng.poisson(np.exp(0.3 * X[:, 0])).astype(float)
  elif datafit == "multitask":
    y = np.stack([y, X[:, 1] + rng.normal(size=40)], axis=1)
  k = rng.integers(0, 4, size=40)
  k[:2] = (0, 3)
  rep = np.repeat(np.arange(40), k)
  with jax.enable_x64(True):
    a = jr.linear.path(X, y, penalty, datafit, n_alphas=5, eps=0.05, tol=1e-12,
                       sample_weight=k)
    b = jr.linear.path(X[rep], y[rep], penalty, datafit, n_alphas=5, eps=0.05, tol=1e-12)
  np.testing.assert_allclose(a.alphas, b.alphas, rtol=1e-12)
  np.testing.assert_allclose(a.coefs, b.coefs, atol=1e-8)
  np.testing.assert_allclose(a.intercepts, b.intercepts, atol=1e-8)
  assert np.any(np.asarray(a.coefs) != 0)


def test_weighted_logistic_path_default_grid_is_the_weighted_alpha_max():
  X, y, rng = _data(n=40, p=6, seed=5)
  y = _labels(y)
  k = rng.integers(0, 4, size=40)
  k[0] = 1
  rep = np.repeat(np.arange(40), k)
  with jax.enable_x64(True):
    a = jr.linear.logistic_path(X, y, n_alphas=4, sample_weight=k)
    b = jr.linear.logistic_path(X[rep], y[rep], n_alphas=4)
  np.testing.assert_allclose(a.alphas, b.alphas, rtol=1e-12)
  np.testing.assert_allclose(a.coefs, b.coefs, atol=1e-7)
