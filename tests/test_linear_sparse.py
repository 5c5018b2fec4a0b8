"""Sparse designs (``scipy.sparse``, ``BCOO``) in ``jr.linear``, never densified.

Oracles: scikit-learn's ``ElasticNet`` / ``ElasticNetCV`` (its sparse
coordinate descent, which centres through the column means as jaxreg does)
and celer's ``Lasso``, on the same CSR matrices; and a design whose dense
form would need 160 GB, which only a solver that never densifies can fit.
"""

import jax
import numpy as np
import pytest
import scipy.sparse as sp
from jax.experimental import sparse as jsparse
from sklearn.linear_model import ElasticNet, ElasticNetCV, Lasso

import jaxreg as jr
from jaxreg.linear import _sparse


def _problem(n=150, p=400, density=0.04, seed=0):
  rng = np.random.default_rng(seed)
  X = sp.random(n, p, density=density, random_state=seed, format="csr",
                data_rvs=lambda k: rng.normal(size=k))
  beta = np.zeros(p)
  beta[:12] = rng.normal(size=12) * 3
  y = X @ beta + 0.1 * rng.normal(size=n) + 2.0
  return X, y, rng


def _objective(X, y, w, b, alpha, r, s=None):
  s = np.ones(X.shape[0]) if s is None else s
  res = y - X @ w - b
  return (0.5 * np.sum(s * res * res) / np.sum(s) + alpha * r * np.abs(w).sum()
          + 0.5 * alpha * (1 - r) * w @ w)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_path_equals_sklearn(fit_intercept, l1_ratio, weighted):
  """Same objective to 1e-8 relative and the same support at every α."""
  X, y, rng = _problem()
  s = rng.uniform(0.0, 2.0, X.shape[0]) if weighted else None
  with jax.enable_x64(True):
    path = jr.linear.paths.sparse_enet_path(X, y, l1_ratio, n_alphas=8, eps=1e-2, tol=1e-12,
                                            fit_intercept=fit_intercept, sample_weight=s)
  assert bool(np.all(path.converged))
  for a, w, b in zip(np.asarray(path.alphas), np.asarray(path.coefs), np.asarray(path.intercepts)):
    ref = ElasticNet(alpha=a, l1_ratio=l1_ratio, fit_intercept=fit_intercept, tol=1e-14,
                     max_iter=1_000_000).fit(X, y, sample_weight=s)
    ours = _objective(X, y, w, b, a, l1_ratio, s)
    theirs = _objective(X, y, ref.coef_, ref.intercept_, a, l1_ratio, s)
    assert abs(ours - theirs) <= 1e-8 * theirs
    np.testing.assert_array_equal(w != 0, ref.coef_ != 0)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "bcoo"])
def test_every_sparse_format_gives_the_dense_answer(fmt):
  """Against scikit-learn on the dense matrix."""
  X, y, _ = _problem(seed=1)
  with jax.enable_x64(True):
    Xf = jsparse.BCOO.from_scipy_sparse(X) if fmt == "bcoo" else X.asformat(fmt)
    sparse = jr.linear.fit(Xf, y, jr.L1(0.02))
  dense = Lasso(alpha=0.02, tol=1e-14, max_iter=1_000_000).fit(X.toarray(), y)
  np.testing.assert_allclose(sparse.coef, dense.coef_, atol=1e-9)
  np.testing.assert_allclose(sparse.intercept, dense.intercept_, atol=1e-9)
  assert bool(sparse.converged)


def test_sparse_lasso_equals_celer():
  celer = pytest.importorskip("celer")
  X, y, _ = _problem(seed=2)
  yc = y - y.mean()
  with jax.enable_x64(True):
    ours = jr.linear.fit(X, yc, jr.L1(0.01), fit_intercept=False, tol=1e-12)
  ref = celer.Lasso(alpha=0.01, fit_intercept=False, tol=1e-12, max_iter=1000).fit(X, yc)
  w = np.asarray(ours.coef)
  fo, fr = _objective(X, yc, w, 0, 0.01, 1), _objective(X, yc, ref.coef_, 0, 0.01, 1)
  assert abs(fo - fr) <= 1e-8 * fr
  np.testing.assert_array_equal(w != 0, ref.coef_ != 0)


def test_sparse_cross_validation_equals_sklearn():
  X, y, _ = _problem(n=120, p=300, seed=3)
  with jax.enable_x64(True):
    ours = jr.linear.cross_validate(X, y, l1_ratio=0.8, cv=3, n_alphas=10, tol=1e-12)
  ref = ElasticNetCV(l1_ratio=0.8, cv=3, alphas=10, tol=1e-14, max_iter=1_000_000).fit(X, y)
  np.testing.assert_allclose(ours.alphas, ref.alphas_, rtol=1e-12)
  np.testing.assert_allclose(ours.mse_path, ref.mse_path_, rtol=1e-7)
  assert float(ours.best_alpha) == pytest.approx(ref.alpha_, rel=1e-12)
  np.testing.assert_allclose(ours.coef, ref.coef_, atol=1e-9)


def test_a_design_too_large_to_densify():
  """200,000 × 100,000 with 3 entries a row: dense, 160 GB in float64. A
  solver that formed X − 1x̄ᵀ, or any n × p array, could not run this."""
  n, p = 200_000, 100_000
  rng = np.random.default_rng(4)
  rows = np.repeat(np.arange(n), 3)
  cols = rng.integers(0, p, size=3 * n)
  cols[::3] = rng.integers(0, 20, size=n)       # 20 frequent features carry the signal
  X = sp.csr_array((np.ones(3 * n), (rows.astype(np.int32), cols.astype(np.int32))),
                   shape=(n, p))
  X.indices, X.indptr = X.indices.astype(np.int32), X.indptr.astype(np.int32)  # for scikit-learn
  beta = np.zeros(p)
  beta[:20] = rng.normal(size=20)
  y = X @ beta + 0.1 * rng.normal(size=n)
  with jax.enable_x64(True):
    path = jr.linear.lasso_path(X, y, n_alphas=3, eps=0.05, tol=1e-8)
  assert path.coefs.shape == (3, p)
  assert bool(np.all(path.converged))
  alpha = float(path.alphas[-1])
  celer = pytest.importorskip("celer")   # scikit-learn takes 17 s here, celer 0.4 s
  ref = celer.Lasso(alpha=alpha, tol=1e-10, fit_intercept=True).fit(X, y)
  w, b = np.asarray(path.coefs[-1]), float(path.intercepts[-1])
  ours, theirs = _objective(X, y, w, b, alpha, 1.0), _objective(X, y, ref.coef_, ref.intercept_,
                                                                 alpha, 1.0)
  assert abs(ours - theirs) <= 1e-6 * theirs
  np.testing.assert_array_equal(w != 0, ref.coef_ != 0)


def test_sparse_design_products_equal_dense():
  X, y, rng = _problem(n=40, p=30, density=0.2, seed=5)
  s = rng.uniform(0, 2, 40)
  s = s * 40 / s.sum()
  design, yc, y_mean = _sparse.design(_sparse.to_csc(X), y, s, True)
  D = X.toarray()
  x_mean = s @ D / 40
  Xc = np.sqrt(s)[:, None] * (D - x_mean)
  w = rng.normal(size=30) * (rng.random(30) < 0.3)
  r = rng.normal(size=40)
  np.testing.assert_allclose(design.matvec(w), Xc @ w, atol=1e-12)
  np.testing.assert_allclose(design.rmatvec(r), Xc.T @ r, atol=1e-12)
  cols = np.array([0, 4, 7, 29])
  np.testing.assert_allclose(design.gram(cols), Xc[:, cols].T @ Xc[:, cols], atol=1e-12)
  np.testing.assert_allclose(design.sq_norms(), (Xc * Xc).sum(0), atol=1e-12)
  np.testing.assert_allclose(yc, np.sqrt(s) * (y - s @ y / 40), atol=1e-12)


def test_bad_sparse_input_is_a_named_error():
  X, y, _ = _problem(seed=6)
  bad = X.copy()
  bad.data[3] = np.nan
  with pytest.raises(ValueError, match="X contains NaN or infinite values"):
    jr.linear.fit(bad, y, jr.L1(0.1))
  with pytest.raises(ValueError, match="a sparse X is supported for the squared loss"):
    jr.linear.fit(X, y > 2, jr.L1(0.1), loss="logistic")
  with pytest.raises(ValueError, match="a sparse X is supported for the squared loss"):
    jr.linear.fit(X, y, jr.MCP(0.1, 3.0))
  with pytest.raises(ValueError, match="y must be 1-D with one target per row of X"):
    jr.linear.fit(X, y[:-1], jr.L1(0.1))
  with pytest.raises(ValueError, match="sample_weight must be >= 0"):
    jr.linear.fit(X, y, jr.L1(0.1), sample_weight=-np.ones(X.shape[0]))
  Xb = jsparse.BCOO.from_scipy_sparse(X)
  with pytest.raises(TypeError, match="outside jax.jit"):
    jax.jit(lambda A: jr.linear.fit(A, y, jr.L1(0.1)).coef)(Xb)
