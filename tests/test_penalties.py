"""Penalties: values against the conventions table written out in NumPy,
prox optimality (perturbations), non-expansiveness, Moreau's identity,
gradients against jax.grad and finite differences, and jit/vmap/grad."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jaxreg as jr

# One compiled function per (penalty type, static fields, shape, dtype),
# reused by every hypothesis example: α and the step are traced arguments.
_value = jax.jit(lambda pen, x: pen(x))
_grad = jax.jit(lambda pen, x: pen.grad(x))
_prox = jax.jit(lambda pen, x, s: pen.prox(x, s))

SETTINGS = settings(max_examples=20, deadline=None)
vec = hnp.arrays(np.float64, (6,), elements=st.floats(-4, 4, width=64))
mat = hnp.arrays(np.float64, (3, 4), elements=st.floats(-4, 4, width=64))
alphas = st.floats(0.0, 3.0)
steps = st.floats(0.0, 2.0)


# --- the conventions table, written out independently in NumPy -------------
def ref_value(name, x, a, r=0.5, axis=1, weights=None):
  x = np.asarray(x, np.float64)
  if name == "L1":
    v = np.ones_like(x) if weights is None else np.asarray(weights)
    return a * np.sum(v * np.abs(x))
  if name == "L2":
    return 0.5 * a * np.sum(x ** 2)
  if name == "ElasticNet":
    return a * r * np.sum(np.abs(x)) + 0.5 * a * (1 - r) * np.sum(x ** 2)
  if name == "GroupLasso":
    size = x.shape[axis]
    return a * np.sqrt(size) * np.sum(np.linalg.norm(x, axis=axis))
  raise AssertionError(name)


def make(name, a, r=0.5, axis=1, weights=None):
  if name == "L1":
    return jr.L1(a, weights=weights)
  if name == "L2":
    return jr.L2(a)
  if name == "ElasticNet":
    return jr.ElasticNet(a, r)
  if name == "GroupLasso":
    return jr.GroupLasso(a, axis=axis)
  raise AssertionError(name)


def objective(name, z, x, s, a, **kw):
  return 0.5 * np.sum((z - x) ** 2) + s * ref_value(name, z, a, **kw)


def assert_no_perturbation_better(f, z, seed=0, n=300):
  """f(z) is no larger than f at random nearby points and at points with
  some coordinates set to 0 (where non-smooth penalties put minimisers)."""
  rng = np.random.default_rng(seed)
  fz = f(z)
  tol = 1e-10 * (1.0 + abs(fz))
  for scale in (1e-6, 1e-4, 1e-2, 1.0):
    for _ in range(n // 4):
      cand = z + scale * rng.standard_normal(z.shape)
      assert f(cand) >= fz - tol, (scale, f(cand), fz)
  for _ in range(20):
    cand = np.where(rng.random(z.shape) < 0.5, 0.0, z)
    assert f(cand) >= fz - tol


CONVEX = ["L1", "L2", "ElasticNet"]


@pytest.mark.parametrize("name", CONVEX)
@SETTINGS
@given(x=vec, a=alphas, s=steps, r=st.floats(0.0, 1.0))
def test_prox_minimises_objective(name, x, a, s, r):
  with jax.enable_x64(True):
    z = np.asarray(_prox(make(name, a, r=r), jnp.asarray(x), s))
    assert z.dtype == np.float64
    assert_no_perturbation_better(lambda v: objective(name, v, x, s, a, r=r), z)


@SETTINGS
@given(x=mat, a=alphas, s=steps, axis=st.sampled_from([0, 1]))
def test_group_lasso_prox_minimises_objective(x, a, s, axis):
  with jax.enable_x64(True):
    z = np.asarray(_prox(jr.GroupLasso(a, axis=axis), jnp.asarray(x), s))
    assert_no_perturbation_better(
        lambda v: objective("GroupLasso", v, x, s, a, axis=axis), z)


@SETTINGS
@given(x=vec, a=alphas, s=steps, w=hnp.arrays(np.float64, (6,), elements=st.floats(0, 3)))
def test_weighted_l1_prox_minimises_objective(x, a, s, w):
  with jax.enable_x64(True):
    z = np.asarray(_prox(jr.L1(a, weights=jnp.asarray(w)), jnp.asarray(x), s))
    assert_no_perturbation_better(lambda v: objective("L1", v, x, s, a, weights=w), z)


@pytest.mark.parametrize("name", CONVEX + ["GroupLasso"])
@SETTINGS
@given(x=mat, y=mat, a=alphas, s=steps)
def test_prox_is_non_expansive(name, x, y, a, s):
  with jax.enable_x64(True):
    pen = make(name, a)
    px = np.asarray(_prox(pen, jnp.asarray(x), s))
    py = np.asarray(_prox(pen, jnp.asarray(y), s))
    assert np.linalg.norm(px - py) <= np.linalg.norm(x - y) * (1 + 1e-12) + 1e-12


@SETTINGS
@given(x=vec, a=alphas, s=steps)
def test_moreau_identity_l1_linf_ball(x, a, s):
  # x = prox_{s a |.|_1}(x) + projection of x onto the l_inf ball of radius s a.
  with jax.enable_x64(True):
    xj = jnp.asarray(x)
    prox = jr.L1(a).prox(xj, s)
    proj = jr.LinfBall(s * a).project(xj)
    np.testing.assert_allclose(np.asarray(prox + proj), x, rtol=0, atol=1e-12)


@pytest.mark.parametrize("pen", [jr.L1(0.7), jr.L2(0.7), jr.ElasticNet(0.7, 0.3),
                                 jr.Lp(0.7, 0.3), jr.Lp(0.7, 0.5), jr.Lp(0.7, 1.5),
                                 jr.GroupLasso(0.7, axis=-1)],
                         ids=lambda p: repr(p)[:18])
def test_step_zero_prox_is_identity(pen):
  x = {"w": jnp.array([[0.3, -2.0, 0.0], [1e-3, 5.0, -0.1]]), "b": jnp.array([0.0, 0.0])}
  out = _prox(pen, x, 0.0)
  for a, b in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(x)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("name", CONVEX + ["GroupLasso"])
def test_value_matches_table(name):
  rng = np.random.default_rng(1)
  x = rng.standard_normal((3, 4))
  with jax.enable_x64(True):
    np.testing.assert_allclose(float(make(name, 0.37, r=0.2)(jnp.asarray(x))),
                               ref_value(name, x, 0.37, r=0.2), rtol=1e-12)


def test_values_sum_over_leaves_and_weights():
  params = {"a": jnp.array([1.0, -2.0]), "b": jnp.array([[3.0]])}
  assert float(jr.L1(0.5)(params)) == pytest.approx(3.0)
  assert float(jr.L2(2.0)(params)) == pytest.approx(14.0)
  w = {"a": jnp.array([2.0, 0.0]), "b": jnp.array([[1.0]])}
  assert float(jr.L1(1.0, weights=w)(params)) == pytest.approx(5.0)
  # GroupLasso with axis=None: each leaf one group, weight sqrt(size).
  assert float(jr.GroupLasso(1.0)(params)) == pytest.approx(np.sqrt(2) * np.sqrt(5) + 3.0)


# --- gradients ----------------------------------------------------------------
GRAD_PENS = [jr.L1(0.7), jr.L2(0.7), jr.ElasticNet(0.7, 0.3), jr.Lp(0.7, 0.3),
             jr.Lp(0.7, 0.5), jr.Lp(0.7, 1.5), jr.Lp(0.7, 2.5), jr.GroupLasso(0.7, axis=1),
             jr.L1(0.7, weights=jnp.array([[1.0, 2.0, 0.5]]))]


@pytest.mark.parametrize("pen", GRAD_PENS, ids=lambda p: repr(p)[:18])
def test_grad_matches_autodiff_and_finite_differences(pen):
  rng = np.random.default_rng(2)
  x = rng.uniform(0.2, 2.0, (2, 3)) * rng.choice([-1.0, 1.0], (2, 3))
  with jax.enable_x64(True):
    pen64 = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), pen)
    g = np.asarray(pen64.grad(jnp.asarray(x)))
    np.testing.assert_allclose(g, np.asarray(jax.grad(pen64)(jnp.asarray(x))), rtol=1e-10)
    f = lambda v: float(pen64(jnp.asarray(v)))
    fd = np.zeros_like(x)
    h = 1e-6
    for i in np.ndindex(x.shape):
      e = np.zeros_like(x)
      e[i] = h
      fd[i] = (f(x + e) - f(x - e)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("pen", GRAD_PENS, ids=lambda p: repr(p)[:18])
def test_grad_at_zero_is_minimum_norm_subgradient(pen):
  x = jnp.zeros((2, 3))
  g = np.asarray(pen.grad(x))
  np.testing.assert_array_equal(g, 0.0)
  auto = np.asarray(jax.grad(pen)(x))
  assert np.all(np.isfinite(auto))


@pytest.mark.parametrize("p", [0.3, 0.5, 0.9])
def test_lp_gradient_at_zero_is_finite(p):
  x = jnp.array([0.0, 1.5, -0.5, 0.0])
  g = np.asarray(jr.Lp(1.0, p).grad(x))
  auto = np.asarray(jax.grad(jr.Lp(1.0, p))(x))
  assert np.all(np.isfinite(g)) and np.all(np.isfinite(auto))
  assert g[0] == 0 and g[3] == 0 and auto[0] == 0 and auto[3] == 0
  np.testing.assert_allclose(g[1:3], [1.5 ** (p - 1), -(0.5 ** (p - 1))], rtol=1e-5)


def test_group_lasso_zero_group_gradient():
  x = jnp.array([[3.0, 4.0], [0.0, 0.0]])
  g = np.asarray(jr.GroupLasso(1.0, axis=1).grad(x))
  np.testing.assert_allclose(g, [[np.sqrt(2) * 0.6, np.sqrt(2) * 0.8], [0.0, 0.0]], rtol=1e-6)


# --- transformations: jit, vmap over α and over params, grad in α ----------
ALL = {
    "L1": lambda a: jr.L1(a),
    "L2": lambda a: jr.L2(a),
    "ElasticNet": lambda a: jr.ElasticNet(a, 0.4),
    "Lp0.3": lambda a: jr.Lp(a, 0.3),
    "Lp0.5": lambda a: jr.Lp(a, 0.5),
    "Lp1.5": lambda a: jr.Lp(a, 1.5),
    "GroupLasso": lambda a: jr.GroupLasso(a, axis=-1),
}
PARAMS = {"w": np.array([[0.5, -1.5, 2.0], [0.05, 0.0, -3.0]]), "b": np.array([0.2, -0.7])}


def _params(dtype):
  return jax.tree_util.tree_map(lambda v: jnp.asarray(v, dtype), PARAMS)


@pytest.mark.parametrize("name", list(ALL))
def test_vmap_over_alpha_matches_loop(name):
  alphas_ = jnp.logspace(-4, 0, 8)
  batched = ALL[name](alphas_)
  params = _params(jnp.float32)
  vals = jax.vmap(lambda pen: pen(params))(batched)
  proxs = jax.vmap(lambda pen: pen.prox(params, 0.3))(batched)
  grads = jax.vmap(lambda pen: pen.grad(params))(batched)
  for k, a in enumerate(np.asarray(alphas_)):
    single = ALL[name](float(a))
    np.testing.assert_allclose(vals[k], _value(single, params), rtol=1e-5)
    for got, want in zip(jax.tree_util.tree_leaves((proxs, grads)),
                         jax.tree_util.tree_leaves((_prox(single, params, 0.3),
                                                    _grad(single, params)))):
      np.testing.assert_allclose(got[k], want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", list(ALL))
def test_vmap_over_params(name):
  pen = ALL[name](0.3)
  rng = np.random.default_rng(3)
  batch = {"w": jnp.asarray(rng.standard_normal((5, 2, 3)), jnp.float32),
           "b": jnp.asarray(rng.standard_normal((5, 2)), jnp.float32)}
  vals = jax.jit(jax.vmap(pen))(batch)
  for k in range(5):
    one = jax.tree_util.tree_map(lambda v: v[k], batch)
    np.testing.assert_allclose(vals[k], pen(one), rtol=1e-5)


@pytest.mark.parametrize("name", list(ALL))
def test_grad_with_respect_to_alpha(name):
  # Every penalty is linear in α: d pen / d α = pen / α. The prox's α
  # derivative is checked against central finite differences.
  with jax.enable_x64(True):
    params = _params(jnp.float64)
    a = 0.3
    d_value = jax.grad(lambda al: ALL[name](al)(params))(a)
    np.testing.assert_allclose(d_value, ALL[name](a)(params) / a, rtol=1e-10)
    d_pen = jax.grad(lambda pen: pen(params))(ALL[name](a))
    np.testing.assert_allclose(d_pen.alpha, d_value, rtol=1e-10)
    f = jax.jit(lambda al: sum(jnp.sum(jnp.sin(v)) for v in
                               jax.tree_util.tree_leaves(ALL[name](al).prox(params, 0.2))))
    g = jax.jit(jax.grad(f))(a)
    h = 1e-6
    np.testing.assert_allclose(g, (f(a + h) - f(a - h)) / (2 * h), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("name", list(ALL))
def test_new_alpha_never_recompiles(name):
  params = _params(jnp.float32)
  for fn in (lambda pen, x: pen(x), lambda pen, x: pen.prox(x, 0.1),
             lambda pen, x: pen.grad(x)):
    f = jax.jit(fn)
    f(ALL[name](0.1), params)
    f(ALL[name](0.25), params)
    f(ALL[name](2), params)  # an int α is converted, not a new signature.
    assert f._cache_size() == 1


@pytest.mark.parametrize("name", list(ALL))
def test_dtypes_preserved(name):
  with jax.enable_x64(True):
    for dtype in (jnp.float32, jnp.float64):
      params = _params(dtype)
      pen = ALL[name](0.3)
      assert _value(pen, params).dtype == dtype
      outs = [_grad(pen, params), _prox(pen, params, 0.1), _prox(pen, params, jnp.float64(0.1)),
              jax.jit(jax.grad(pen))(params)]
      for leaf in jax.tree_util.tree_leaves(outs):
        assert leaf.dtype == dtype
  # And without x64 (the default), float32 throughout.
  pen = ALL[name](0.3)
  assert _value(pen, _params(jnp.float32)).dtype == jnp.float32


# --- bad input ------------------------------------------------------------------
@pytest.mark.parametrize("build, match", [
    (lambda: jr.L1(-0.1), "alpha"),
    (lambda: jr.L2(-1.0), "alpha"),
    (lambda: jr.ElasticNet(-1.0, 0.5), "alpha"),
    (lambda: jr.Lp(-1.0, 1.5), "alpha"),
    (lambda: jr.GroupLasso(-1.0), "alpha"),
    (lambda: jr.L1(jnp.array([0.1, -0.2])), "alpha"),
    (lambda: jr.L1(float("nan")), "alpha"),
    (lambda: jr.L2(jnp.inf), "alpha"),
    (lambda: jr.Lp(1.0, 0.0), "p"),
    (lambda: jr.Lp(1.0, -0.5), "p"),
    (lambda: jr.Lp(1.0, float("nan")), "p"),
    (lambda: jr.ElasticNet(1.0, 1.5), "l1_ratio"),
    (lambda: jr.ElasticNet(1.0, -0.1), "l1_ratio"),
    (lambda: jr.L1(1.0, weights=jnp.array([1.0, -1.0])), "weights"),
    (lambda: jr.L1(1.0, weights={"w": jnp.array([1.0]), "b": jnp.array([-1.0])}),
     r"weights\['b'\]"),
])
def test_bad_hyperparameters_raise_value_error(build, match):
  with pytest.raises(ValueError, match=match):
    build()


def test_bad_types_raise_type_error():
  with pytest.raises(TypeError, match="alpha"):
    jr.L1(None)
  with pytest.raises(TypeError, match="alpha"):
    jr.L1("big")
  with pytest.raises(TypeError, match="p must"):
    jr.Lp(1.0, "two")
  with pytest.raises(TypeError, match="axis"):
    jr.GroupLasso(1.0, axis="rows")


@pytest.mark.parametrize("name", list(ALL))
def test_integer_params_raise_naming_leaf(name):
  params = {"layer": {"w": jnp.ones((2, 3), jnp.float32), "n": jnp.ones((2, 3), jnp.int32)}}
  pen = ALL[name](0.1)
  for call in (pen, pen.grad, lambda p: pen.prox(p, 0.1)):
    with pytest.raises(TypeError, match=r"params\['layer'\]\['n'\]"):
      call(params)


@pytest.mark.parametrize("name", list(ALL))
def test_negative_step_raises(name):
  with pytest.raises(ValueError, match="step"):
    ALL[name](0.1).prox(_params(jnp.float32), -0.1)


def test_group_lasso_axis_out_of_range_names_leaf():
  with pytest.raises(ValueError, match=r"params\['b'\]"):
    jr.GroupLasso(1.0, axis=1)(_params(jnp.float32))


def test_penalties_are_immutable_and_replace_validates():
  pen = jr.L1(0.1)
  with pytest.raises(AttributeError):
    pen.alpha = 2.0
  assert float(pen.replace(alpha=0.5).alpha) == 0.5
  with pytest.raises(ValueError, match="alpha"):
    pen.replace(alpha=-1.0)


def test_weighted_l2_is_generalized_ridge_of_sklearn():
  """(1/2n)‖y − Xw‖² + (α/2)Σ vⱼwⱼ² is Ridge on the features X/√v, coefficients /√v."""
  from sklearn.datasets import load_diabetes
  from sklearn.linear_model import Ridge

  with jax.enable_x64(True):
    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    y = y - y.mean()
    n, p = X.shape
    v = np.linspace(0.2, 3.0, p)
    alpha = 0.7
    u = Ridge(alpha=n * alpha, fit_intercept=False, solver="cholesky").fit(X / np.sqrt(v), y).coef_
    w = jnp.asarray(u / np.sqrt(v))
    pen = jr.L2(alpha, weights=jnp.asarray(v))
    data_grad = jnp.asarray(X).T @ (jnp.asarray(X) @ w - jnp.asarray(y)) / n
    # sklearn's solution is stationary for jaxreg's objective only if the weights enter as α·v·w.
    np.testing.assert_allclose(data_grad + pen.grad(w), 0.0, atol=1e-9 * float(jnp.max(jnp.abs(data_grad))))
    np.testing.assert_allclose(pen(w), 0.5 * alpha * np.sum(v * np.asarray(w) ** 2), rtol=1e-12)
    # prox: z − x + s·α·v·z = 0, the stationarity of the strictly convex prox problem.
    x = jnp.asarray(np.random.default_rng(0).normal(size=p))
    z = pen.prox(x, 0.3)
    np.testing.assert_allclose(z - x + 0.3 * alpha * jnp.asarray(v) * z, 0.0, atol=1e-12)


def test_weighted_l2_batches_over_alpha_and_rejects_negative_weights():
  x = jnp.array([1.0, -2.0, 3.0])
  v = jnp.array([0.5, 1.0, 2.0])
  values = jax.vmap(lambda pen: pen(x))(jr.L2(jnp.array([0.1, 1.0]), weights=v))
  np.testing.assert_allclose(values, [0.5 * a * float(jnp.sum(v * x * x)) for a in (0.1, 1.0)], rtol=1e-6)
  with pytest.raises(ValueError, match="weights"):
    jr.L2(0.1, weights=jnp.array([1.0, -1.0, 1.0]))


# --- trust: no NaN from valid input, no silent acceptance of invalid input -------
# A representative subset (tests/test_properties.py covers every penalty).
SOME = ["L1", "ElasticNet", "Lp0.5", "GroupLasso"]


@pytest.mark.parametrize("name", SOME)
def test_nan_string_and_non_scalar_steps_raise_naming_step(name):
  pen, x = ALL[name](0.3), _params(jnp.float32)
  for bad in (float("nan"), float("inf"), -1e-30, np.array([0.1, 0.2])):
    with pytest.raises(ValueError, match="step"):
      pen.prox(x, bad)
  for junk in ("0.1", None, [0.1, "a"]):
    with pytest.raises(TypeError, match="step"):
      pen.prox(x, junk)


@pytest.mark.parametrize("name", SOME)
def test_batched_alpha_outside_vmap_raises_naming_alpha_and_shape(name):
  pen, x = ALL[name](jnp.logspace(-4, 0, 4)), _params(jnp.float32)
  for call in (pen, pen.grad, lambda p: pen.prox(p, 0.1), jax.jit(pen)):
    with pytest.raises(ValueError, match=r"alpha must be a scalar.*\(4,\).*vmap"):
      call(x)
  with pytest.raises(ValueError, match=r"alpha must be a scalar.*\(2, 2\)"):
    ALL[name](jnp.full((2, 2), 0.1))(x)
  # The documented way: vmap maps the batch axis away.
  assert jax.vmap(lambda q: q(x))(pen).shape == (4,)


@pytest.mark.parametrize("cls", [jr.L1, jr.L2])
def test_weights_must_broadcast_to_their_leaf_without_reshaping_it(cls):
  x = {"u": jnp.ones(2), "v": jnp.array([1.0, -2.0, 3.0])}
  with pytest.raises(ValueError,
                     match=r"weights\['v'\] has shape \(3, 1\).*params\['v'\] of shape \(3,\)"):
    cls(0.5, weights={"u": jnp.ones(2), "v": jnp.ones((3, 1))})(x)
  with pytest.raises(ValueError, match=r"weights has shape \(2,\).*params\['v'\]"):
    cls(0.5, weights=jnp.ones(2)).grad({"v": x["v"]})
  # Broadcasting that keeps the leaf's shape is fine: one weight per column.
  k = jnp.arange(6.0).reshape(2, 3)
  got = float(cls(1.0, weights={"k": jnp.array([1.0, 0.0, 2.0])})({"k": k}))
  col = np.array([1.0, 0.0, 2.0])
  kk = np.asarray(k)
  want = np.sum(col * np.abs(kk)) if cls is jr.L1 else 0.5 * np.sum(col * kk ** 2)
  assert got == pytest.approx(want, rel=1e-6)


def test_python_float_leaves_and_bad_params_are_named():
  # {"w": 3.0} used to fail with AttributeError ('float' has no 'dtype').
  assert float(jr.L1(0.5)({"w": 3.0, "b": -1.0})) == pytest.approx(2.0)
  assert float(jr.L2(1.0).prox({"w": 3.0}, 1.0)["w"]) == pytest.approx(1.5)
  assert float(jr.Lp(1.0, 0.5).grad({"w": 4.0})["w"]) == pytest.approx(0.5)
  pen = jr.ElasticNet(0.1, 0.5)
  for bad, where in ((None, "params must"), ({"w": "3"}, r"params\['w'\]"),
                     ({"w": [1.0, object()]}, r"params\['w'\]\[1\]"),
                     ({"w": np.array(["a"])}, r"params\['w'\]"), ({"w": 3}, r"params\['w'\]")):
    for call in (pen, pen.grad, lambda p: pen.prox(p, 0.1)):
      with pytest.raises(TypeError, match=where):
        call(bad)


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_half_precision_values_do_not_overflow(dtype):
  # 300² = 9e4 overflows float16 (max 65504), the value 1e-4/2·300² = 4.5 does not.
  x = jnp.array([300.0, -300.0], dtype)
  got = jr.L2(1e-4)(x)
  assert got.dtype == dtype and float(got) == 9.0
  assert float(jr.ElasticNet(1e-4, 0.0)(x)) == 9.0
  # One rounding to the half type (relative error ≤ ε/2) after float32 maths.
  rel = float(jnp.finfo(dtype).eps)
  assert float(jr.GroupLasso(1e-4)(x)) == pytest.approx(1e-4 * np.sqrt(2) * 300 * np.sqrt(2), rel=rel)
  # α below float16's smallest normal number still counts (computed in float32).
  assert float(jr.L1(1e-6)(jnp.full((1000,), 100.0, dtype))) == pytest.approx(0.1, rel=rel)
  for pen in (jr.L2(1e-4), jr.GroupLasso(1e-4), jr.Lp(1e-4, 1.5)):
    for out in (pen.grad(x), pen.prox(x, 1.0)):
      assert out.dtype == dtype and bool(jnp.all(jnp.isfinite(out)))


def test_norms_near_the_float32_range_stay_finite():
  x = jnp.array([[3e38, -3e38], [1e-30, 2e-30]], jnp.float32)
  x64 = np.asarray(x, np.float64)
  norms = np.linalg.norm(x64, axis=1)
  want = 1e-3 * np.sqrt(2) * np.sum(norms)
  got = jr.GroupLasso(1e-3, axis=1)(x)
  assert np.isfinite(float(got)) and float(got) == pytest.approx(want, rel=8 * 2 ** -23)
  g = np.asarray(jr.GroupLasso(1e-3, axis=1).grad(x), np.float64)
  np.testing.assert_allclose(g, 1e-3 * np.sqrt(2) * x64 / norms[:, None], rtol=8 * 2 ** -23)
  # Block soft-threshold of a group of norm 4.2e38 at t = 1e38·√2.
  z = np.asarray(jr.GroupLasso(1e38, axis=1).prox(x, 1.0), np.float64)
  t = 1e38 * np.sqrt(2)
  want_z = x64 * np.maximum(0, 1 - t / norms)[:, None]
  np.testing.assert_allclose(z, want_z, rtol=8 * 2 ** -23, atol=0)
  # (α/2)Σx² for x = 1e20 (x² = 1e40 > float32's 3.4e38) and α = 1e-30.
  assert float(jr.L2(1e-30)(jnp.full(4, 1e20, jnp.float32))) == pytest.approx(2e10, rel=1e-6)


@pytest.mark.parametrize("name", SOME)
def test_traced_negative_alpha_is_nan_and_raises_when_checked(name):
  x = _params(jnp.float32)
  f = jax.jit(lambda a: (ALL[name](a)(x), ALL[name](a).grad(x), ALL[name](a).prox(x, 0.1)))
  assert all(bool(jnp.all(jnp.isnan(v))) for v in jax.tree_util.tree_leaves(f(-0.5)))
  assert all(bool(jnp.all(jnp.isfinite(v))) for v in jax.tree_util.tree_leaves(f(0.5)))
  with pytest.raises(ValueError, match="alpha must be >= 0"):
    jr.checked(f)(-0.5)
  jr.checked(f)(0.5)


# --- jaxopt's prox tests (tests/prox_test.py), in jaxreg's conventions -------------
def _scipy_prox(g, x, s):
  """argmin_z ½‖z − x‖² + s·g(z) by scipy (Powell, tight tolerances), from x."""
  from scipy.optimize import minimize

  f = lambda z: 0.5 * np.sum((z - x) ** 2) + s * g(z)
  res = minimize(f, x, method="Powell", options={"xtol": 1e-12, "ftol": 1e-15, "maxiter": 200000})
  return res.x, f


@pytest.mark.parametrize("case", ["lasso", "lasso_weights", "elastic_net", "ridge", "group_lasso"])
@pytest.mark.parametrize("scaling", [1.0, 0.7])
def test_prox_matches_scipy_minimisation_like_jaxopt(case, scaling):
  """jaxopt draws x = rand(20)·2 − 1 and compares each prox with a numerical
  argmin. Its hyperparameters map onto jaxreg's as: prox_lasso(λ) = L1(λ)
  (array λ = weights), prox_elastic_net(λ, γ) (λ‖x‖₁ + γ/2‖x‖²) =
  ElasticNet(λ + γ, λ/(λ + γ)), prox_ridge(λ) = x/(1 + sλ) = L2(λ) (the
  function whose prox that is is (λ/2)‖x‖², not λ‖x‖² as jaxopt's docstring
  says), prox_group_lasso(λ) (λ‖x‖₂) = GroupLasso(λ/√n)."""
  rng = np.random.RandomState(0)
  x = rng.rand(20) * 2 - 1
  if case == "lasso":
    pen, g = jr.L1(0.5), lambda z: 0.5 * np.sum(np.abs(z))
  elif case == "lasso_weights":
    w = rng.rand(20)
    pen, g = jr.L1(1.0, weights=jnp.asarray(w)), lambda z: np.sum(w * np.abs(z))
  elif case == "elastic_net":
    lam, gam = 0.5, 0.1
    pen = jr.ElasticNet(lam + gam, lam / (lam + gam))
    g = lambda z: lam * np.sum(np.abs(z)) + 0.5 * gam * z @ z
  elif case == "ridge":
    pen, g = jr.L2(5.3), lambda z: 0.5 * 5.3 * z @ z
  else:
    lam = 0.6
    pen, g = jr.GroupLasso(lam / np.sqrt(20)), lambda z: lam * np.linalg.norm(z)
  with jax.enable_x64(True):
    z = np.asarray(pen.prox(jnp.asarray(x), scaling))
  z_ref, f = _scipy_prox(g, x, scaling)
  # f is 1-strongly convex, so ½‖z_ref − z*‖² ≤ f(z_ref) − f(z*): the exact
  # prox is no worse than scipy's point, and lies within that radius of it.
  assert f(z) <= f(z_ref) + 1e-13 * (1 + abs(f(z_ref)))
  assert np.linalg.norm(z - z_ref) <= np.sqrt(2 * max(f(z_ref) - f(z), 0.0)) + 1e-6
  # jaxopt also checks the Jacobian; away from kinks, against central differences.
  if case in ("lasso", "ridge", "elastic_net"):
    with jax.enable_x64(True):
      jac = np.asarray(jax.jacobian(lambda v: pen.prox(v, scaling))(jnp.asarray(x)))
      h = 1e-6
      fd = np.stack([(np.asarray(pen.prox(jnp.asarray(x + h * e), scaling))
                      - np.asarray(pen.prox(jnp.asarray(x - h * e), scaling))) / (2 * h)
                     for e in np.eye(20)], axis=1)
    np.testing.assert_allclose(jac, fd, atol=1e-8)
