"""Tests for jaxreg.linear.datafits against independent oracles.

Values are checked against scikit-learn's own loss functions, gradients
against jax.grad and central finite differences in NumPy, Hessian diagonals
against jax.hessian, optimal intercepts against scipy.optimize.
"""

import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
from sklearn.metrics import log_loss, mean_poisson_deviance

from jaxreg.linear import datafits as dfs

ALL = ["squared", "logistic", "multinomial", "poisson", "huber"]


def _problem(name, n=7, T=3, seed=0, scale=1.0):
  """Valid targets y (n, T) and a predictor η (n, T) for a datafit, float64."""
  rng = np.random.default_rng(seed)
  eta = scale * rng.normal(size=(n, T))
  if name in ("squared", "huber", "multitask"):
    y = 2.0 * rng.normal(size=(n, T))
  elif name == "logistic":
    y = rng.integers(0, 2, size=(n, T)).astype(float)
  elif name == "multinomial":
    y = np.eye(T)[rng.integers(0, T, size=n)]
  elif name == "poisson":
    y = rng.poisson(2.0, size=(n, T)).astype(float)
    y[0, :] = 0.0  # exercise 0 log 0 = 0.
  return y, eta


# ----------------------------------------------------------------- values ---

def test_squared_value_matches_numpy(x64):
  y, eta = _problem("squared")
  n = y.shape[0]
  expected = np.sum((y - eta) ** 2) / (2 * n)
  np.testing.assert_allclose(dfs.Squared().value(jnp.asarray(y), jnp.asarray(eta)),
                             expected, rtol=1e-12)


def test_logistic_value_matches_sklearn_log_loss(x64):
  y, eta = _problem("logistic", n=40, T=1, scale=2.0)
  p = 1.0 / (1.0 + np.exp(-eta[:, 0]))
  expected = log_loss(y[:, 0], p, labels=[0.0, 1.0])
  got = dfs.Logistic().value(jnp.asarray(y), jnp.asarray(eta))
  np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_logistic_value_is_stable_for_large_eta(x64):
  y = jnp.array([[0.0], [1.0]])
  eta = jnp.array([[800.0], [-800.0]])
  np.testing.assert_allclose(dfs.Logistic().value(y, eta), 800.0, rtol=1e-12)


def test_multinomial_value_matches_sklearn_log_loss(x64):
  y, eta = _problem("multinomial", n=40, T=4, scale=2.0)
  p = np.exp(eta - eta.max(axis=1, keepdims=True))
  p /= p.sum(axis=1, keepdims=True)
  expected = log_loss(y.argmax(axis=1), p, labels=[0, 1, 2, 3])
  got = dfs.Multinomial().value(jnp.asarray(y), jnp.asarray(eta))
  np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_poisson_value_is_half_mean_poisson_deviance(x64):
  y, eta = _problem("poisson", n=40, T=1)
  expected = mean_poisson_deviance(y[:, 0], np.exp(eta[:, 0])) / 2
  got = dfs.Poisson().value(jnp.asarray(y), jnp.asarray(eta))
  np.testing.assert_allclose(got, expected, rtol=1e-10)


def _huber_docs(r, eps):
  # scikit-learn's HuberRegressor documentation: H(z) = z² for |z| < ε,
  # 2ε|z| − ε² otherwise, and the objective Σ σ + H(r/σ)σ; σ = 1 here.
  a = np.abs(r)
  return np.where(a < eps, a ** 2, 2 * eps * a - eps ** 2)


@pytest.mark.parametrize("eps", [1.35, 0.5])
def test_huber_value_matches_sklearn(x64, eps):
  rng = np.random.default_rng(3)
  n, p = 30, 4
  X = rng.normal(size=(n, p))
  w, c = rng.normal(size=p), 0.3
  y = X @ w + c + 3.0 * rng.standard_t(2, size=n)
  eta = (X @ w + c)[:, None]
  got = float(dfs.Huber(eps).value(jnp.asarray(y[:, None]), jnp.asarray(eta)))
  # Σ σ + H(r/σ)σ at σ = 1 is n + 2n·F.
  from_docs = (n + np.sum(_huber_docs(y - eta[:, 0], eps)) - n) / (2 * n)
  np.testing.assert_allclose(got, from_docs, rtol=1e-12)
  try:
    from sklearn.linear_model._huber import _huber_loss_and_gradient
  except ImportError:
    return
  loss, _ = _huber_loss_and_gradient(np.concatenate([w, [c, 1.0]]), X, y, eps,
                                     0.0, np.ones(n))
  np.testing.assert_allclose(got, (loss - n) / (2 * n), rtol=1e-12)


# ------------------------------------------------------------ derivatives ---

def _datafit(name):
  return dfs.Huber(0.8) if name == "huber" else dfs.get(name)


@jax.jit
def _derivatives(df, y, eta):
  """The datafit's own derivatives next to jax's, in one compiled call."""
  n, T = eta.shape
  H = jax.hessian(df.value, argnums=1)(y, eta).reshape(n * T, n * T)
  return (df.gradient(y, eta), jax.grad(df.value, argnums=1)(y, eta),
          df.hessian_diag(y, eta), jnp.diag(H).reshape(n, T))


@pytest.mark.parametrize("name", ALL)
def test_derivatives_match_autodiff_and_finite_differences(x64, name):
  df = _datafit(name)
  y, eta = _problem(name)
  g, g_ad, hd, hd_ad = _derivatives(df, jnp.asarray(y), jnp.asarray(eta))
  assert g.shape == hd.shape == eta.shape
  np.testing.assert_allclose(g, g_ad, rtol=1e-10, atol=1e-14)
  np.testing.assert_allclose(hd, hd_ad, rtol=1e-10, atol=1e-14)
  # Central differences of the value, all coordinates in one batched call.
  h = 1e-6
  steps = h * np.eye(eta.size).reshape(eta.size, *eta.shape)
  values = jax.jit(jax.vmap(df.value, in_axes=(None, 0)))(
      jnp.asarray(y), jnp.asarray(np.concatenate([eta + steps, eta - steps])))
  values = np.asarray(values)
  fd = ((values[:eta.size] - values[eta.size:]) / (2 * h)).reshape(eta.shape)
  np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ALL)
def test_curvature_bounds_the_hessian(x64, name):
  df = _datafit(name)
  assert df.quadratic == (name == "squared")
  if name == "poisson":
    assert df.curvature is None
    return
  expected = {"squared": 1.0, "logistic": 0.25, "multinomial": 0.5,
              "huber": 1.0}[name]
  assert df.curvature == expected
  for seed, scale in [(0, 0.1), (1, 1.0), (2, 5.0)]:
    y, eta = _problem(name, n=200, T=4, seed=seed, scale=scale)
    n = eta.shape[0]
    hd = np.asarray(df.hessian_diag(jnp.asarray(y), jnp.asarray(eta)))
    assert np.all(hd * n <= df.curvature + 1e-12)
    assert np.all(hd >= 0)


def test_multinomial_curvature_bounds_each_row_block(x64):
  # ½ bounds the whole K×K block (Böhning), not only its diagonal.
  rng = np.random.default_rng(1)
  for _ in range(20):
    p = jax.nn.softmax(jnp.asarray(3.0 * rng.normal(size=5)))
    block = jnp.diag(p) - jnp.outer(p, p)
    assert float(jnp.max(jnp.linalg.eigvalsh(block))) <= 0.5 + 1e-12


# ------------------------------------------------------------- intercepts ---

@pytest.mark.parametrize("name", ["squared", "logistic", "multinomial",
                                  "poisson"])
def test_intercept_start_minimises_value_at_zero_coefficients(x64, name):
  df = dfs.get(name)
  y, _ = _problem(name, n=30, T=3, seed=4)
  y = jnp.asarray(y)
  T = y.shape[1]
  value = jax.jit(lambda b: df.value(y, jnp.zeros_like(y) + b))
  grad = jax.jit(jax.grad(lambda b: df.value(y, jnp.zeros_like(y) + b)))
  res = scipy.optimize.minimize(
      lambda b: float(value(jnp.asarray(b))), np.zeros(T),
      jac=lambda b: np.asarray(grad(jnp.asarray(b))), method="BFGS",
      options={"gtol": 1e-12})
  b0 = np.asarray(df.intercept_start(y))
  assert b0.shape == (T,)
  if name == "multinomial":
    # Only defined up to a common shift: compare centred intercepts.
    res_x = res.x - res.x.mean()
  else:
    res_x = res.x
  np.testing.assert_allclose(b0, res_x, atol=1e-5)
  assert float(value(jnp.asarray(b0))) <= res.fun + 1e-12
  np.testing.assert_allclose(grad(jnp.asarray(b0)), 0.0, atol=1e-12)


def test_intercept_start_degenerate_targets_stay_finite(x64):
  zeros = jnp.zeros((5, 1))
  y = jnp.eye(3)[jnp.array([0, 0, 1])]  # class 2 absent.
  starts = jax.jit(lambda z, y: (
      dfs.Logistic().intercept_start(z), dfs.Logistic().intercept_start(z + 1),
      dfs.Poisson().intercept_start(z), dfs.Multinomial().intercept_start(y)))(
          zeros, y)
  for b in starts:
    assert np.isfinite(b).all()


def test_huber_intercept_start_is_the_median(x64):
  y = jnp.array([[1.0, 0.0], [2.0, 10.0], [100.0, 3.0]])
  np.testing.assert_allclose(dfs.Huber().intercept_start(y), [2.0, 3.0])


# ---------------------------------------------------------------- duality ---

@pytest.mark.parametrize("name", ["squared", "logistic", "multinomial", "poisson", "huber"])
def test_conjugate_fenchel_young(x64, name):
  df = dfs.get(name)
  y, eta = _problem(name, n=9, T=2, seed=5)
  rng = np.random.default_rng(6)
  others = jnp.asarray(rng.normal(size=(5,) + eta.shape))

  @jax.jit
  def gaps(y, eta, others):
    u = df.gradient(y, eta)
    gap = lambda e: df.value(y, e) + df.conjugate(y, u) - jnp.sum(u * e)
    return gap(eta), jax.vmap(gap)(others)

  at_gradient, elsewhere = gaps(jnp.asarray(y), jnp.asarray(eta), others)
  # F(η) + F*(u) = ⟨u, η⟩ at u = ∇F(η), and ≥ at every other η'.
  np.testing.assert_allclose(at_gradient, 0.0, atol=1e-12)
  assert np.all(np.asarray(elsewhere) >= -1e-12)


def _numeric_conjugate(df, y, u):
  """sup_η ⟨u, η⟩ − F(η) by numerical maximisation, row by row (F is a sum
  over rows; a row of the multinomial couples its classes)."""
  from scipy import optimize
  n = y.shape[0]
  total = 0.0
  for i in range(n):
    def neg(e, i=i):
      eta = np.zeros(y.shape)
      eta[i] = e
      # F restricted to row i: the other rows (at η = 0) are a constant.
      return -(u[i] @ e - (float(df.value(y, eta)) - float(df.value(y, np.zeros(y.shape)))))
    res = optimize.minimize(neg, np.zeros(y.shape[1]), method="BFGS",
                            options=dict(gtol=1e-11, maxiter=10_000))
    total += -res.fun
  return total - float(df.value(y, np.zeros(y.shape)))


@pytest.mark.parametrize("name", ["squared", "logistic", "multinomial", "poisson", "huber"])
def test_conjugate_matches_a_numerical_supremum(x64, name):
  """F*(u) against sup_η ⟨u, η⟩ − F(η) found by BFGS (scipy), at points u
  inside the domain: gradients at other η, shrunk towards 0 (the dual
  points the gap uses, s·∇F with s < 1)."""
  df = dfs.get(name)
  y, eta = _problem(name, n=5, T=3, seed=2)
  for s in (1.0, 0.6):
    u = s * np.asarray(df.gradient(jnp.asarray(y), jnp.asarray(eta)))
    want = _numeric_conjugate(df, y, u)
    got = float(df.conjugate(jnp.asarray(y), jnp.asarray(u)))
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name, outside", [
    ("multinomial", lambda y, n: (0.5 - y) / n),                    # rows sum to 1.5·K − 1
    ("poisson", lambda y, n: -(y + 1.0) / n),                       # a mean below 0
    ("huber", lambda y, n: np.full(y.shape, 1.35 * (1 + 1e-6) / n)),  # beyond ε
])
def test_conjugates_are_infinite_outside_their_domain(x64, name, outside):
  df = dfs.get(name)
  y, _ = _problem(name, n=5, T=3, seed=2)
  assert np.isinf(float(df.conjugate(jnp.asarray(y), jnp.asarray(outside(y, 5)))))


@pytest.mark.parametrize("name", ["squared", "logistic", "multinomial", "poisson", "huber"])
@pytest.mark.parametrize("scale", [1.0, 40.0])
def test_feasible_dual_sums_to_zero_inside_the_domain(x64, name, scale):
  """The intercept's dual point: columns summing to 0, a finite conjugate
  (also at saturated predictions, η of size 40), rows on the simplex for
  the multinomial, and u itself when u already sums to 0."""
  df = dfs.get(name)
  y, eta = _problem(name, n=9, T=3, seed=3, scale=scale)
  y, eta = jnp.asarray(y), jnp.asarray(eta)
  u = df.gradient(y, eta)
  v = df.feasible_dual(y, u)
  np.testing.assert_allclose(jnp.sum(v, axis=0), 0.0, atol=1e-14 * max(1.0, float(jnp.max(jnp.abs(u)))) * 9)
  assert np.isfinite(float(df.conjugate(y, v)))
  for s in (0.3, 1.0):  # the solvers rescale it towards 0
    assert np.isfinite(float(df.conjugate(y, s * v)))
  if name == "multinomial":
    np.testing.assert_allclose(jnp.sum(y + 9 * v, axis=1), 1.0, atol=1e-14)
  centered = df.feasible_dual(y, v)
  np.testing.assert_allclose(centered, v, atol=1e-15)


def test_logistic_conjugate_is_infinite_outside_its_domain(x64):
  y = jnp.array([[1.0], [0.0]])
  assert np.isinf(dfs.Logistic().conjugate(y, jnp.array([[1.0], [0.0]])))
  # A rounding step past the boundary is not outside (a saturated σ):
  # n·u = 1 + 2ε is 1, n·u = 1 + 1e-9 is not.
  eps = np.finfo(np.float64).eps
  u = jnp.array([[0.0], [(1 + 2 * eps) / 2]])
  assert np.isfinite(dfs.Logistic().conjugate(y, u))
  assert np.isinf(dfs.Logistic().conjugate(y, jnp.array([[0.0], [(1 + 1e-9) / 2]])))


# --------------------------------------------------------- checks, get -----

def test_get_names_and_instances():
  assert isinstance(dfs.get("squared"), dfs.Squared)
  assert isinstance(dfs.get("multitask"), dfs.Squared)
  assert isinstance(dfs.get("Logistic"), dfs.Logistic)
  assert isinstance(dfs.get("multinomial"), dfs.Multinomial)
  assert isinstance(dfs.get("poisson"), dfs.Poisson)
  assert dfs.get("huber").epsilon == 1.35
  h = dfs.Huber(2.0)
  assert dfs.get(h) is h
  assert set(dfs.NAMES) == {"squared", "logistic", "multinomial", "poisson",
                            "huber", "multitask"}


@pytest.mark.parametrize("bad", ["hinge", None, 3, dfs.Squared])
def test_get_rejects_unknown_names(bad):
  with pytest.raises(ValueError, match="datafit") as e:
    dfs.get(bad)
  for name in dfs.NAMES:
    assert name in str(e.value)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), "a", None])
def test_huber_rejects_bad_epsilon(bad):
  with pytest.raises(ValueError, match="epsilon"):
    dfs.Huber(bad)


@pytest.mark.parametrize("name,y", [
    ("logistic", [[0.0], [2.0]]),
    ("logistic", [[0.0], [float("nan")]]),
    ("multinomial", [[1.0, 1.0], [0.0, 1.0]]),
    ("multinomial", [[0.5, 0.5]]),
    ("poisson", [[1.0], [-1.0]]),
    ("squared", [[1.0], [float("inf")]]),
    ("huber", [1.0, 2.0]),  # not 2-D.
])
def test_check_y_rejects_invalid_targets(name, y):
  with pytest.raises(ValueError, match=r"\by\b"):
    dfs.get(name).check_y(np.asarray(y))


@pytest.mark.parametrize("name,y", [
    ("logistic", [0, 1, 2]),
    ("logistic", [1, 1, 1]),
    ("logistic", ["a", "b"]),
    ("multinomial", [1, 1]),
    ("multinomial", [0, 1, float("nan")]),
    ("poisson", [1.0, -2.0]),
    ("squared", [1.0, float("nan")]),
    ("huber", np.zeros((2, 2, 2))),
    ("squared", []),
])
def test_prepare_targets_rejects_invalid_targets(name, y):
  with pytest.raises(ValueError, match=r"\by\b"):
    dfs.prepare_targets(name, y)


def test_prepare_targets_rejects_unknown_datafit():
  with pytest.raises(ValueError, match="datafit"):
    dfs.prepare_targets("gamma", [1.0, 2.0])


def test_prepare_targets_shapes_and_classes(x64):
  Y, info = dfs.prepare_targets("squared", [1.0, 2.0, 3.0])
  assert Y.shape == (3, 1) and info["classes"] is None and info["n_outputs"] == 1
  Y, info = dfs.prepare_targets("multitask", np.ones((4, 2)))
  assert Y.shape == (4, 2) and info["n_outputs"] == 2
  Y, _ = dfs.prepare_targets("poisson", [0, 1, 5])
  assert Y.dtype == jnp.float64 and Y[:, 0].tolist() == [0.0, 1.0, 5.0]

  Y, info = dfs.prepare_targets("logistic", [3, -1, 3, -1, -1])
  assert info["classes"].tolist() == [-1, 3]
  assert Y[:, 0].tolist() == [1.0, 0.0, 1.0, 0.0, 0.0]

  Y, info = dfs.prepare_targets(dfs.Multinomial(), [3, 1, 2, 1, 7])
  assert info["classes"].tolist() == [1, 2, 3, 7]
  assert Y.shape == (5, 4)
  np.testing.assert_array_equal(
      np.asarray(info["classes"])[np.asarray(Y).argmax(axis=1)], [3, 1, 2, 1, 7])
  # A column of labels (n, 1) is accepted too.
  Y2, _ = dfs.prepare_targets("multinomial", np.array([[3], [1], [2], [1], [7]]))
  np.testing.assert_array_equal(Y, Y2)


# --------------------------------------------------- dtypes, jit, vmap -----

@pytest.mark.parametrize("name", ALL)
def test_float32_stays_float32(name):
  """float32 in, float32 out, with the datafit a jit argument (a pytree)."""
  df = _datafit(name)
  y, eta = _problem(name)
  y, eta = jnp.asarray(y, jnp.float32), jnp.asarray(eta, jnp.float32)
  with jax.enable_x64(True):  # even with 64-bit floats enabled.
    outs = jax.jit(lambda d, y, eta: (
        d.value(y, eta), d.gradient(y, eta), d.hessian_diag(y, eta),
        d.intercept_start(y), jax.grad(d.value, 1)(y, eta)))(df, y, eta)
  for out in outs:
    assert out.dtype == jnp.float32
    assert np.all(np.isfinite(out))
  np.testing.assert_allclose(outs[1], outs[4], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ALL)
def test_datafits_are_pytrees(name):
  # (test_float32_stays_float32 passes them through jax.jit as arguments.)
  df = _datafit(name)
  leaves, treedef = jax.tree_util.tree_flatten(df)
  assert len(leaves) == (1 if name == "huber" else 0)
  assert jax.tree_util.tree_unflatten(treedef, leaves) == df
  assert hash(df) == hash(_datafit(name))
  assert df != dfs.Huber(7.0)


def test_vmap_over_huber_epsilon_and_over_problems():
  y, eta = _problem("huber")
  epsilons = np.array([0.5, 1.0, 2.0])
  yj, etaj = jnp.asarray(y, jnp.float32), jnp.asarray(eta, jnp.float32)
  batched = jax.vmap(lambda d: d.value(yj, etaj))(dfs.Huber(epsilons))
  single = [np.sum(_huber_docs(y - eta, e)) / (2 * y.shape[0]) for e in epsilons]
  np.testing.assert_allclose(batched, single, rtol=1e-5)
  # Map over problems, the datafit passed unmapped.
  ys = jnp.stack([yj, 2 * yj])
  etas = jnp.stack([etaj, -etaj])
  out = jax.vmap(lambda d, a, b: d.gradient(a, b), in_axes=(None, 0, 0))(
      dfs.Huber(), ys, etas)
  expected = -np.clip(2 * y + eta, -1.35, 1.35) / y.shape[0]
  np.testing.assert_allclose(out[1], expected, rtol=1e-5, atol=1e-7)


def test_datafits_are_immutable():
  with pytest.raises(AttributeError):
    dfs.Huber().epsilon = 2.0
  with pytest.raises(AttributeError):
    dfs.Squared().curvature = 3.0


# ------------------------------------------------------------- weighted ---

def _weights(n, seed):
  """Integer weights with a zero and a repeat, so that repetition is an oracle."""
  k = np.random.default_rng(seed).integers(0, 4, size=n).astype(float)
  k[:2] = (0.0, 3.0)
  return k


@pytest.mark.parametrize("name", ALL)
def test_weighted_equals_repeated_rows(x64, name):
  """Integer weights k: the value, the gradient (summed over the copies of a
  row), the Hessian diagonal and the best intercept at W = 0 of the data
  with row i repeated kᵢ times (weight 0: absent)."""
  y, eta = _problem(name, n=8, T=3, seed=4)
  k = _weights(8, 4)
  rep = np.repeat(np.arange(8), k.astype(int))
  base = dfs.get(name)
  df = dfs.Weighted(base, 2.5 * k)      # the scale of the weights does not matter
  y_, e_ = jnp.asarray(y), jnp.asarray(eta)
  np.testing.assert_allclose(df.value(y_, e_), base.value(y_[rep], e_[rep]), rtol=1e-13)
  sums = lambda a: np.asarray(jax.ops.segment_sum(a, rep, 8))
  np.testing.assert_allclose(df.gradient(y_, e_), sums(base.gradient(y_[rep], e_[rep])),
                             atol=1e-15)
  np.testing.assert_allclose(df.hessian_diag(y_, e_), sums(base.hessian_diag(y_[rep], e_[rep])),
                             atol=1e-15)
  if name != "huber":   # Huber's start is a median, not an optimum
    np.testing.assert_allclose(df.intercept_start(y_), base.intercept_start(y_[rep]), atol=1e-13)


@pytest.mark.parametrize("name", ALL)
def test_weighted_conjugate_matches_a_numerical_supremum(x64, name):
  """F_s*(u) against sup_η ⟨u, η⟩ − F_s(η) by BFGS, at the weighted
  gradient made feasible and shrunk (rows of weight 0 carry u = 0)."""
  y, eta = _problem(name, n=6, T=3, seed=5)
  df = dfs.Weighted(name, _weights(6, 5))
  y_, e_ = jnp.asarray(y), jnp.asarray(eta)
  u = df.feasible_dual(y_, df.gradient(y_, e_))
  np.testing.assert_allclose(jnp.sum(u, axis=0), 0.0, atol=1e-14)
  assert np.all(np.asarray(u[0]) == 0.0)
  jitted = types.SimpleNamespace(value=jax.jit(df.value))   # BFGS calls it often
  for s in (1.0, 0.6):
    want = _numeric_conjugate(jitted, y, np.asarray(s * u))
    np.testing.assert_allclose(float(df.conjugate(y_, s * u)), want, rtol=1e-7, atol=1e-9)
  # Fenchel-Young: equality at u = ∇F_s(η), and a row of weight 0 with uᵢ ≠ 0 is infeasible.
  g = df.gradient(y_, e_)
  np.testing.assert_allclose(df.value(y_, e_) + df.conjugate(y_, g), jnp.sum(g * e_), atol=1e-13)
  assert np.isinf(float(df.conjugate(y_, g.at[0, 0].set(1e-3))))


def test_weighted_is_a_pytree_new_weights_do_not_recompile(x64):
  y, eta = _problem("logistic", n=6, T=1, seed=6)
  traces = []

  @jax.jit
  def value(df):
    traces.append(1)
    return df.value(jnp.asarray(y), jnp.asarray(eta))

  a = value(dfs.Weighted("logistic", np.ones(6)))
  b = value(dfs.Weighted("logistic", np.arange(6.0)))
  assert len(traces) == 1 and float(a) != float(b)
  assert dfs.Weighted("poisson", np.ones(3)) == dfs.Weighted(dfs.Poisson(), np.ones(3))
  assert dfs.Weighted("poisson", np.ones(3)).name == "poisson"


@pytest.mark.parametrize("bad,match", [
    (np.ones((3, 1)), "sample_weight must be a 1-D array"),
    (np.array([1.0, -1.0, 1.0]), "sample_weight must be >= 0; entry 1"),
    (np.array([1.0, np.nan, 1.0]), "sample_weight contains NaN"),
    (np.zeros(3), "every weight is zero"),
    (np.array(["a", "b", "c"]), "sample_weight must be numeric"),
])
def test_weighted_bad_weights_are_named_errors(bad, match):
  with pytest.raises(ValueError, match=match):
    dfs.Weighted("logistic", bad)


def test_weighted_wrong_length_and_nesting_are_named_errors():
  df = dfs.Weighted("squared", np.ones(3))
  with pytest.raises(ValueError, match="sample_weight has 3 entries but the data has 4 rows"):
    df.value(jnp.zeros((4, 1)), jnp.zeros((4, 1)))
  with pytest.raises(ValueError, match="already Weighted"):
    dfs.Weighted(df, np.ones(3))


@pytest.mark.parametrize("name", ALL + ["weighted-multinomial"])
def test_hessian_parts_give_each_rows_hessian(x64, name):
  """diag(dᵢ) − uᵢuᵢᵀ against jax.hessian of F in row i's outputs."""
  weighted = name.startswith("weighted-")
  base = name.split("-")[-1]
  y, eta = _problem(base, n=5, T=3, seed=9)
  df = dfs.Weighted(base, _weights(5, 9)) if weighted else dfs.get(base)
  y_, e_ = jnp.asarray(y), jnp.asarray(eta)
  d, u = df.hessian_parts(y_, e_)
  assert (u is None) == (base not in ("multinomial",))
  full = jax.hessian(lambda e: df.value(y_, e))(e_)         # (n, T, n, T)
  for i in range(5):
    want = full[i, :, i, :]
    got = jnp.diag(d[i]) - (0.0 if u is None else jnp.outer(u[i], u[i]))
    np.testing.assert_allclose(got, want, atol=1e-14)
