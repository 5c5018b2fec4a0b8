"""jr.linear.fit and fit_batch against scikit-learn (the oracle), float64 and float32."""

import importlib
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression, Ridge

import jaxreg as jr


def _reg_data(n=60, p=30, seed=0):
  X, y = make_regression(n, p, n_informative=8, noise=5.0, random_state=seed)
  return X, y / y.std()


def _relerr(a, b):
  return float(np.max(np.abs(np.asarray(a) - b)) / max(np.max(np.abs(b)), 1e-300))


@pytest.mark.parametrize("kind", ["lasso", "enet", "ridge"])
def test_fit_squared_matches_sklearn(x64, kind):
  X, y = _reg_data()
  n = X.shape[0]
  pen, sk = {
      "lasso": (jr.L1(0.05), Lasso(alpha=0.05, tol=1e-10, max_iter=100000)),
      "enet": (jr.ElasticNet(0.05, 0.3),
               ElasticNet(alpha=0.05, l1_ratio=0.3, tol=1e-10, max_iter=100000)),
      "ridge": (jr.L2(3.0 / n), Ridge(alpha=3.0)),
  }[kind]
  sk.fit(X, y)
  res = jr.linear.fit(X, y, pen)
  assert res.coef.dtype == jnp.float64
  assert _relerr(res.coef, sk.coef_) < 1e-6
  assert abs(float(res.intercept) - sk.intercept_) < 1e-6 * (1 + abs(sk.intercept_))
  if kind != "ridge":
    np.testing.assert_array_equal(np.asarray(res.coef) == 0, sk.coef_ == 0)


def test_fit_without_intercept(x64):
  X, y = _reg_data()
  y = y + 3.0
  sk = Ridge(alpha=3.0, fit_intercept=False).fit(X, y)
  res = jr.linear.fit(X, y, jr.L2(3.0 / X.shape[0]), fit_intercept=False)
  assert _relerr(res.coef, sk.coef_) < 1e-6
  assert float(res.intercept) == 0.0


@pytest.mark.parametrize("kind", ["l2", "l1"])
def test_fit_logistic_matches_sklearn(x64, kind):
  X, y = make_classification(100, 5, n_informative=3, random_state=0)
  n, C = X.shape[0], 0.5
  if kind == "l2":
    sk = LogisticRegression(C=C, tol=1e-12, max_iter=10000).fit(X, y)
    pen = jr.L2(1.0 / (n * C))
  else:
    with warnings.catch_warnings():
      warnings.simplefilter("ignore")
      sk = LogisticRegression(C=C, l1_ratio=1.0, solver="saga", tol=1e-12,
                              max_iter=200000).fit(X, y)
    pen = jr.L1(1.0 / (n * C))
  res = jr.linear.fit(X, y, pen, loss="logistic")
  assert _relerr(res.coef, sk.coef_[0]) < 1e-6
  assert abs(float(res.intercept) - sk.intercept_[0]) < 1e-6 * (1 + abs(sk.intercept_[0]))


def test_fit_float32():
  X, y = _reg_data()
  sk = Lasso(alpha=0.05, tol=1e-10, max_iter=100000).fit(X, y)
  res = jr.linear.fit(X.astype(np.float32), y.astype(np.float32), jr.L1(0.05))
  assert res.coef.dtype == jnp.float32
  assert np.all(np.isfinite(np.asarray(res.coef)))
  assert _relerr(res.coef, sk.coef_) < 1e-3


def test_fit_batch_matches_sklearn_and_fit(x64):
  B = 3
  data = [_reg_data(seed=s) for s in range(B)]
  Xs = np.stack([d[0] for d in data])
  ys = np.stack([d[1] for d in data])
  alphas = np.array([0.02, 0.05, 0.1])
  res = jr.linear.fit_batch(Xs, ys, jr.ElasticNet(alphas, 0.3))
  assert res.coef.shape == (B, 30) and res.intercept.shape == (B,)
  for b in range(B):
    sk = ElasticNet(alpha=alphas[b], l1_ratio=0.3, tol=1e-10, max_iter=100000).fit(Xs[b], ys[b])
    assert _relerr(res.coef[b], sk.coef_) < 1e-6
    assert abs(float(res.intercept[b]) - sk.intercept_) < 1e-6 * (1 + abs(sk.intercept_))
  # A shared (scalar) penalty is the same as a batch of equal ones.
  shared = jr.linear.fit_batch(Xs, ys, jr.ElasticNet(0.05, 0.3))
  single = jr.linear.fit(Xs[1], ys[1], jr.ElasticNet(0.05, 0.3))
  np.testing.assert_allclose(shared.coef[1], single.coef, rtol=1e-6, atol=1e-9)


def test_fit_vmaps_over_alpha_without_recompiling(x64):
  X, y = _reg_data()
  alphas = jnp.array([0.02, 0.2])
  coefs = jax.vmap(lambda a: jr.linear.fit(X, y, jr.L1(a)).coef)(alphas)
  for a, c in zip(np.asarray(alphas), coefs):
    sk = Lasso(alpha=a, tol=1e-10, max_iter=100000).fit(X, y)
    assert _relerr(c, sk.coef_) < 1e-6


def test_bad_inputs_raise():
  X, y = _reg_data(20, 5)
  with pytest.raises(ValueError, match="loss"):
    jr.linear.fit(X, y, jr.L1(0.1), loss="hinge")
  with pytest.raises(TypeError, match="penalty"):
    jr.linear.fit(X, y, "l1")
  with pytest.raises(TypeError, match="penalty"):
    jr.linear.fit(X, y, 0.1)
  with pytest.raises(ValueError, match="X and y"):
    jr.linear.fit(X, y[:-1], jr.L1(0.1))
  with pytest.raises(ValueError, match="2-d"):
    jr.linear.fit(X[0], y, jr.L1(0.1))
  Xn = X.copy()
  Xn[0, 0] = np.nan
  with pytest.raises(ValueError, match="NaN"):
    jr.linear.fit(Xn, y, jr.L1(0.1))
  with pytest.raises(ValueError, match="fit_batch"):
    jr.linear.fit(X, y, jr.L1(jnp.array([0.1, 0.2])))
  with pytest.raises(ValueError, match="labels"):
    jr.linear.fit(X, y, jr.L2(0.1), loss="logistic")
  with pytest.raises(ValueError, match="mask"):
    jr.linear.fit(X, y, jr.L1(0.1, mask=np.ones(4, bool)))  # 5 features
  with pytest.raises(ValueError, match="tol"):
    jr.linear.fit(X, y, jr.L1(0.1), tol=-1.0)
  with pytest.raises(ValueError, match="solver"):
    jr.linear.fit(X, y, jr.L1(0.1), solver="newton-cg")
  for bad in (float("inf"), float("nan"), 0.0):
    with pytest.raises(ValueError, match="tol"):
      jr.linear.fit(X, y, jr.L1(0.1), tol=bad)
  with pytest.raises(TypeError, match="tol"):
    jr.linear.fit(X, y, jr.L1(0.1), tol="small")
  with pytest.raises(ValueError, match="max_iter"):
    jr.linear.fit(X, y, jr.L1(0.1), max_iter=0)
  with pytest.raises(TypeError, match="max_iter"):
    jr.linear.fit(X, y, jr.L1(0.1), max_iter=2.5)
  with pytest.raises(ValueError, match="leading axis"):
    jr.linear.fit_batch(np.stack([X, X]), np.stack([y, y]), jr.L1(jnp.array([0.1, 0.2, 0.3])))


def _batch_data(B=5, n=30, p=60, seed=0):
  """B sparse regression problems with more features than samples."""
  rng = np.random.default_rng(seed)
  Xs = rng.normal(size=(B, n, p))
  ws = rng.normal(size=(B, p)) * (rng.random((B, p)) < 0.1)
  ys = np.einsum("bnp,bp->bn", Xs, ws) + 0.1 * rng.normal(size=(B, n)) + 2.0
  return Xs, ys


def _sk_batch(model, Xs, ys, alphas, **kw):
  fits = [model(alpha=a, tol=1e-10, max_iter=100000, **kw).fit(X, y)
          for X, y, a in zip(Xs, ys, alphas)]
  return np.stack([f.coef_ for f in fits]), np.array([f.intercept_ for f in fits])


def test_fit_batch_elastic_net_dual_newton_matches_sklearn():
  Xs, ys = _batch_data()
  alphas = np.array([0.02, 0.05, 0.1, 0.3, 50.0])  # the last one: w = 0
  coef, icpt = _sk_batch(ElasticNet, Xs, ys, alphas, l1_ratio=0.5)
  assert np.all(coef[-1] == 0) and 0 < np.sum(coef[0] != 0) < Xs.shape[2]
  with jax.enable_x64(True):
    # chunk_size 2 does not divide B = 5: the last chunk is padded.
    res = jr.linear.fit_batch(Xs, ys, jr.ElasticNet(alphas, 0.5), chunk_size=2)
    assert res.coef.dtype == jnp.float64 and res.n_iter.shape == (5,)
    for b in range(4):
      assert _relerr(res.coef[b], coef[b]) < 1e-6
    np.testing.assert_array_equal(np.asarray(res.coef) == 0, coef == 0)  # incl. w = 0
    np.testing.assert_allclose(res.intercept, icpt, rtol=1e-6, atol=1e-6)
    # Newton steps, not proximal-gradient steps.
    assert int(np.max(res.n_iter)) <= 30
    # A shared penalty (same compiled program) and the vmapped FISTA solver agree.
    shared = jr.linear.fit_batch(Xs, ys, jr.ElasticNet(0.05, 0.5), chunk_size=2)
    fista = jr.linear.fit_batch(Xs, ys, jr.ElasticNet(0.05, 0.5), solver="fista")
    np.testing.assert_allclose(shared.coef, fista.coef, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(shared.coef[1], res.coef[1], rtol=1e-7, atol=1e-9)
    # Without an intercept.
    sk = ElasticNet(alpha=0.05, l1_ratio=0.5, fit_intercept=False, tol=1e-10,
                    max_iter=100000).fit(Xs[0], ys[0])
    res = jr.linear.fit_batch(Xs, ys, jr.ElasticNet(0.05, 0.5), fit_intercept=False)
    assert _relerr(res.coef[0], sk.coef_) < 1e-6 and float(res.intercept[0]) == 0.0


def test_fit_batch_of_a_new_size_reuses_the_compiled_solver(x64):
  """Chunks of chunk_size problems share one program, whatever B; each problem
  equals scikit-learn's fit of it alone, in the last, overlapping chunk too."""
  fit_module = importlib.import_module("jaxreg.linear.fit")  # the solver's jitted program
  rng = np.random.default_rng(3)
  Xs, ys = rng.normal(size=(11, 20, 6)), rng.normal(size=(11, 20))
  alphas = np.linspace(0.05, 0.3, 11)
  for ratio in (0.5, 1.0):   # the dual Newton and the primal solvers
    pen = lambda k: jr.ElasticNet(alphas[:k], ratio)
    jr.linear.fit_batch(Xs[:7], ys[:7], pen(7), chunk_size=3)
    compiled = fit_module._fit_batch_impl._cache_size()
    for B in (8, 11):        # 3 chunks with the last overlapping; 4 chunks
      res = jr.linear.fit_batch(Xs[:B], ys[:B], pen(B), chunk_size=3)
      assert res.coef.shape == (B, 6) and res.n_iter.shape == (B,)
      for b in range(B):
        sk = ElasticNet(alpha=alphas[b], l1_ratio=ratio, tol=1e-12, max_iter=100000)
        sk.fit(Xs[b], ys[b])
        assert _relerr(res.coef[b], sk.coef_) < 1e-6, (ratio, B, b)
    assert fit_module._fit_batch_impl._cache_size() == compiled


def test_fit_batch_elastic_net_float32():
  Xs, ys = _batch_data(seed=1)
  alphas = np.array([0.03, 0.05, 0.1, 0.2, 0.5])
  coef, icpt = _sk_batch(ElasticNet, Xs, ys, alphas, l1_ratio=0.7)
  res = jr.linear.fit_batch(Xs.astype(np.float32), ys.astype(np.float32),
                            jr.ElasticNet(alphas.astype(np.float32), 0.7))
  assert res.coef.dtype == jnp.float32
  assert int(np.max(res.n_iter)) <= 30  # the Newton solver, not its fallback
  for b in range(5):
    assert _relerr(res.coef[b], coef[b]) < 1e-3
    assert abs(float(res.intercept[b]) - icpt[b]) < 1e-3 * (1 + abs(icpt[b]))


def test_fit_batch_lasso_and_ridge_match_sklearn():
  Xs, ys = _batch_data(seed=2)
  alphas = np.array([0.02, 0.05, 0.1, 0.2, 0.3])
  lasso, lasso_b = _sk_batch(Lasso, Xs, ys, alphas)
  with jax.enable_x64(True):
    for pen in (jr.L1(alphas), jr.ElasticNet(alphas, 1.0)):
      res = jr.linear.fit_batch(Xs, ys, pen)
      for b in range(5):
        assert _relerr(res.coef[b], lasso[b]) < 1e-6
        assert abs(float(res.intercept[b]) - lasso_b[b]) < 1e-6 * (1 + abs(lasso_b[b]))
    # Mixed l1_ratio: the lasso problems of a chunk fall back to FISTA.
    ratios = np.array([0.5, 1.0, 0.0, 1.0, 0.9])
    res = jr.linear.fit_batch(Xs, ys, jr.ElasticNet(alphas, ratios), chunk_size=3)
    for b in range(5):
      sk = ElasticNet(alpha=alphas[b], l1_ratio=ratios[b], tol=1e-10, max_iter=100000)
      with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # l1_ratio = 0: sklearn advises Ridge
        sk.fit(Xs[b], ys[b])
      assert _relerr(res.coef[b], sk.coef_) < 1e-6
    n = Xs.shape[1]
    res = jr.linear.fit_batch(Xs, ys, jr.L2(alphas))
    for b in range(5):
      sk = Ridge(alpha=n * alphas[b]).fit(Xs[b], ys[b])
      assert _relerr(res.coef[b], sk.coef_) < 1e-6


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fit_batch_tall_problems_match_sklearn_with_collinear_columns(dtype):
  """n > p: FISTA runs on the p × p square-root form of each problem. A
  duplicated column (XᵀX singular) and an ill-conditioned design still give
  scikit-learn's elastic net (unique: the ridge part splits a duplicated
  column's weight evenly) and lasso."""
  rng = np.random.default_rng(5)
  B, n, p = 4, 80, 12
  Xs = rng.normal(size=(B, n, p))
  Xs[1, :, 5] = Xs[1, :, 4]                                   # collinear
  Xs[2] = Xs[2] @ np.diag(np.geomspace(1.0, 1e-3, p))          # cond 1e3
  ws = rng.normal(size=(B, p)) * (rng.random((B, p)) < 0.4)
  ws[1, 4] = 2.0
  ys = np.einsum("bnp,bp->bn", Xs, ws) + 0.1 * rng.normal(size=(B, n)) + 1.0
  alphas = np.array([0.01, 0.02, 0.001, 0.05])
  tol = 1e-6 if dtype == np.float32 else 1e-12
  with jax.enable_x64(dtype == np.float64):
    for ratio in (0.5, 1.0):
      res = jr.linear.fit_batch(Xs.astype(dtype), ys.astype(dtype),
                                jr.ElasticNet(alphas.astype(dtype), ratio), solver="fista")
      assert res.coef.dtype == dtype and bool(np.all(res.converged))
      for b in range(B):
        sk = ElasticNet(alpha=alphas[b], l1_ratio=ratio, tol=tol, max_iter=10**6).fit(Xs[b], ys[b])
        if b == 1 and ratio == 1.0:
          # The lasso's weight on two equal columns is not unique: compare fits.
          got = Xs[b] @ np.asarray(res.coef[b], np.float64)
          assert _relerr(got, Xs[b] @ sk.coef_) < (2e-3 if dtype == np.float32 else 1e-6)
          continue
        assert _relerr(res.coef[b], sk.coef_) < (2e-3 if dtype == np.float32 else 1e-6), (b, ratio)


def test_fit_batch_gradient_in_alpha_matches_finite_differences():
  Xs, ys = _batch_data(B=4, seed=3)
  V = np.random.default_rng(4).normal(size=Xs.shape[::2])  # (B, p)
  with jax.enable_x64(True):
    alphas = jnp.array([0.03, 0.06, 0.1, 0.2])

    def per_problem(a, r):
      res = jr.linear.fit_batch(Xs, ys, jr.ElasticNet(a, r))
      return jnp.sum(res.coef * V, axis=1) + res.intercept

    # One compiled gradient for α (B,) and the shared l1_ratio.
    ga, gr = jax.grad(lambda a, r: jnp.sum(per_problem(a, r)), argnums=(0, 1))(alphas, 0.5)
    h = 1e-6
    fd = (per_problem(alphas + h, 0.5) - per_problem(alphas - h, 0.5)) / (2 * h)
    assert np.all(np.abs(np.asarray(fd)) > 1e-3)
    np.testing.assert_allclose(ga, fd, rtol=1e-5, atol=1e-7)
    fdr = jnp.sum(per_problem(alphas, 0.5 + h) - per_problem(alphas, 0.5 - h)) / (2 * h)
    np.testing.assert_allclose(gr, fdr, rtol=1e-5, atol=1e-7)


# --- fit at one α by the working-set path solver ------------------------------


def _wide_data(seed=0):
  # p > n and α far below α_max: the working set is cut down by priority,
  # grown and rebuilt before the Newton polish.
  X, y = make_regression(80, 200, n_informative=60, noise=1.0, random_state=seed)
  return X, y / y.std()


def _alpha_max(X, y):
  Xc, yc = X - X.mean(0), y - y.mean()
  return float(np.max(np.abs(Xc.T @ yc)) / X.shape[0])


@pytest.mark.parametrize("kind", ["lasso", "enet"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_fit_single_alpha_matches_sklearn(x64, kind, fit_intercept):
  X, y = _wide_data()
  y = y + 2.0
  a = _alpha_max(X, y) / 50
  pen, sk = {
      "lasso": (jr.L1(a), Lasso(alpha=a, tol=1e-10, max_iter=100000,
                                fit_intercept=fit_intercept)),
      "enet": (jr.ElasticNet(a, 0.6), ElasticNet(alpha=a, l1_ratio=0.6, tol=1e-10,
                                                 max_iter=100000, fit_intercept=fit_intercept)),
  }[kind]
  sk.fit(X, y)
  res = jr.linear.fit(X, y, pen, fit_intercept=fit_intercept)
  assert np.sum(sk.coef_ != 0) > 40
  np.testing.assert_array_equal(np.asarray(res.coef) != 0, sk.coef_ != 0)
  assert _relerr(res.coef, sk.coef_) < 1e-7
  assert abs(float(res.intercept) - sk.intercept_) < 1e-7 * (1 + abs(sk.intercept_))
  assert 0 < int(res.n_iter) < 1000


def test_fit_single_alpha_weighted_l1_satisfies_kkt(x64):
  # Per-coordinate weights, some 0 (unpenalized): the optimality conditions
  # of (1/2n)‖y − Xw − b‖² + α Σ v_j|w_j| are the oracle.
  X, y = _wide_data(1)
  n, p = X.shape
  v = np.ones(p)
  v[:4] = 0.0
  v[4:40] = 3.0
  a = _alpha_max(X, y) / 30
  res = jr.linear.fit(X, y, jr.L1(a, weights=v))
  w = np.asarray(res.coef)
  Xc, yc = X - X.mean(0), y - y.mean()
  g = Xc.T @ (yc - Xc @ w) / n
  on = w != 0
  assert on.sum() > 20 and np.all(on[:4])
  np.testing.assert_allclose(g[on], a * v[on] * np.sign(w[on]), atol=1e-9)
  assert np.all(np.abs(g[~on]) <= a * v[~on] * (1 + 1e-9) + 1e-12)
  # Equal weights are the plain lasso at a scaled α.
  twice = jr.linear.fit(X, y, jr.L1(a, weights=2.0))
  plain = jr.linear.fit(X, y, jr.L1(2 * a))
  np.testing.assert_allclose(np.asarray(twice.coef), np.asarray(plain.coef), rtol=1e-9, atol=1e-12)


def test_fit_single_alpha_float32():
  X, y = _wide_data(2)
  a = _alpha_max(X, y) / 20
  sk = Lasso(alpha=a, tol=1e-10, max_iter=100000).fit(X, y)
  res = jr.linear.fit(X.astype(np.float32), y.astype(np.float32), jr.L1(a))
  assert res.coef.dtype == jnp.float32
  assert _relerr(res.coef, sk.coef_) < 1e-3


def test_fit_single_alpha_vmap_jit_and_gradient(x64):
  X, y = _wide_data(3)
  amax = _alpha_max(X, y)
  alphas = jnp.array([amax / 3, amax / 8])
  # Batched: the custom batching rule runs the plain cyclic solver.
  coefs = jax.jit(jax.vmap(lambda a: jr.linear.fit(X, y, jr.L1(a)).coef))(alphas)
  for a, c in zip(np.asarray(alphas), coefs):
    sk = Lasso(alpha=a, tol=1e-10, max_iter=100000).fit(X, y)
    assert _relerr(c, sk.coef_) < 1e-7
  # The derivative in α of the working-set solution, against finite differences.
  f = lambda a: jnp.sum(jr.linear.fit(X, y, jr.ElasticNet(a, 0.7)).coef ** 2)
  a0, h = amax / 25, 1e-6 * amax
  fd = (f(a0 + h) - f(a0 - h)) / (2 * h)
  np.testing.assert_allclose(float(jax.grad(f)(a0)), float(fd), rtol=1e-5)


def test_l2_weights_are_honoured_not_ignored(x64):
  # An L2 with per-coordinate weights is the weighted ridge, in closed form
  # (XcᵀXc/n + α·diag(v)) w = Xcᵀyc/n; never the unweighted one.
  X = np.random.default_rng(0).normal(size=(30, 3))
  y = X @ np.array([1.0, -2.0, 0.5]) + 1.0
  v = np.array([1.0, 100.0, 1.0])
  pen = jr.L2(1.0, weights=v)
  # On the 20 training rows tune uses below: its final fit reuses this program.
  Xt, yt = X[:20], y[:20]
  Xc, yc = Xt - Xt.mean(0), yt - yt.mean()
  w = np.linalg.solve(Xc.T @ Xc / 20 + np.diag(v), Xc.T @ yc / 20)
  res = jr.linear.fit(Xt, yt, pen)
  np.testing.assert_allclose(np.asarray(res.coef), w, atol=1e-9)
  np.testing.assert_allclose(float(res.intercept), yt.mean() - Xt.mean(0) @ w, atol=1e-9)
  # tune searches the same weighted model: its fit is the closed form at its α.
  best = jr.linear.tune(Xt, yt, X[20:], y[20:], pen, steps=8)
  a = float(best.alpha)
  Xc, yc = X[:20] - X[:20].mean(0), y[:20] - y[:20].mean()
  w = np.linalg.solve(Xc.T @ Xc / 20 + a * np.diag(v), Xc.T @ yc / 20)
  np.testing.assert_allclose(np.asarray(best.fit.coef), w, atol=1e-8)
