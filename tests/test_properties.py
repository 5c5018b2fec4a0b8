"""Property-based checks of every public penalty, prox, projection and transform.

Valid random hyperparameters, values and dtypes must give finite output equal
to a reference written here independently (the conventions table in NumPy
float64, optimality conditions, brute-force grid minimisation, bisection on
the projection's threshold); invalid ones must raise ValueError/TypeError
naming the argument, when concrete, and give NaN (or raise under
``jr.checked``) when traced. Shapes are fixed per test and the jitted
functions are shared, so each test compiles once per dtype.

Tolerances are derived from the dtype's machine epsilon ε and the number of
elements n: a sum of n non-negative rounded terms has relative error at most
(n + k)ε, with k the roundings inside one term.
"""

import functools
import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jaxreg as jr

SETTINGS = settings(max_examples=15, deadline=None)
SHAPES = {"a": (3, 4), "b": (5,)}
N = 17  # elements in SHAPES.
PS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 3.0)
NAMES = ("L1", "L2", "ElasticNet", "Lp", "GroupLasso")

_value = jax.jit(lambda pen, x: pen(x))
_grad = jax.jit(lambda pen, x: pen.grad(x))
_prox = jax.jit(lambda pen, x, s: pen.prox(x, s))
_project = jax.jit(lambda c, x: c.project(x))


def eps(dtype):
  return float(jnp.finfo(dtype).eps)


def tiny(dtype):
  """Results below the smallest normal number may be flushed to 0 (XLA on CPU)."""
  return 1e3 * float(jnp.finfo(dtype).tiny)


def normal(v):
  # XLA on CPU treats subnormal inputs as 0; keep inputs normal in float32.
  return 0.0 if abs(v) < 1e-30 else v


def leaves_strategy(lo=-5.0, hi=5.0):
  el = st.floats(lo, hi, allow_nan=False, width=64).map(normal)
  return st.fixed_dictionaries(
      {k: hnp.arrays(np.float64, s, elements=el) for k, s in SHAPES.items()})


def weights_strategy():
  # "a" gets per-column weights (4,), broadcast over the leaf's rows.
  el = st.floats(0.0, 2.0, width=64).map(normal)
  return st.fixed_dictionaries({"a": hnp.arrays(np.float64, (4,), elements=el),
                                "b": hnp.arrays(np.float64, (5,), elements=el)})


hyper = st.fixed_dictionaries({
    "alpha": st.floats(0.0, 3.0).map(normal), "r": st.floats(0.0, 1.0).map(normal),
    "p": st.sampled_from(PS)})


def build(name, h, w=None):
  if name == "L1":
    return jr.L1(h["alpha"], weights=w)
  if name == "L2":
    return jr.L2(h["alpha"], weights=w)
  if name == "ElasticNet":
    return jr.ElasticNet(h["alpha"], h["r"])
  if name == "Lp":
    return jr.Lp(h["alpha"], h["p"])
  return jr.GroupLasso(h["alpha"], axis=-1)


def held(pen, h):
  """``h`` with α and l1_ratio as the penalty stores them (rounded to its dtype)."""
  h = dict(h, alpha=float(np.asarray(pen.alpha, np.float64)))
  if hasattr(pen, "l1_ratio"):
    h["r"] = float(np.asarray(pen.l1_ratio, np.float64))
  return h


def wfull(w, k, shape):
  return np.ones(shape) if w is None else np.broadcast_to(np.asarray(w[k], np.float64), shape)


# --- references (NumPy float64) --------------------------------------------
def ref_value(name, h, x, w=None):
  a, total = h["alpha"], 0.0
  for k, v in x.items():
    v = np.asarray(v, np.float64)
    if name == "L1":
      total += a * np.sum(wfull(w, k, v.shape) * np.abs(v))
    elif name == "L2":
      total += 0.5 * a * np.sum(wfull(w, k, v.shape) * v * v)
    elif name == "ElasticNet":
      total += a * h["r"] * np.sum(np.abs(v)) + 0.5 * a * (1 - h["r"]) * np.sum(v * v)
    elif name == "Lp":
      total += a / h["p"] * np.sum(np.abs(v) ** h["p"])
    else:
      total += a * math.sqrt(v.shape[-1]) * np.sum(np.linalg.norm(v, axis=-1))
  return total


def ref_grad(name, h, x, w=None):
  a, out = h["alpha"], {}
  for k, v in x.items():
    v = np.asarray(v, np.float64)
    if name == "L1":
      out[k] = a * wfull(w, k, v.shape) * np.sign(v)
    elif name == "L2":
      out[k] = a * wfull(w, k, v.shape) * v
    elif name == "ElasticNet":
      out[k] = a * h["r"] * np.sign(v) + a * (1 - h["r"]) * v
    elif name == "Lp":
      mag = np.where(v != 0, np.abs(np.where(v != 0, v, 1.0)) ** (h["p"] - 1), 0.0)
      out[k] = a * np.sign(v) * mag
    else:
      norm = np.linalg.norm(v, axis=-1, keepdims=True)
      out[k] = a * math.sqrt(v.shape[-1]) * v / np.where(norm > 0, norm, 1.0)
  return out


def ref_prox_closed(name, h, x, s, w=None):
  """Closed forms of the convex proxes (the conventions table)."""
  a, out = h["alpha"], {}
  for k, v in x.items():
    v = np.asarray(v, np.float64)
    if name == "L1":
      out[k] = np.sign(v) * np.maximum(np.abs(v) - s * a * wfull(w, k, v.shape), 0)
    elif name == "L2":
      out[k] = v / (1 + s * a * wfull(w, k, v.shape))
    elif name == "ElasticNet":
      out[k] = np.sign(v) * np.maximum(np.abs(v) - s * a * h["r"], 0) / (1 + s * a * (1 - h["r"]))
    else:
      norm = np.linalg.norm(v, axis=-1, keepdims=True)
      t = s * a * math.sqrt(v.shape[-1])
      out[k] = v * np.maximum(0, 1 - t / np.where(norm > 0, norm, 1.0)) * (norm > 0)
  return out


def lp_scalar_objective(z, x, c, p):
  return 0.5 * (z - x) ** 2 + (c / p) * np.abs(z) ** p


def ref_l1_ball(v, r):
  """Projection onto {‖z‖₁ ≤ r} by bisection on the soft threshold τ (no sorting)."""
  if np.sum(np.abs(v)) <= r:
    return v
  lo, hi = 0.0, float(np.max(np.abs(v)))
  for _ in range(200):
    mid = 0.5 * (lo + hi)
    if np.sum(np.maximum(np.abs(v) - mid, 0)) > r:
      lo = mid
    else:
      hi = mid
  return np.sign(v) * np.maximum(np.abs(v) - 0.5 * (lo + hi), 0)


def ref_project(kind, v, r):
  if kind == "L1Ball":
    return ref_l1_ball(v, r)
  if kind == "L2Ball":
    n = np.linalg.norm(v)
    return v if n <= r else v * (r / n)
  return np.clip(v, -r, r)


def flat(tree):
  return np.concatenate([np.ravel(np.asarray(tree[k], np.float64)) for k in SHAPES])


def unflat(v):
  out, i = {}, 0
  for k, s in SHAPES.items():
    size = int(np.prod(s))
    out[k] = v[i:i + size].reshape(s)
    i += size
  return out


def to(tree, dtype):
  return {k: jnp.asarray(v, dtype) for k, v in tree.items()}


def exact(tree):
  """The values the arrays actually hold, in float64 (a half or float32 rounding of x)."""
  return {k: np.asarray(jnp.asarray(v, jnp.float32) if v.dtype != jnp.float64 else v,
                        np.float64) for k, v in tree.items()}


FLOAT_DTYPES = [("float32", False), ("float64", True)]


# --- values ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype, x64", FLOAT_DTYPES)
@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(x=leaves_strategy(), h=hyper, w=weights_strategy(), weighted=st.booleans())
def test_value_and_grad_match_numpy(name, dtype, x64, x, h, w, weighted):
  w = w if weighted and name in ("L1", "L2") else None
  with jax.enable_x64(x64):
    xs = to(x, dtype)
    pen = build(name, h, None if w is None else to(w, dtype))
    h = held(pen, h)
    got = float(_value(pen, xs))
    want = ref_value(name, h, exact(xs), w)
    # Non-negative terms: (n + 8)ε relative (8 covers α·v·|x|, pow, sqrt).
    assert np.isfinite(got)
    assert abs(got - want) <= (N + 8) * eps(dtype) * want + tiny(dtype)
    g = _grad(pen, xs)
    gw = ref_grad(name, h, exact(xs), w)
    for k in SHAPES:
      assert g[k].dtype == jnp.dtype(dtype)
      scale = np.abs(gw[k]) + h["alpha"] * 4.0  # sign(0) and the group norm's rounding.
      np.testing.assert_array_less(np.abs(np.asarray(g[k], np.float64) - gw[k]),
                                   16 * eps(dtype) * scale + tiny(dtype))


half_el = st.one_of(st.just(0.0), st.floats(1e-2, 300.0), st.floats(-300.0, -1e-2))


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(x=st.fixed_dictionaries({k: hnp.arrays(np.float64, s, elements=half_el)
                                for k, s in SHAPES.items()}),
       alpha=st.floats(0.0, 0.02).map(normal), r=st.floats(0.0, 1.0).map(normal),
       p=st.sampled_from((0.5, 1.0, 1.5, 2.0)))
def test_half_precision_value_is_one_rounding_of_the_exact_value(name, dtype, x, alpha, r, p):
  # Squares of entries up to 300 overflow float16 (max 65504); the value,
  # at most α/2·17·300² ≈ 1.5e4, does not, and must come back as the float32
  # result rounded once to the half type.
  h = {"alpha": alpha, "r": r, "p": p}
  xs = to(x, dtype)
  h = held(build(name, h), h)
  got = _value(build(name, h), xs)
  assert got.dtype == jnp.dtype(dtype)
  want = ref_value(name, h, exact(xs))
  assert np.isfinite(float(got))
  assert abs(float(got) - want) <= (eps(dtype) + (N + 8) * eps(jnp.float32)) * want + tiny(dtype)
  out = _prox(build(name, h), xs, 0.5)
  assert all(out[k].dtype == jnp.dtype(dtype) and bool(jnp.all(jnp.isfinite(out[k])))
             for k in SHAPES)


# --- prox -----------------------------------------------------------------------
@pytest.mark.parametrize("dtype, x64", FLOAT_DTYPES)
@pytest.mark.parametrize("name", ("L1", "L2", "ElasticNet", "GroupLasso"))
@SETTINGS
@given(x=leaves_strategy(), h=hyper, w=weights_strategy(), s=st.floats(0.0, 2.0).map(normal),
       weighted=st.booleans())
def test_convex_prox_satisfies_optimality_condition(name, dtype, x64, x, h, w, s, weighted):
  """0 ∈ z − x + s∂pen(z), checked coordinate- or group-wise in float64."""
  w = w if weighted and name in ("L1", "L2") else None
  with jax.enable_x64(x64):
    xs = to(x, dtype)
    pen = build(name, h, None if w is None else to(w, dtype))
    h = held(pen, h)
    s = float(np.float64(jnp.asarray(s, dtype)))
    z = _prox(pen, xs, s)
  xe, e = exact(xs), eps(dtype)
  a = h["alpha"]
  for k in SHAPES:
    zk, xk = np.asarray(z[k], np.float64), xe[k]
    assert z[k].dtype == jnp.dtype(dtype) and np.all(np.isfinite(zk))
    if name in ("L1", "L2", "ElasticNet"):
      if name == "L1":
        t1, t2 = s * a * wfull(w, k, xk.shape), 0.0
      elif name == "L2":
        t1, t2 = 0.0, s * a * wfull(w, k, xk.shape)
      else:
        t1, t2 = s * a * h["r"], s * a * (1 - h["r"])
      tol = 8 * e * (np.abs(xk) + t1) * (1 + t2) + tiny(dtype)
      nz = zk != 0
      resid = zk * (1 + t2) - xk + t1 * np.sign(zk)
      assert np.all(np.abs(resid[nz]) <= tol[nz])
      # At 0 the subdifferential is [−t1, t1]: |x| ≤ t1 up to the same rounding.
      assert np.all(np.abs(xk[~nz]) <= (np.broadcast_to(t1, xk.shape) + tol)[~nz])
    else:
      t = s * a * math.sqrt(xk.shape[-1])
      zn = np.linalg.norm(zk, axis=-1, keepdims=True)
      xn = np.linalg.norm(xk, axis=-1, keepdims=True)
      tol = 16 * e * (xn + t) + tiny(dtype)
      resid = zk - xk + t * zk / np.where(zn > 0, zn, 1.0)
      assert np.all((zn == 0) | (np.linalg.norm(resid, axis=-1, keepdims=True) <= tol))
      assert np.all((zn > 0) | (xn <= t + tol))


@pytest.mark.parametrize("dtype, x64", FLOAT_DTYPES)
@SETTINGS
@given(x=hnp.arrays(np.float64, (6,), elements=st.floats(-5.0, 5.0, width=64)),
       a=st.floats(0.0, 3.0).map(normal), s=st.floats(0.0, 2.0).map(normal), p=st.sampled_from(PS))
def test_lp_prox_is_the_global_minimiser_on_a_grid(dtype, x64, x, a, s, p):
  """Brute force: no point of a fine grid in [0, |x|]·sign(x) beats the prox."""
  with jax.enable_x64(x64):
    xs = jnp.asarray(x, dtype)
    z = np.asarray(_prox(jr.Lp(a, p), xs, s), np.float64)
    c = float(jnp.asarray(s, dtype)) * float(jnp.asarray(a, dtype))
  xe = np.asarray(xs, np.float64)
  grid = np.sign(xe)[:, None] * np.abs(xe)[:, None] * np.linspace(0.0, 1.0, 4001)[None, :]
  best = np.min(lp_scalar_objective(grid, xe[:, None], c, p), axis=1)
  mine = lp_scalar_objective(z, xe, c, p)
  scale = 0.5 * xe ** 2 + (c / p) * np.abs(xe) ** p
  assert np.all(np.isfinite(z))
  assert np.all(mine <= best + 16 * eps(dtype) * scale + tiny(dtype))
  assert np.all(np.abs(z) <= np.abs(xe)) and np.all(z * xe >= 0)


# --- projections ----------------------------------------------------------------
@pytest.mark.parametrize("dtype, x64", FLOAT_DTYPES)
@pytest.mark.parametrize("kind", ("L1Ball", "L2Ball", "LinfBall"))
@SETTINGS
@given(x=leaves_strategy(), r=st.one_of(st.just(0.0), st.floats(0.0, 20.0).map(normal)))
def test_projection_matches_sorting_free_reference(kind, dtype, x64, x, r):
  with jax.enable_x64(x64):
    xs = to(x, dtype)
    z = _project(getattr(jr, kind)(r), xs)
    r = float(np.float64(jnp.asarray(r, dtype)))
  v = flat(exact(xs))
  want = ref_project(kind, v, r)
  got = flat(z)
  assert np.all(np.isfinite(got))
  # optax sorts and takes cumulative sums: n roundings of ‖x‖₁-sized numbers.
  np.testing.assert_allclose(got, want, rtol=0,
                             atol=4 * N * eps(dtype) * (np.sum(np.abs(v)) + r) + tiny(dtype))


# --- transforms -----------------------------------------------------------------
def _one_update(tx, u, p):
  out, _ = tx.update(u, tx.init(p), p)
  return out


_add_grad = jax.jit(lambda pen, u, p: _one_update(jr.add_penalty_gradient(pen), u, p))
_prox_step = jax.jit(lambda pen, u, p, lr: _one_update(jr.proximal(pen, lr), u, p))
_project_step = jax.jit(lambda c, u, p: _one_update(jr.project(c), u, p))


def assert_close(got, want, atol):
  got = np.asarray(got, np.float64)
  assert np.all(np.abs(got - want) <= atol), np.max(np.abs(got - want) - atol)


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(x=leaves_strategy(), u=leaves_strategy(-1.0, 1.0), h=hyper, lr=st.floats(0.0, 1.0))
def test_transforms_match_reference(name, x, u, h, lr):
  with jax.enable_x64(True):
    pen = build(name, h)
    px, pu = to(x, jnp.float64), to(u, jnp.float64)
    h = held(pen, h)
    # add_penalty_gradient: u + ∇pen(x).
    got = _add_grad(pen, pu, px)
    g = ref_grad(name, h, x)
    for k in SHAPES:
      assert_close(got[k], u[k] + g[k],
                   16 * eps(jnp.float64) * (np.abs(u[k]) + np.abs(g[k]) + 3 * h["alpha"]))
    # proximal: x + update = prox(x + u, lr).
    if name != "Lp":
      got = _prox_step(pen, pu, px, lr)
      moved = {k: x[k] + u[k] for k in SHAPES}
      want = ref_prox_closed(name, h, moved, lr)
      for k in SHAPES:
        assert_close(x[k] + np.asarray(got[k]), want[k],
                     16 * eps(jnp.float64)
                     * (np.abs(moved[k]) + np.abs(x[k]) + 3 * lr * h["alpha"]))


@pytest.mark.parametrize("kind", ("L1Ball", "L2Ball", "LinfBall"))
@SETTINGS
@given(x=leaves_strategy(), u=leaves_strategy(-1.0, 1.0), r=st.floats(0.0, 10.0))
def test_project_transform_matches_reference(kind, x, u, r):
  with jax.enable_x64(True):
    c = getattr(jr, kind)(r)
    got = _project_step(c, to(u, jnp.float64), to(x, jnp.float64))
  moved = flat(x) + flat(u)
  want = ref_project(kind, moved, r)
  assert_close(flat(x) + flat(got), want,
               8 * N * eps(jnp.float64) * (np.sum(np.abs(moved)) + r + np.sum(np.abs(flat(x)))))


# --- invalid input: concrete values raise, naming the argument ------------------------
negative = st.floats(max_value=-1e-300, allow_nan=False, allow_infinity=True)
non_finite = st.sampled_from([math.nan, math.inf, -math.inf])
bad_nonneg = st.one_of(negative, non_finite)
not_numbers = st.one_of(st.text(max_size=5), st.none(), st.just({"x": "y"}), st.just(object()))


def ctor(name, alpha=1.0, r=0.5, p=1.5):
  return {"L1": lambda: jr.L1(alpha), "L2": lambda: jr.L2(alpha),
          "ElasticNet": lambda: jr.ElasticNet(alpha, r), "Lp": lambda: jr.Lp(alpha, p),
          "GroupLasso": lambda: jr.GroupLasso(alpha), "MCP": lambda: jr.MCP(alpha, 3.0),
          "SCAD": lambda: jr.SCAD(alpha, 3.7)}[name]


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=25, deadline=None)
@given(bad=bad_nonneg, junk=not_numbers)
def test_invalid_alpha_raises_naming_alpha(name, bad, junk):
  with pytest.raises(ValueError, match="alpha"):
    ctor(name, alpha=bad)()
  with pytest.raises(TypeError, match="alpha"):
    ctor(name, alpha=junk)()


@settings(max_examples=25, deadline=None)
@given(r=st.one_of(st.floats(max_value=-1e-12), st.floats(min_value=1 + 1e-12), non_finite),
       p=st.one_of(st.floats(max_value=0.0), non_finite), junk=not_numbers,
       w=st.one_of(negative, non_finite))
def test_invalid_l1_ratio_p_and_weights_raise(r, p, junk, w):
  with pytest.raises(ValueError, match="l1_ratio"):
    jr.ElasticNet(1.0, r)
  with pytest.raises(ValueError, match="p must"):
    jr.Lp(1.0, p)
  with pytest.raises(TypeError, match="p must"):
    jr.Lp(1.0, junk)
  with pytest.raises(ValueError, match="weights"):
    jr.L1(1.0, weights={"a": np.ones(4), "b": np.full(5, w)})
  with pytest.raises(ValueError, match="weights"):
    jr.L2(1.0, weights=w)


X0 = {k: jnp.ones(s) for k, s in SHAPES.items()}


@pytest.mark.parametrize("name", NAMES + ("MCP", "SCAD"))
@settings(max_examples=20, deadline=None)
@given(bad=bad_nonneg, junk=not_numbers)
def test_invalid_step_and_learning_rate_raise(name, bad, junk):
  pen = ctor(name)()
  with pytest.raises(ValueError, match="step"):
    pen.prox(X0, bad)
  with pytest.raises(TypeError, match="step"):
    pen.prox(X0, junk)
  with pytest.raises(ValueError, match="learning_rate"):
    jr.proximal(pen, bad)
  with pytest.raises(TypeError, match="learning_rate"):
    jr.proximal(pen, junk)


@pytest.mark.parametrize("kind", ("L1Ball", "L2Ball", "LinfBall"))
@settings(max_examples=20, deadline=None)
@given(bad=bad_nonneg, junk=not_numbers)
def test_invalid_radius_raises(kind, bad, junk):
  with pytest.raises(ValueError, match="radius"):
    getattr(jr, kind)(bad)
  with pytest.raises(TypeError, match="radius"):
    getattr(jr, kind)(junk)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=10, deadline=None)
@given(shape=st.sampled_from([(2,), (2, 2), (1,), (17,)]), junk=st.sampled_from(
    ["x", None, {"a": "s"}, {"a": np.array(["u"])}, {"a": object()}, {"a": 1}, {"a": True}]))
def test_bad_shapes_and_types_raise_naming_the_argument(name, shape, junk):
  pen = ctor(name, alpha=jnp.full(shape, 0.5))()
  for call in (pen, pen.grad, lambda x: pen.prox(x, 0.1)):
    with pytest.raises(ValueError, match=r"alpha must be a scalar.*" + re_shape(shape)):
      call(X0)
  with pytest.raises(TypeError, match="params"):
    ctor(name)()(junk)
  with pytest.raises(ValueError, match="step must be a scalar"):
    ctor(name)().prox(X0, jnp.full(shape, 0.1))
  tx = jr.add_penalty_gradient(ctor(name)())
  bad_u = dict(X0, b=jnp.ones(shape))
  with pytest.raises(ValueError, match=r"updates\['b'\]"):
    tx.update(bad_u, tx.init(X0), X0)


def re_shape(shape):
  return re.escape(str(shape))


@pytest.mark.parametrize("cls", (jr.L1, jr.L2))
def test_weights_that_would_reshape_a_leaf_raise_naming_leaf(cls):
  for bad in ({"a": jnp.ones((3, 1, 4)), "b": jnp.ones(5)},
              {"a": jnp.ones(4), "b": jnp.ones((5, 1))},
              {"a": jnp.ones(3), "b": jnp.ones(5)}):
    pen = cls(0.5, weights=bad)
    with pytest.raises(ValueError, match=r"weights\['[ab]'\].*params\['[ab]'\]"):
      pen(X0)


# --- invalid input: traced values give NaN, and raise under jr.checked ------------
_traced_cases = {
    "alpha": lambda v: (jr.L2(v), "alpha"),
    "l1_ratio": lambda v: (jr.ElasticNet(0.5, v), "l1_ratio"),
    "weights": lambda v: (jr.L1(0.5, weights=jnp.full(5, v)), "weights"),
}


def _traced_run(field):
  x = jnp.linspace(-1.0, 1.0, 5)

  def run(v):
    pen, _ = _traced_cases[field](v)
    return pen(x), pen.grad(x), pen.prox(x, 0.5)

  return jax.jit(run)


_traced_runs = {field: _traced_run(field) for field in _traced_cases}


@pytest.mark.parametrize("field", list(_traced_cases))
@settings(max_examples=10, deadline=None)
@given(v=st.one_of(st.floats(-1e6, -1e-6), st.just(math.nan), st.floats(1.0 + 1e-6, 1e6)))
def test_traced_invalid_hyperparameters_give_nan_or_raise_when_checked(field, v):
  if field != "l1_ratio" and v > 0:
    v = -v
  fn = _traced_runs[field]
  for out in jax.tree_util.tree_leaves(fn(v)):
    assert bool(jnp.all(jnp.isnan(out)))
  with pytest.raises(ValueError, match=field):
    jr.checked(fn)(v)


_X7 = {k: jnp.full(sh, 0.7) for k, sh in SHAPES.items()}
_prox_of = jax.jit(lambda pen, s: pen.prox(_X7, s))
_ball_of = jax.jit(lambda r: jr.L2Ball(r).project(_X7))


@functools.cache
def _schedule_step(name):
  # A schedule that turns negative after the first step.
  sched = lambda count: 0.5 - 1.0 * count
  tx = optax.chain(optax.sgd(0.1), jr.proximal(ctor(name)(), sched))
  return tx, jax.jit(tx.update)


def all_nan(tree):
  return all(bool(jnp.all(jnp.isnan(v))) for v in jax.tree_util.tree_leaves(tree))


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=3, deadline=None)
@given(s=st.one_of(st.floats(-1e6, -1e-6), st.just(math.nan)))
def test_traced_invalid_step_schedule_and_radius(name, s):
  pen = ctor(name)()
  assert all_nan(_prox_of(pen, s))
  with pytest.raises(ValueError, match="step"):
    jr.checked(_prox_of)(pen, s)
  tx, step = _schedule_step(name)
  state = tx.init(_X7)
  u, state = step(_X7, state, _X7)
  assert all(bool(jnp.all(jnp.isfinite(v))) for v in jax.tree_util.tree_leaves(u))
  u, _ = step(_X7, state, _X7)
  assert all_nan(u)
  with pytest.raises(ValueError, match="learning_rate"):
    jr.checked(step)(_X7, state, _X7)
  with pytest.raises(ValueError, match="learning_rate"):
    tx.update(_X7, state, _X7)  # outside jit the schedule's value is concrete.
  assert all_nan(_ball_of(s))
  with pytest.raises(ValueError, match="radius"):
    jr.checked(_ball_of)(s)


@pytest.mark.parametrize("name", ("MCP", "SCAD"))
@settings(max_examples=20, deadline=None)
@given(bad=bad_nonneg, junk=not_numbers)
def test_nonconvex_penalties_refuse_bad_alpha(name, bad, junk):
  # Their step and learning rate: test_invalid_step_and_learning_rate_raise.
  with pytest.raises(ValueError, match="alpha"):
    ctor(name, alpha=bad)()
  with pytest.raises(TypeError, match="alpha"):
    ctor(name, alpha=junk)()
