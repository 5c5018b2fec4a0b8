"""Sparse designs in the generic engine: any datafit × penalty on a sparse X
(FISTA on a BCOO), in fit, path, cross_validate, tune and tune_cv, and the
estimators' positive=True and multi-target y on sparse data.

Oracles: scikit-learn (``PoissonRegressor``, ``Lasso``/``ElasticNet`` with
``positive`` and 2-D y, ``enet_path(positive=True)``, ``LassoCV``) on the
same CSR matrices; repeated rows for integer weights; MCP's subdifferential
written out in NumPy; jaxreg's dense solvers (coordinate descent, proximal
Newton: other algorithms) on the densified copy.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from jax.experimental import sparse as jsparse
from sklearn import linear_model

import jaxreg as jr
import jaxreg.sklearn as js


def _problem(n=120, p=30, density=0.3, seed=0):
  rng = np.random.default_rng(seed)
  X = sp.random(n, p, density=density, random_state=seed, format="csr",
                data_rvs=lambda k: rng.normal(size=k))
  beta = np.zeros(p)
  beta[:5] = 2.0 * rng.normal(size=5)
  y = X @ beta + 0.3 * rng.normal(size=n) + 1.0
  return X, y, rng


@pytest.fixture
def no_densify(monkeypatch):
  """Fails a test that makes an (n, p) dense copy of a SciPy sparse X."""
  shapes = set()
  for cls in (sp.csr_array, sp.csc_array, sp.coo_array, sp.csr_matrix, sp.csc_matrix):
    original = cls.toarray

    def guarded(self, *a, _original=original, **k):
      if tuple(self.shape) in shapes:
        pytest.fail(f"densified a {self.shape} sparse array")
      return _original(self, *a, **k)

    monkeypatch.setattr(cls, "toarray", guarded)
  return shapes


def test_sparse_poisson_l2_equals_sklearn(x64, no_densify):
  X, _, rng = _problem(seed=1)
  y = rng.poisson(np.exp(X @ np.r_[0.4, -0.3, 0.2, np.zeros(27)] + 0.2))
  ref = linear_model.PoissonRegressor(alpha=0.05, tol=1e-12, max_iter=10_000).fit(X, y)
  no_densify.add(X.shape)
  res = jr.linear.fit(X, y, jr.L2(0.05), loss="poisson", tol=1e-10)
  assert bool(res.converged)
  np.testing.assert_allclose(np.asarray(res.coef), ref.coef_, atol=1e-7)
  np.testing.assert_allclose(float(res.intercept), ref.intercept_, atol=1e-7)


def _mcp_violation(X, y, w, b, alpha, gamma):
  """Largest distance from −∇f to MCP's subdifferential (f the mean squared
  loss), and |∂f/∂b|."""
  n = X.shape[0]
  r = y - X @ w - b
  g = -(X.T @ r) / n
  a = np.abs(w)
  # MCP'(t) = sign(t)(α − |t|/γ) on 0 < |t| ≤ γα, 0 beyond; [−α, α] at 0.
  inner = (a > 0) & (a <= gamma * alpha)
  viol = np.where(a == 0, np.maximum(np.abs(g) - alpha, 0.0),
                  np.abs(g + np.where(inner, np.sign(w) * (alpha - a / gamma), 0.0)))
  return max(viol.max(), abs(np.mean(r)))


def test_sparse_mcp_is_stationary_and_equals_dense_cd_where_convex(x64, no_densify):
  """With γ above 1/λ_min(XᵀX/n) the MCP objective is strictly convex: one
  minimiser, which dense coordinate descent must also find."""
  X, y, _ = _problem(n=400, p=12, density=0.6, seed=2)
  D = X.toarray()
  Dc = D - D.mean(0)
  lam_min = np.linalg.eigvalsh(Dc.T @ Dc / len(y))[0]
  gamma, alpha = 2.0 / lam_min, 0.05
  no_densify.add(X.shape)
  res = jr.linear.fit(X, y, jr.MCP(alpha, gamma), tol=1e-11)
  assert bool(res.converged)
  w, b = np.asarray(res.coef), float(res.intercept)
  assert _mcp_violation(D, y, w, b, alpha, gamma) <= 1e-8
  dense = jr.linear.fit(D, y, jr.MCP(alpha, gamma), tol=1e-12, solver="cd")
  np.testing.assert_allclose(w, np.asarray(dense.coef), atol=1e-7)
  np.testing.assert_array_equal(w != 0, np.asarray(dense.coef) != 0)


@pytest.mark.parametrize("pen, loss", [
    (jr.L1(0.02), "huber"),
    (jr.GroupLasso(0.05, groups=np.repeat(np.arange(10), 3)), "squared"),
])
def test_sparse_weights_equal_repeated_rows(x64, pen, loss):
  """Integer weights k give the fit on the rows repeated k times (both sparse),
  and the dense engine (another algorithm) agrees."""
  X, y, rng = _problem(seed=3)
  k = rng.integers(0, 3, X.shape[0])
  k[0] = 1
  reps = np.repeat(np.arange(X.shape[0]), k)
  a = jr.linear.fit(X, y, pen, loss, sample_weight=k, tol=1e-10)
  b = jr.linear.fit(X[reps], y[reps], pen, loss, tol=1e-10)
  c = jr.linear.fit(X.toarray(), y, pen, loss, sample_weight=k, tol=1e-10)
  for ref in (b, c):
    np.testing.assert_allclose(np.asarray(a.coef), np.asarray(ref.coef), atol=2e-6)
    np.testing.assert_allclose(np.asarray(a.intercept), np.asarray(ref.intercept), atol=2e-6)


def test_bcoo_input_and_warm_start(x64):
  X, y, _ = _problem(seed=4)
  pen = jr.MCP(0.05, 3.0)
  a = jr.linear.fit(jsparse.BCOO.from_scipy_sparse(X), y, pen, "huber", tol=1e-10)
  b = jr.linear.fit(X, y, pen, "huber", tol=1e-10)
  np.testing.assert_allclose(np.asarray(a.coef), np.asarray(b.coef), atol=1e-12)
  warm = jr.linear.fit(X, y, jr.L1(0.02), "huber", tol=1e-10,
                       init=jr.linear.fit(X, y, jr.L1(0.04), "huber", tol=1e-10))
  cold = jr.linear.fit(X, y, jr.L1(0.02), "huber", tol=1e-10)
  np.testing.assert_allclose(np.asarray(warm.coef), np.asarray(cold.coef), atol=1e-7)
  # From the solution itself, the first check (after 10 steps at most) stops it.
  assert int(jr.linear.fit(X, y, jr.L1(0.02), "huber", tol=1e-10, init=cold).n_iter) <= 10


def test_sparse_positive_enet_path_equals_sklearn(x64, no_densify):
  """positive=True on a sparse X, weighted: scikit-learn's grid, objective
  to 1e-8 relative and the same support at every α."""
  X, y, rng = _problem(seed=5)
  s = rng.uniform(0.0, 2.0, X.shape[0])
  no_densify.add(X.shape)
  path = jr.linear.enet_path(X, y, 0.7, n_alphas=6, eps=1e-2, positive=True, tol=1e-12,
                             sample_weight=s)
  no_densify.clear()
  for a, w, b in zip(np.asarray(path.alphas), np.asarray(path.coefs),
                     np.asarray(path.intercepts)):
    ref = linear_model.ElasticNet(alpha=a, l1_ratio=0.7, positive=True, tol=1e-14,
                                  max_iter=1_000_000).fit(X, y, sample_weight=s)
    obj = lambda w_, b_: (0.5 * np.sum(s * (y - X @ w_ - b_) ** 2) / np.sum(s)
                          + a * 0.7 * np.abs(w_).sum() + 0.5 * a * 0.3 * w_ @ w_)
    theirs = obj(ref.coef_, ref.intercept_)
    assert abs(obj(w, b) - theirs) <= 1e-8 * theirs
    np.testing.assert_array_equal(w != 0, ref.coef_ != 0)
    assert np.all(w >= 0)
  # scikit-learn's positive grid: the largest weighted positive correlation.
  sw = s * len(s) / s.sum()
  xm, ym = sw @ X.toarray() / len(s), sw @ y / len(s)
  top = np.max((X.toarray() - xm).T @ (sw * (y - ym))) / (len(s) * 0.7)
  np.testing.assert_allclose(float(path.alphas[0]), top, rtol=1e-12)


def test_sparse_generic_cv_and_its_paths_equal_dense(x64):
  """Cross-validation of a group-lasso Huber model: the held-out losses and
  the full-data path (``path`` on the sparse X, FISTA) equal the dense
  engine's (proximal Newton)."""
  X, y, _ = _problem(seed=6)
  pen = jr.GroupLasso(1.0, groups=np.repeat(np.arange(10), 3))
  kw = dict(penalty=pen, datafit="huber", cv=3, n_alphas=5, tol=1e-10, max_iter=5000)
  cv_s = jr.linear.cross_validate(X, y, **kw)
  cv_d = jr.linear.cross_validate(X.toarray(), y, **kw)
  np.testing.assert_allclose(np.asarray(cv_s.alphas), np.asarray(cv_d.alphas), rtol=1e-12)
  np.testing.assert_allclose(np.asarray(cv_s.mse_path), np.asarray(cv_d.mse_path), rtol=1e-6)
  np.testing.assert_allclose(np.asarray(cv_s.coefs), np.asarray(cv_d.coefs), atol=1e-6)
  assert float(cv_s.best_alpha) == pytest.approx(float(cv_d.best_alpha), rel=1e-12)


def _lasso_val(Xt, yt, Xv, yv, grid):
  return np.array([np.mean((yv - linear_model.Lasso(alpha=a, tol=1e-12, max_iter=100_000)
                            .fit(Xt, yt).predict(Xv)) ** 2) for a in grid])


def test_sparse_tune_and_tune_cv_reach_the_grid_minimum(x64):
  """The α found on sparse data against the held-out loss of scikit-learn's
  Lasso on a fine grid: no grid point is better, and the best one is next
  to the α found."""
  X, y, _ = _problem(seed=7)
  Xv, yv, _ = _problem(n=60, seed=8)
  grid = np.logspace(-3.5, -0.5, 61)
  step = np.log(grid[1] / grid[0])
  val = _lasso_val(X, y, Xv, yv, grid)
  search = dict(xtol=0.005, ftol=1e-8)   # the search's own stopping rule, below the checks'
  res = jr.linear.tune(X, y, Xv, yv, jr.L1(0.01), **search)
  assert float(res.val_loss) <= val.min() * (1 + 1e-6)
  assert abs(np.log(float(res.alpha) / grid[np.argmin(val)])) <= 2 * step
  folds = [(np.r_[40:120], np.r_[0:40]), (np.r_[0:40, 80:120], np.r_[40:80]),
           (np.r_[0:80], np.r_[80:120])]
  cv_val = np.mean([_lasso_val(X[tr], y[tr], X[te], y[te], grid) for tr, te in folds], axis=0)
  res = jr.linear.tune_cv(X, y, jr.L1(0.01), cv=folds, **search)
  assert float(res.val_loss) <= cv_val.min() * (1 + 1e-6)
  assert abs(np.log(float(res.alpha) / grid[np.argmin(cv_val)])) <= 2 * step


def test_estimators_positive_and_multi_target_on_sparse_equal_sklearn():
  X, y, rng = _problem(seed=9)
  Y = np.c_[y, -y + rng.normal(size=len(y))]
  s = rng.uniform(0.0, 2.0, len(y))
  kw = dict(tol=1e-10, max_iter=100_000)
  cases = [
      (js.Lasso(0.01, positive=True, **kw), linear_model.Lasso(0.01, positive=True, **kw), y, s),
      (js.Lasso(0.01, **kw), linear_model.Lasso(0.01, **kw), Y, None),
      (js.ElasticNet(0.01, positive=True, **kw),
       linear_model.ElasticNet(0.01, positive=True, **kw), Y, None),
  ]
  for ours, ref, target, w in cases:
    ours.fit(X, target, sample_weight=w)
    ref.fit(X, target, sample_weight=w)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-8)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-8)
    assert ours.coef_.shape == ref.coef_.shape
  ours = js.LassoCV(positive=True, cv=3, alphas=8, **kw).fit(X, y)
  ref = linear_model.LassoCV(positive=True, cv=3, alphas=8, **kw).fit(X, y)
  np.testing.assert_allclose(ours.alphas_, ref.alphas_, rtol=1e-10)
  np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-7)
  assert ours.alpha_ == pytest.approx(ref.alpha_, rel=1e-12)
  # Weighted positive CV (dense here), folds scored with their test weights.
  ours = js.ElasticNetCV(positive=True, cv=3, alphas=8, **kw).fit(X.toarray(), y, sample_weight=s)
  ref = linear_model.ElasticNetCV(positive=True, cv=3, alphas=8, **kw).fit(X.toarray(), y,
                                                                           sample_weight=s)
  np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-7)
  np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-8)


def test_sparse_fit_batch_equals_sklearn_per_problem(x64):
  """B sparse designs in lock-step, each against scikit-learn's Lasso on it;
  a batched BCOO (padded with out-of-bounds indices) gives the same fits."""
  rng = np.random.default_rng(10)
  B, n, p = 4, 60, 20
  mats = [sp.random(n, p, density=0.3, random_state=i, format="csr") for i in range(B)]
  ys = np.stack([m @ rng.normal(size=p) + 0.1 * rng.normal(size=n) for m in mats])
  alphas = np.logspace(-2, -1, B)
  res = jr.linear.fit_batch(mats, ys, jr.L1(alphas), tol=1e-10)
  assert bool(np.all(res.converged))
  for m, y, a, w, b in zip(mats, ys, alphas, np.asarray(res.coef), np.asarray(res.intercept)):
    ref = linear_model.Lasso(alpha=a, tol=1e-14, max_iter=1_000_000).fit(m, y)
    np.testing.assert_allclose(w, ref.coef_, atol=1e-8)
    np.testing.assert_allclose(b, ref.intercept_, atol=1e-8)
  batched = jsparse.BCOO.fromdense(np.stack([m.toarray() for m in mats]), n_batch=1,
                                   nse=int(n * p * 0.4))
  again = jr.linear.fit_batch(batched, ys, jr.L1(alphas), tol=1e-10)
  np.testing.assert_allclose(np.asarray(again.coef), np.asarray(res.coef), atol=1e-8)
  with pytest.raises(ValueError, match=r"Xs\[1\] has shape"):
    jr.linear.fit_batch([mats[0], mats[1][:, :-1]], ys[:2], jr.L1(0.1))
  with pytest.raises(TypeError, match="mixes sparse and dense"):
    jr.linear.fit_batch([mats[0], mats[1].toarray()], ys[:2], jr.L1(0.1))


@pytest.mark.parametrize("n, p", [(100, 30), (40, 120)])
def test_sparse_ridge_path_equals_sklearn_and_lstsq(x64, no_densify, n, p):
  """Each α against scikit-learn's Ridge(n·α); α = 0 against NumPy's
  minimum-norm least squares on the centred data (p > n: not unique)."""
  rng = np.random.default_rng(11)
  X = sp.random(n, p, density=0.2, random_state=11, format="csr")
  y = rng.normal(size=n)
  no_densify.add(X.shape)
  res = jr.linear.ridge_path(X, y, [0.0, 1e-3, 1.0])
  no_densify.clear()
  assert bool(np.all(res.converged))
  D = X.toarray()
  for a, w, b in zip(np.asarray(res.alphas), np.asarray(res.coefs), np.asarray(res.intercepts)):
    if a > 0:
      ref = linear_model.Ridge(alpha=n * a, tol=1e-14, solver="sparse_cg",
                               max_iter=100_000).fit(X, y)
      ref_w, ref_b = ref.coef_, ref.intercept_
    else:
      ref_w = np.linalg.lstsq(D - D.mean(0), y - y.mean(), rcond=None)[0]
      ref_b = y.mean() - D.mean(0) @ ref_w
    np.testing.assert_allclose(w, ref_w, atol=1e-9)
    np.testing.assert_allclose(b, ref_b, atol=1e-9)
