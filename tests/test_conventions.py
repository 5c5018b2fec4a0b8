"""Every row of the conventions table, against the other tool's objective or
update rule written out, or against the other tool itself."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.linear_model import LogisticRegression, Ridge

import jaxreg as jr
from jaxreg.conventions import SOURCES, convert

RNG = np.random.default_rng(0)
N, P = 40, 5
X = RNG.standard_normal((N, P))
Y = X @ RNG.standard_normal(P) + 0.3 * RNG.standard_normal(N)
YB = (Y > 0).astype(np.float64)
WS = [RNG.standard_normal(P) for _ in range(4)]


def mean_sq(w):
  return 0.5 * np.mean((Y - X @ w) ** 2)


def mean_logloss(w):
  z = X @ w
  return np.mean(np.logaddexp(0.0, z) - YB * z)


def assert_proportional(theirs, ours):
  """theirs(w) = k·ours(w) + const for one k > 0 at every w: same minimiser.

  Differences between points remove the constant, their ratios give k.
  """
  t = np.array([theirs(w) for w in WS])
  o = np.array([ours(w) for w in WS])
  ratios = (t[1:] - t[0]) / (o[1:] - o[0])
  assert np.all(ratios > 0)
  np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)


def pen_value(pen, w):
  return float(pen(jnp.asarray(w)))


def test_tf1_example():
  assert float(convert(1.0, "tf1.l2_regularizer")(jnp.array([3.0, 4.0]))) == 12.5


def test_docstring_lists_every_source():
  doc = jr.conventions.__doc__.lower()
  for key in SOURCES:
    assert f"``{key.lower()}``" in doc, key
  assert "SOURCES" in convert.__doc__


@pytest.mark.parametrize("source, theirs", [
    ("sklearn.Lasso", lambda w, a: mean_sq(w) + a * np.sum(np.abs(w))),
    ("keras.l1", lambda w, a: mean_sq(w) + a * np.sum(np.abs(w))),
])
def test_lasso_like_rows(source, theirs):
  with jax.enable_x64(True):
    a = 0.3
    pen = convert(a, source)
    assert_proportional(lambda w: theirs(w, a), lambda w: mean_sq(w) + pen_value(pen, w))


def test_sklearn_elasticnet_and_glmnet_rows():
  with jax.enable_x64(True):
    a, r = 0.3, 0.6
    # sklearn ElasticNet: 1/(2n)‖y − Xw‖² + a·r‖w‖₁ + a(1 − r)/2 ‖w‖².
    sk = lambda w: mean_sq(w) + a * r * np.sum(np.abs(w)) + 0.5 * a * (1 - r) * np.sum(w ** 2)
    # glmnet (gaussian): 1/(2n) RSS + λ[(1 − α)/2 ‖β‖² + α‖β‖₁].
    lam, al = a, r
    gl = lambda w: mean_sq(w) + lam * ((1 - al) / 2 * np.sum(w ** 2) + al * np.sum(np.abs(w)))
    for source, theirs in (("sklearn.ElasticNet", sk), ("glmnet", gl)):
      pen = convert(a, source, l1_ratio=r)
      assert isinstance(pen, jr.ElasticNet)
      assert_proportional(theirs, lambda w: mean_sq(w) + pen_value(pen, w))


def test_sklearn_ridge_row_reaches_sklearn_solution():
  with jax.enable_x64(True):
    a = 3.0
    pen = convert(a, "sklearn.Ridge", n_samples=N)
    # Ridge's own objective ‖y − Xw‖² + a‖w‖², written out.
    assert_proportional(lambda w: np.sum((Y - X @ w) ** 2) + a * np.sum(w ** 2),
                        lambda w: mean_sq(w) + pen_value(pen, w))
    # And sklearn's solver: the jaxreg objective is quadratic, so one Newton
    # step from 0 (with autodiff's gradient and Hessian) is its minimiser.
    obj = lambda w: 0.5 * jnp.mean((jnp.asarray(Y) - jnp.asarray(X) @ w) ** 2) + pen(w)
    w0 = jnp.zeros(P)
    newton = jax.jit(lambda w: w - jnp.linalg.solve(jax.hessian(obj)(w), jax.grad(obj)(w)))
    w = newton(w0)
    ref = Ridge(alpha=a, fit_intercept=False, solver="cholesky").fit(X, Y).coef_
    np.testing.assert_allclose(np.asarray(w), ref, rtol=1e-10)


def test_logistic_l2_row_reaches_sklearn_solution():
  with jax.enable_x64(True):
    c = 0.05
    pen = convert(c, "sklearn.LogisticRegression.l2", n_samples=N)
    # sklearn: C Σ logloss + ½‖w‖².
    assert_proportional(lambda w: c * N * mean_logloss(w) + 0.5 * np.sum(w ** 2),
                        lambda w: mean_logloss(w) + pen_value(pen, w))
    Xj, yj = jnp.asarray(X), jnp.asarray(YB)

    def obj(w):
      z = Xj @ w
      return jnp.mean(jnp.logaddexp(0.0, z) - yj * z) + pen(w)

    @jax.jit
    def newton(w):
      return w - jnp.linalg.solve(jax.hessian(obj)(w), jax.grad(obj)(w))

    w = jnp.zeros(P)
    for _ in range(30):
      w = newton(w)
    ref = LogisticRegression(C=c, fit_intercept=False, tol=1e-12, max_iter=10_000).fit(X, YB)
    np.testing.assert_allclose(np.asarray(w), ref.coef_.ravel(), rtol=1e-5)


def test_logistic_l1_and_elasticnet_rows():
  with jax.enable_x64(True):
    c, r = 0.05, 0.4
    pen1 = convert(c, "sklearn.LogisticRegression.l1", n_samples=N)
    assert_proportional(lambda w: c * N * mean_logloss(w) + np.sum(np.abs(w)),
                        lambda w: mean_logloss(w) + pen_value(pen1, w))
    pen = convert(c, "sklearn.LogisticRegression.elasticnet", n_samples=N, l1_ratio=r)
    assert_proportional(
        lambda w: c * N * mean_logloss(w) + r * np.sum(np.abs(w)) + (1 - r) / 2 * np.sum(w ** 2),
        lambda w: mean_logloss(w) + pen_value(pen, w))


def test_keras_l2_value():
  l = 0.01
  w = jnp.asarray(WS[0], jnp.float32)
  np.testing.assert_allclose(float(convert(l, "keras.l2")(w)), l * np.sum(WS[0] ** 2), rtol=1e-6)
  np.testing.assert_allclose(float(convert(l, "keras.l1")(w)), l * np.sum(np.abs(WS[0])), rtol=1e-6)


def test_prior_rows_are_map_estimates():
  with jax.enable_x64(True):
    sigma2, tau, b = 0.5, 2.0, 0.7
    # Negative log posterior, up to constants: Gaussian noise of variance σ².
    gauss = lambda w: np.sum((Y - X @ w) ** 2) / (2 * sigma2) + np.sum(w ** 2) / (2 * tau ** 2)
    lap = lambda w: np.sum((Y - X @ w) ** 2) / (2 * sigma2) + np.sum(np.abs(w)) / b
    pg = convert(tau, "gaussian_prior", n_samples=N, noise_variance=sigma2)
    pl = convert(b, "laplace_prior", n_samples=N, noise_variance=sigma2)
    assert_proportional(gauss, lambda w: mean_sq(w) + pen_value(pg, w))
    assert_proportional(lap, lambda w: mean_sq(w) + pen_value(pl, w))


def test_torch_sgd_weight_decay_update():
  with jax.enable_x64(True):
    lam, lr = 0.1, 0.05
    tx = optax.chain(jr.add_penalty_gradient(convert(lam, "torch.SGD.weight_decay")), optax.sgd(lr))
    w = jnp.asarray(WS[0])
    state = tx.init(w)
    w_ref = np.array(WS[0])
    for g in WS[1:]:
      u, state = tx.update(jnp.asarray(g), state, w)
      w = optax.apply_updates(w, u)
      # torch.optim.SGD: d_p = grad + weight_decay·p; p -= lr·d_p.
      w_ref = w_ref - lr * (g + lam * w_ref)
    np.testing.assert_allclose(np.asarray(w), w_ref, rtol=1e-12)


@pytest.mark.parametrize("source", ["torch.AdamW.weight_decay", "optax.adamw.weight_decay"])
def test_adamw_rows(source):
  with jax.enable_x64(True):
    lam, lr, b1, b2, eps = 0.1, 0.01, 0.9, 0.999, 1e-8
    tx = optax.chain(optax.scale_by_adam(b1, b2, eps), jr.add_penalty_gradient(convert(lam, source)),
                     optax.scale_by_learning_rate(lr))
    peer = optax.adamw(lr, b1, b2, eps, weight_decay=lam)
    w = p = jnp.asarray(WS[0])
    s, sp = tx.init(w), peer.init(p)
    # torch.optim.AdamW as documented: θ ← θ − lr·λ·θ, then the Adam step.
    th, m, v = np.array(WS[0]), np.zeros(P), np.zeros(P)
    for t, g in enumerate(WS[1:] * 3, start=1):
      u, s = tx.update(jnp.asarray(g), s, w)
      w = optax.apply_updates(w, u)
      up, sp = peer.update(jnp.asarray(g), sp, p)
      p = optax.apply_updates(p, up)
      th = th - lr * lam * th
      m = b1 * m + (1 - b1) * g
      v = b2 * v + (1 - b2) * g ** 2
      th = th - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    np.testing.assert_allclose(np.asarray(w), np.asarray(p), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(w), th, rtol=1e-10)


def test_case_insensitive_and_batched():
  pen = convert(jnp.array([1.0, 10.0]), "SKLEARN.RIDGE", n_samples=10)
  np.testing.assert_allclose(np.asarray(pen.alpha), [0.1, 1.0], rtol=1e-6)
  assert isinstance(convert(1.0, "keras.L2", mask=jr.masks.weights_only), jr.L2)


def test_errors_name_the_argument():
  with pytest.raises(ValueError, match="unknown source"):
    convert(1.0, "sklearn.Lars")
  with pytest.raises(TypeError, match="source"):
    convert(1.0, 3)
  for source in ("sklearn.Ridge", "sklearn.LogisticRegression.l2", "gaussian_prior"):
    with pytest.raises(ValueError, match="n_samples"):
      convert(1.0, source, noise_variance=1.0)
  with pytest.raises(ValueError, match="n_samples"):
    convert(1.0, "sklearn.Ridge", n_samples=0)
  with pytest.raises(TypeError, match="n_samples"):
    convert(1.0, "sklearn.Ridge", n_samples=10.5)
  with pytest.raises(ValueError, match="noise_variance"):
    convert(1.0, "laplace_prior", n_samples=10)
  with pytest.raises(ValueError, match="l1_ratio"):
    convert(1.0, "glmnet")
  with pytest.raises(ValueError, match="C"):
    convert(0.0, "sklearn.LogisticRegression.l2", n_samples=10)
  with pytest.raises(ValueError, match="alpha"):
    convert(-1.0, "sklearn.Lasso")
  with pytest.raises(ValueError, match="alpha"):
    convert(-1.0, "keras.l2")


@pytest.mark.parametrize("alias, canonical", [
    ("sklearn_ridge", "sklearn.Ridge"),
    ("Ridge", "sklearn.Ridge"),
    ("torch.optim.SGD", "torch.SGD.weight_decay"),
    ("pytorch.AdamW", "torch.AdamW.weight_decay"),
    ("optax.adamw", "optax.adamw.weight_decay"),
    ("keras.regularizers.l2", "keras.l2"),
    ("tf.keras.regularizers.l1", "keras.l1"),
    ("tf.contrib.layers.l2_regularizer", "tf1.l2_regularizer"),
    ("sklearn.LogisticRegression", "sklearn.LogisticRegression.l2"),
    ("Laplace", "laplace_prior"),
    ("gaussian", "gaussian_prior"),
])
def test_common_spellings_map_to_the_same_row(alias, canonical):
  kwargs = dict(n_samples=50, noise_variance=2.0)
  a = jr.conventions.convert(0.3, alias, **kwargs)
  b = jr.conventions.convert(0.3, canonical, **kwargs)
  assert type(a) is type(b)
  np.testing.assert_allclose(np.asarray(a.alpha), np.asarray(b.alpha), rtol=0)
