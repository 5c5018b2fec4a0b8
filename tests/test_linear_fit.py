"""jr.linear.fit and fit_batch against scikit-learn (the oracle), float64 and float32."""

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
    jr.linear.fit(X, y, jr.Lp(0.1, p=0.5))
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
    jr.linear.fit(X, y, jr.L1(0.1, mask=lambda p: True))
  with pytest.raises(ValueError, match="tol"):
    jr.linear.fit(X, y, jr.L1(0.1), tol=-1.0)
  with pytest.raises(ValueError, match="solver"):
    jr.linear.fit(X, y, jr.L1(0.1), solver="newton-cg")
  with pytest.raises(ValueError, match="alpha = 0"):
    jr.linear.fit(X[:4], y[:4], jr.L2(0.0))
  with pytest.raises(ValueError, match="leading axis"):
    jr.linear.fit_batch(np.stack([X, X]), np.stack([y, y]), jr.L1(jnp.array([0.1, 0.2, 0.3])))
