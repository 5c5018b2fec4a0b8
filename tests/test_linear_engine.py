"""The generic entry points: path, fit, fit_batch, cross_validate, tune and tune_cv
for any datafit × penalty, against scikit-learn, finite differences and the definitions."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn import linear_model

import jaxreg as jr


def _regression(n=60, p=12, seed=0):
  rng = np.random.default_rng(seed)
  X = rng.standard_normal((n, p))
  y = X[:, :3] @ np.array([1.5, -2.0, 1.0]) + 0.5 * rng.standard_normal(n) + 1.0
  return X, y


def test_path_top_is_zero_and_below_it_is_not(x64):
  X, y = _regression()
  for pen in (jr.L1(1.0), jr.MCP(1.0, 3.0), jr.GroupLasso(1.0, groups=[[0, 1, 2], [3, 4],
                                                                        list(range(5, 12))])):
    res = jr.linear.path(X, y, pen, n_alphas=8, tol=1e-10)
    assert np.all(np.asarray(res.coefs[0]) == 0)
    assert np.any(np.asarray(res.coefs[1]) != 0)
    assert np.all(np.diff(np.asarray(res.alphas)) < 0)
    assert bool(np.all(res.converged))


def test_path_lasso_matches_sklearn_lasso_path(x64):
  X, y = _regression(40, 30, seed=1)
  res = jr.linear.path(X, y, jr.L1(1.0), n_alphas=15, tol=1e-12)
  Xc, yc = X - X.mean(0), y - y.mean()
  _, coefs, _ = linear_model.lasso_path(Xc, yc, alphas=np.asarray(res.alphas), tol=1e-14,
                                        max_iter=100_000)
  np.testing.assert_allclose(np.asarray(res.coefs), coefs.T, atol=1e-8)
  np.testing.assert_allclose(np.asarray(res.intercepts), y.mean() - X.mean(0) @ coefs, atol=1e-8)


def test_logistic_path_labels_any_two_values(x64):
  X, y = _regression(80, 6, seed=2)
  labels = np.where(y > 1.0, 7, -3)
  a = jr.linear.path(X, labels, jr.L1(1.0), datafit="logistic", n_alphas=5, tol=1e-10)
  b = jr.linear.path(X, (labels == 7).astype(float), jr.L1(1.0), datafit="logistic", n_alphas=5,
                     tol=1e-10)
  np.testing.assert_allclose(np.asarray(a.coefs), np.asarray(b.coefs), atol=1e-10)


def test_multinomial_fit_matches_sklearn(x64):
  rng = np.random.default_rng(3)
  X = rng.standard_normal((90, 5))
  y = np.argmax(X[:, :3] + 0.7 * rng.standard_normal((90, 3)), axis=1)
  a = 0.02
  sk = linear_model.LogisticRegression(C=1 / (90 * a), tol=1e-12, max_iter=10_000).fit(X, y)
  res = jr.linear.fit(X, y, jr.L2(a), loss="multinomial", tol=1e-12)
  assert res.coef.shape == (5, 3) and res.intercept.shape == (3,)
  # The softmax is invariant to a shift of the intercepts; sklearn's are centred too
  # (the L2 penalty centres the coefficients, the optimum centres the intercepts).
  np.testing.assert_allclose(np.asarray(res.coef), sk.coef_.T, atol=1e-6)
  np.testing.assert_allclose(np.asarray(res.intercept) - np.mean(np.asarray(res.intercept)),
                             sk.intercept_ - sk.intercept_.mean(), atol=1e-6)


def test_poisson_fit_matches_sklearn_and_hypergradient_matches_finite_differences(x64):
  rng = np.random.default_rng(4)
  X = rng.standard_normal((80, 4)) * 0.5
  y = rng.poisson(np.exp(X @ np.array([0.5, -0.3, 0.2, 0.0]) + 0.3))
  a = 0.05
  sk = linear_model.PoissonRegressor(alpha=a, tol=1e-12, max_iter=10_000).fit(X, y)
  res = jr.linear.fit(X, y, jr.L2(a), loss="poisson", tol=1e-12)
  np.testing.assert_allclose(np.asarray(res.coef), sk.coef_, atol=1e-7)
  np.testing.assert_allclose(float(res.intercept), sk.intercept_, atol=1e-7)
  f = lambda a: jnp.sum(jr.linear.fit(X, y, jr.L2(a), loss="poisson", tol=1e-13).coef ** 2)
  h = 1e-5
  fd = (f(a + h) - f(a - h)) / (2 * h)
  np.testing.assert_allclose(float(jax.grad(f)(a)), float(fd), rtol=1e-5)


@pytest.mark.parametrize("pen", [
    jr.GroupLasso(0.05, groups=[[0, 1], [2, 3, 4], [5]]),
    jr.MCP(0.05, 3.0),
    jr.Lp(0.02, p=0.5),
    jr.NonNegative(jr.L1(0.05)),
], ids=["group", "mcp", "lp", "nonneg"])
def test_generic_hypergradient_matches_finite_differences(x64, pen):
  X, y = _regression(50, 6, seed=5)
  y = np.abs(y)
  val = lambda W, b: jnp.sum((X @ W + b - y) ** 2)

  def f(a):
    r = jr.linear.fit(X, y, pen.replace(alpha=a), tol=1e-13)
    return val(r.coef, r.intercept)

  a0 = float(pen.alpha)
  h = 1e-6 * a0
  fd = (f(a0 + h) - f(a0 - h)) / (2 * h)
  np.testing.assert_allclose(float(jax.grad(f)(a0)), float(fd), rtol=1e-4, atol=1e-8)


def test_fit_batch_generic_equals_separate_fits(x64):
  rng = np.random.default_rng(6)
  Xs = rng.standard_normal((3, 30, 5))
  ys = Xs[..., 0] - Xs[..., 1] + 0.1 * rng.standard_normal((3, 30))
  alphas = jnp.array([0.01, 0.05, 0.2])
  batch = jr.linear.fit_batch(Xs, ys, jr.SCAD(alphas), tol=1e-12)
  for k in range(3):
    one = jr.linear.fit(Xs[k], ys[k], jr.SCAD(float(alphas[k])), tol=1e-12)
    np.testing.assert_allclose(np.asarray(batch.coef[k]), np.asarray(one.coef), atol=1e-9)


def test_cross_validate_generic_matches_sklearn_lasso_cv(x64):
  X, y = _regression(90, 15, seed=7)
  sk = linear_model.LassoCV(cv=5, alphas=12, tol=1e-14, max_iter=100_000).fit(X, y)
  m = np.ones(15, bool)  # a mask routes it through the generic engine
  res = jr.linear.cross_validate(X, y, penalty=jr.L1(1.0, mask=m), alphas=sk.alphas_, cv=5,
                                 tol=1e-12)
  np.testing.assert_allclose(np.asarray(res.mse_path), sk.mse_path_, rtol=1e-7)
  np.testing.assert_allclose(float(res.best_alpha), sk.alpha_)
  np.testing.assert_allclose(np.asarray(res.coef), sk.coef_, atol=1e-7)


def test_tune_generic_finds_the_grid_minimum(x64):
  X, y = _regression(80, 10, seed=8)
  Xt, yt, Xv, yv = X[:55], y[:55], X[55:], y[55:]
  pen = jr.GroupLasso(0.1, groups=[[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]])
  res = jr.linear.tune(Xt, yt, Xv, yv, pen, xtol=0.01)
  grid = np.exp(np.linspace(np.log(float(res.alpha)) - 0.3, np.log(float(res.alpha)) + 0.3, 13))
  path = jr.linear.path(Xt, yt, pen, alphas=grid, tol=1e-12)
  losses = [np.mean((Xv @ np.asarray(c) + float(b) - yv) ** 2)
            for c, b in zip(path.coefs, path.intercepts)]
  assert float(res.val_loss) <= min(losses) * (1 + 1e-4)


def test_bad_inputs_name_the_argument():
  X, y = _regression(20, 4)
  with pytest.raises(ValueError, match="datafit"):
    jr.linear.path(X, y, jr.L1(1.0), datafit="hinge")
  with pytest.raises(ValueError, match="loss"):
    jr.linear.fit(X, y, jr.MCP(0.1), loss="hinge")
  with pytest.raises(ValueError, match="solver"):
    jr.linear.path(X, y, jr.L1(1.0), solver="newton")
  with pytest.raises(ValueError, match="curvature"):
    jr.linear.path(X, np.abs(y), jr.L1(1.0), datafit="poisson", solver="cd")
  with pytest.raises(ValueError, match="mask"):
    jr.linear.path(X, y, jr.L1(1.0, mask=np.ones(3, bool)))
  with pytest.raises(ValueError, match="groups"):
    jr.linear.fit(X, y, jr.GroupLasso(0.1, groups=[[0, 9]]))
  with pytest.raises(ValueError, match="y"):
    jr.linear.fit(X, -np.abs(y), jr.L2(0.1), loss="poisson")
  with pytest.raises(ValueError, match="alphas"):
    jr.linear.path(X, y, jr.MCP(1.0), alphas=[0.1, -1.0])
  with pytest.raises(ValueError, match="X and y"):
    jr.linear.path(X, y[:-1], jr.MCP(1.0))


def test_float32_generic_fit():
  X, y = _regression(40, 6, seed=9)
  res = jr.linear.fit(X.astype(np.float32), y.astype(np.float32), jr.MCP(0.05))
  assert res.coef.dtype == jnp.float32
  assert bool(res.converged)
