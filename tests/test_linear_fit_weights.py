"""``jr.linear.fit(..., sample_weight=, init=)`` against scikit-learn and brute force.

Oracles: scikit-learn's ``Lasso`` / ``ElasticNet``, ``LogisticRegression``
(binary and multinomial) and ``PoissonRegressor`` with ``sample_weight``
(the weighted mean loss: the semantics jaxreg follows), and
repetition: an integer weight k must give the fit on the data with that
row repeated k times (weight 0: the row removed), for penalties scikit-learn
does not have.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.linear_model import ElasticNet as SkElasticNet
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.linear_model import PoissonRegressor as SkPoissonRegressor

import jaxreg as jr
from jaxreg.linear._data import check_sample_weight, square_root_form, weighted_rows


def _data(n=60, p=8, seed=0):
  rng = np.random.default_rng(seed)
  X = rng.normal(size=(n, p)) @ np.diag(rng.uniform(0.3, 3.0, p))
  y = X @ (rng.normal(size=p) * (rng.random(p) < 0.5)) + rng.normal(size=n) + 2.0
  return X, y, rng


def _objective(X, y, w, b, a1, a2, s):
  r = y - X @ w - b
  return 0.5 * np.sum(s * r * r) / np.sum(s) + a1 * np.abs(w).sum() + 0.5 * a2 * w @ w


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha,l1_ratio", [(0.05, 1.0), (0.2, 0.3)])
def test_weighted_fit_equals_sklearn(fit_intercept, alpha, l1_ratio):
  X, y, rng = _data()
  s = rng.uniform(0.0, 3.0, size=X.shape[0])
  s[:6] = 0.0
  sk = SkElasticNet(alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept, tol=1e-14,
                    max_iter=100_000).fit(X, y, sample_weight=s)
  with jax.enable_x64(True):
    res = jr.linear.fit(X, y, jr.ElasticNet(alpha, l1_ratio), fit_intercept=fit_intercept,
                        sample_weight=s)
  w, b = np.asarray(res.coef), float(res.intercept)
  a1, a2 = alpha * l1_ratio, alpha * (1 - l1_ratio)
  ours = _objective(X, y, w, b, a1, a2, s)
  theirs = _objective(X, y, sk.coef_, sk.intercept_, a1, a2, s)
  assert abs(ours - theirs) <= 1e-8 * abs(theirs)
  np.testing.assert_array_equal(w != 0, sk.coef_ != 0)
  np.testing.assert_allclose(w, sk.coef_, atol=1e-7)
  assert bool(res.converged)


def test_weights_are_scale_free_and_zero_removes_the_row():
  X, y, rng = _data(seed=1)
  s = rng.integers(0, 4, size=X.shape[0]).astype(float)
  with jax.enable_x64(True):
    a = jr.linear.fit(X, y, jr.L1(0.05), sample_weight=s)
    b = jr.linear.fit(X, y, jr.L1(0.05), sample_weight=7.5 * s)
    keep = s > 0
    c = jr.linear.fit(X[keep], y[keep], jr.L1(0.05), sample_weight=s[keep])
  np.testing.assert_allclose(a.coef, b.coef, atol=1e-10)
  np.testing.assert_allclose(a.coef, c.coef, atol=1e-10)
  np.testing.assert_allclose(a.intercept, c.intercept, atol=1e-10)


@pytest.mark.parametrize("penalty", [jr.MCP(0.05, gamma=3.0),
                                     jr.GroupLasso(0.05, groups=[[0, 1, 2], [3, 4, 5], [6, 7]]),
                                     jr.NonNegative(jr.L1(0.05))],
                         ids=["mcp", "group", "nonneg"])
def test_integer_weights_equal_repeated_rows(penalty):
  """Any penalty, with no outside solver for it: weight k ≡ the row k times."""
  X, y, rng = _data(seed=2)
  s = rng.integers(0, 3, size=X.shape[0])
  with jax.enable_x64(True):
    weighted = jr.linear.fit(X, y, penalty, sample_weight=s, tol=1e-12)
    repeated = jr.linear.fit(np.repeat(X, s, axis=0), np.repeat(y, s), penalty, tol=1e-12)
  np.testing.assert_allclose(weighted.coef, repeated.coef, atol=1e-8)
  np.testing.assert_allclose(weighted.intercept, repeated.intercept, atol=1e-8)
  np.testing.assert_array_equal(np.asarray(weighted.coef) != 0, np.asarray(repeated.coef) != 0)


def test_multitask_weights_equal_repeated_rows():
  X, _, rng = _data(seed=3)
  Y = X[:, :3] @ rng.normal(size=(3, 2)) + rng.normal(size=(X.shape[0], 2))
  s = rng.integers(0, 3, size=X.shape[0])
  pen = jr.GroupLasso(0.05, axis=1)
  with jax.enable_x64(True):
    weighted = jr.linear.fit(X, Y, pen, sample_weight=s, tol=1e-12)
    repeated = jr.linear.fit(np.repeat(X, s, axis=0), np.repeat(Y, s, axis=0), pen, tol=1e-12)
  assert weighted.coef.shape == (8, 2) and weighted.intercept.shape == (2,)
  np.testing.assert_allclose(weighted.coef, repeated.coef, atol=1e-8)
  np.testing.assert_allclose(weighted.intercept, repeated.intercept, atol=1e-8)


def test_weighted_fit_is_differentiable_in_alpha():
  X, y, rng = _data(seed=4)
  s = rng.uniform(0.5, 2.0, size=X.shape[0])
  with jax.enable_x64(True):
    f = lambda a: jnp.sum(jr.linear.fit(X, y, jr.L1(a), sample_weight=s).coef ** 2)
    g = jax.grad(f)(0.05)
    h = 1e-6
    fd = (f(0.05 + h) - f(0.05 - h)) / (2 * h)
  np.testing.assert_allclose(g, fd, rtol=1e-5)


@pytest.mark.parametrize("bad,match", [
    (np.ones(59), r"sample_weight must be a scalar or have shape \(60,\)"),
    (np.r_[-1.0, np.ones(59)], "sample_weight must be >= 0; entry 0"),
    (np.r_[np.nan, np.ones(59)], "sample_weight contains NaN"),
    (np.r_[np.inf, np.ones(59)], "sample_weight contains NaN"),
    (np.zeros(60), "every weight is zero"),
])
def test_bad_sample_weight_is_a_named_error(bad, match):
  X, y, _ = _data()
  with pytest.raises(ValueError, match=match):
    jr.linear.fit(X, y, jr.L1(0.1), sample_weight=bad)


def _log_loss_objective(X, y, W, b, s, a2):
  """(1/Σs) Σᵢ sᵢ ℓᵢ + (a2/2)‖W‖², ℓ the binary or multinomial log-loss,
  written here from its definition (labels y as integer codes)."""
  Z = X @ W.reshape(X.shape[1], -1) + np.reshape(b, (1, -1))
  if Z.shape[1] == 1:
    z = Z[:, 0]
    loss = np.logaddexp(0.0, z) - y * z
  else:
    m = Z.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(Z - m).sum(axis=1, keepdims=True)))[:, 0]
    loss = lse - Z[np.arange(len(y)), y]
  return np.sum(s * loss) / np.sum(s) + 0.5 * a2 * np.sum(W * W)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_weighted_logistic_equals_sklearn(n_classes, fit_intercept):
  # scikit-learn minimises C Σᵢ sᵢℓᵢ + ½‖w‖²: jaxreg's mean scaling at α = 1/(C Σᵢ sᵢ).
  X, _, rng = _data(n=80, p=5, seed=5)
  y = rng.integers(0, n_classes, size=80)
  s = rng.uniform(0.0, 3.0, size=80)
  s[:7] = 0.0
  C = 0.3
  sk = SkLogisticRegression(C=C, tol=1e-13, max_iter=100_000,
                            fit_intercept=fit_intercept).fit(X, y, sample_weight=s)
  a2 = 1.0 / (C * s.sum())
  with jax.enable_x64(True):
    res = jr.linear.fit(X, y.astype(float) if n_classes == 2 else y, jr.L2(a2),
                        loss="logistic" if n_classes == 2 else "multinomial",
                        fit_intercept=fit_intercept, sample_weight=s)
  W = np.asarray(res.coef).reshape(5, -1)
  b = np.atleast_1d(np.asarray(res.intercept))
  skW, skb = sk.coef_.T, sk.intercept_
  ours = _log_loss_objective(X, y, W, b, s, a2)
  theirs = _log_loss_objective(X, y, skW, skb, s, a2)
  assert ours <= theirs * (1 + 1e-10)
  assert abs(ours - theirs) <= 1e-8 * theirs
  np.testing.assert_allclose(W, skW, atol=1e-6)
  assert bool(res.converged)


def test_weighted_poisson_equals_sklearn():
  X, _, rng = _data(n=80, p=5, seed=6)
  X = X / X.std(axis=0)
  y = rng.poisson(np.exp(0.3 * X[:, 0] - 0.2 * X[:, 1] + 0.5))
  s = rng.uniform(0.0, 2.0, size=80)
  s[:5] = 0.0
  sk = SkPoissonRegressor(alpha=0.05, tol=1e-13, max_iter=100_000).fit(X, y, sample_weight=s)
  with jax.enable_x64(True):
    res = jr.linear.fit(X, y, jr.L2(0.05), loss="poisson", sample_weight=s)
  np.testing.assert_allclose(res.coef, sk.coef_, atol=1e-7)
  np.testing.assert_allclose(res.intercept, sk.intercept_, atol=1e-7)


@pytest.mark.parametrize("loss,penalty", [
    ("logistic", jr.L1(0.02)),
    ("logistic", jr.ElasticNet(0.03, 0.5)),
    ("logistic", jr.MCP(0.02, gamma=3.0)),
    ("multinomial", jr.GroupLasso(0.02, axis=1)),
    ("poisson", jr.L1(0.02)),
    ("huber", jr.MCP(0.05, gamma=3.0)),
], ids=["logistic-l1", "logistic-enet", "logistic-mcp", "multinomial-group", "poisson-l1",
        "huber-mcp"])
def test_integer_weights_equal_repeated_rows_for_every_datafit(loss, penalty):
  X, y, rng = _data(n=50, p=6, seed=7)
  X = X / X.std(axis=0)
  if loss == "logistic":
    y = (y > np.median(y)).astype(float)
  elif loss == "multinomial":
    y = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
  elif loss == "poisson":
    y = rng.poisson(np.exp(0.3 * X[:, 0]))
  k = rng.integers(0, 4, size=50)
  k[:2] = (0, 3)
  rep = np.repeat(np.arange(50), k)
  with jax.enable_x64(True):
    a = jr.linear.fit(X, y, penalty, loss=loss, sample_weight=k, tol=1e-12)
    b = jr.linear.fit(X[rep], y[rep], penalty, loss=loss, tol=1e-12)
  assert np.any(np.asarray(a.coef) != 0)
  np.testing.assert_allclose(a.coef, b.coef, atol=1e-8)
  np.testing.assert_allclose(a.intercept, b.intercept, atol=1e-8)
  np.testing.assert_array_equal(np.asarray(a.coef) != 0, np.asarray(b.coef) != 0)


def test_weighted_logistic_is_differentiable_in_alpha():
  X, y, rng = _data(seed=8)
  y = (y > np.median(y)).astype(float)
  s = rng.uniform(0.5, 2.0, size=X.shape[0])
  with jax.enable_x64(True):
    f = lambda a: jnp.sum(jr.linear.fit(X, y, jr.L1(a), loss="logistic", tol=1e-12,
                                        sample_weight=s).coef ** 2)
    g = jax.grad(f)(0.02)
    h = 1e-6
    fd = (f(0.02 + h) - f(0.02 - h)) / (2 * h)
  np.testing.assert_allclose(g, fd, rtol=1e-5)


@pytest.mark.parametrize("penalty", [jr.L1(0.05), jr.MCP(0.05, gamma=3.0)], ids=["l1", "mcp"])
def test_init_is_a_warm_start_not_a_different_answer(penalty):
  X, y, _ = _data(seed=5)
  with jax.enable_x64(True):
    cold = jr.linear.fit(X, y, penalty)
    near = jr.linear.fit(X, y, jr.penalties._with_alpha(penalty, 0.051))
    warm = jr.linear.fit(X, y, penalty, init=near)
    warm_coef = jr.linear.fit(X, y, penalty, init=near.coef)
  np.testing.assert_allclose(warm.coef, cold.coef, atol=1e-8)
  np.testing.assert_allclose(warm_coef.coef, cold.coef, atol=1e-8)
  assert int(warm.n_iter) <= int(cold.n_iter)


def test_init_of_the_wrong_shape_is_a_named_error():
  X, y, _ = _data()
  with pytest.raises(ValueError, match=r"init \(coefficients\) must have shape \(8,\)"):
    jr.linear.fit(X, y, jr.L1(0.1), init=np.zeros(7))
  with pytest.raises(ValueError, match=r"init \(coefficients\) contains NaN"):
    jr.linear.fit(X, y, jr.MCP(0.1, 3.0), init=np.full(8, np.nan))


def test_check_sample_weight_rescales_to_n():
  s = check_sample_weight([1.0, 0.0, 3.0], 3, jnp.float32)
  np.testing.assert_allclose(s, [0.75, 0.0, 2.25])
  np.testing.assert_allclose(check_sample_weight(2.0, 4, jnp.float32), np.ones(4))
  assert check_sample_weight(None, 4, jnp.float32) is None


def test_square_root_form_keeps_every_quantity_of_the_gap():
  """Rᵀz = Xᵀy, RᵀR = XᵀX and ‖z‖ = ‖y‖: the residual's norm, its
  correlations and yᵀr are those of the original problem for every w."""
  X, y, rng = _data(n=50, p=6, seed=6)
  with jax.enable_x64(True):
    R, z = square_root_form(jnp.asarray(X), jnp.asarray(y))
    assert R.shape == (7, 6)
    for _ in range(3):
      w = rng.normal(size=6)
      r, rt = y - X @ w, z - R @ w
      np.testing.assert_allclose(rt @ rt, r @ r, rtol=1e-12)
      np.testing.assert_allclose(R.T @ rt, X.T @ r, rtol=1e-10, atol=1e-10)
      np.testing.assert_allclose(z @ rt, y @ r, rtol=1e-10)
    Xw, yw = X[:5], y[:5]
    A, b = square_root_form(jnp.asarray(Xw), jnp.asarray(yw))   # n ≤ p + 1: unchanged
    np.testing.assert_array_equal(A, Xw)


def test_weighted_rows_reduce_the_weighted_loss():
  X, y, rng = _data(n=20, p=3, seed=7)
  s = rng.uniform(0, 2, 20)
  s = s * 20 / s.sum()
  with jax.enable_x64(True):
    Xt, yt, xm, ym = weighted_rows(jnp.asarray(X), jnp.asarray(y), jnp.asarray(s), True)
    w = rng.normal(size=3)
    b = float(ym - xm @ w)
    np.testing.assert_allclose(np.sum((yt - Xt @ w) ** 2), np.sum(s * (y - X @ w - b) ** 2),
                               rtol=1e-12)


@pytest.mark.parametrize("make", [lambda: jr.L1(0.1), lambda: jr.ElasticNet(0.2, 0.5)],
                         ids=["lasso", "enet"])
def test_two_dimensional_y_is_independent_targets_as_sklearn(make):
  """scikit-learn's Lasso / ElasticNet on a 2-D y fit each column on its own."""
  X, _, rng = _data(seed=9)
  Y = X[:, :4] @ rng.normal(size=(4, 3)) + rng.normal(size=(X.shape[0], 3))
  pen = make()
  r = 1.0 if isinstance(pen, jr.L1) else 0.5
  with jax.enable_x64(True):
    res = jr.linear.fit(X, Y, pen, tol=1e-12)
  ref = SkElasticNet(alpha=float(pen.alpha), l1_ratio=r, tol=1e-14, max_iter=100_000).fit(X, Y)
  assert res.coef.shape == (8, 3) and res.intercept.shape == (3,)
  np.testing.assert_allclose(res.coef, ref.coef_.T, atol=1e-8)
  np.testing.assert_allclose(res.intercept, ref.intercept_, atol=1e-8)
  np.testing.assert_array_equal(np.asarray(res.coef) != 0, ref.coef_.T != 0)
