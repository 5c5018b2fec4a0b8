"""Norm-ball projections: feasibility and the variational inequality of the
Euclidean projection, checked on the balls' vertices (L1, L∞) or closed form."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jaxreg as jr

_project = jax.jit(lambda c, x: c.project(x))
SETTINGS = settings(max_examples=20, deadline=None)
vec = hnp.arrays(np.float64, (5,), elements=st.floats(-4, 4, width=64))


def vertices(kind, r, n):
  if kind == "l1":
    return [s * r * e for e in np.eye(n) for s in (1, -1)]
  return [r * np.array(s) for s in itertools.product((1.0, -1.0), repeat=n)]


@pytest.mark.parametrize("kind, cls, ord_", [("l1", jr.L1Ball, 1), ("linf", jr.LinfBall, np.inf)])
@SETTINGS
@given(x=vec, r=st.floats(0.01, 5.0))
def test_polytope_projection_variational_inequality(kind, cls, ord_, x, r):
  # z = Π(x) iff z is in the ball and ⟨x − z, y − z⟩ ≤ 0 for every y in the
  # ball; a linear function is largest at a vertex, so vertices suffice.
  with jax.enable_x64(True):
    z = np.asarray(_project(cls(r), jnp.asarray(x)))
    assert np.linalg.norm(z, ord_) <= r * (1 + 1e-10)
    worst = max(float(np.dot(x - z, v - z)) for v in vertices(kind, r, 5))
    assert worst <= 1e-9 * (1 + np.linalg.norm(x) ** 2)


@SETTINGS
@given(x=vec, r=st.floats(0.01, 5.0))
def test_l2_projection_closed_form(x, r):
  with jax.enable_x64(True):
    z = np.asarray(_project(jr.L2Ball(r), jnp.asarray(x)))
    want = x * min(1.0, r / max(np.linalg.norm(x), 1e-300))
    np.testing.assert_allclose(z, want, rtol=1e-12, atol=1e-12)


def test_projection_over_a_pytree_treats_leaves_as_one_vector():
  params = {"a": jnp.array([3.0]), "b": jnp.array([[4.0]]), "c": jnp.array([10.0])}
  out = jr.L2Ball(1.0, mask={"a": True, "b": True, "c": False}).project(params)
  np.testing.assert_allclose(out["a"], [0.6], rtol=1e-6)
  np.testing.assert_allclose(out["b"], [[0.8]], rtol=1e-6)
  np.testing.assert_array_equal(out["c"], [10.0])
  assert float(jr.L1Ball(1.0).norm(params)) == pytest.approx(17.0)


def test_batched_radius_vmaps_and_never_recompiles():
  x = jnp.array([3.0, -1.0, 0.5])
  radii = jnp.array([0.5, 1.0, 2.0, 10.0])
  batched = jax.jit(jax.vmap(lambda c: c.project(x)))(jr.L1Ball(radii))
  for k, r in enumerate(np.asarray(radii)):
    np.testing.assert_allclose(batched[k], jr.L1Ball(float(r)).project(x), rtol=1e-6)
  f = jax.jit(lambda c, x: c.project(x))
  f(jr.L2Ball(1.0), x)
  f(jr.L2Ball(2), x)
  assert f._cache_size() == 1


def test_dtypes_preserved():
  with jax.enable_x64(True):
    for cls in (jr.L1Ball, jr.L2Ball, jr.LinfBall):
      for dtype in (jnp.float32, jnp.float64):
        x = {"w": jnp.array([3.0, -4.0], dtype), "b": jnp.array([1.0], dtype)}
        assert all(v.dtype == dtype for v in jax.tree_util.tree_leaves(_project(cls(1.0), x)))


def test_constraint_errors():
  with pytest.raises(ValueError, match="radius"):
    jr.L1Ball(-1.0)
  with pytest.raises(ValueError, match="radius"):
    jr.L2Ball(float("nan"))
  with pytest.raises(TypeError, match=r"params\['n'\]"):
    jr.L2Ball(1.0).project({"n": jnp.array([1, 2])})


# --- radius 0, batched radii, traced radii ----------------------------------------
@pytest.mark.parametrize("cls", [jr.L1Ball, jr.L2Ball, jr.LinfBall])
def test_zero_radius_projects_onto_the_origin(cls):
  x = {"w": jnp.array([1.0, -2.0]), "b": jnp.array([[0.5]])}
  for leaf in jax.tree_util.tree_leaves(_project(cls(0.0), x)):
    np.testing.assert_array_equal(leaf, np.zeros_like(leaf))
  d = jax.grad(lambda r: sum(jnp.sum(v) for v in jax.tree_util.tree_leaves(cls(r).project(x))))(0.0)
  assert np.isfinite(float(d))


@pytest.mark.parametrize("cls", [jr.L1Ball, jr.L2Ball, jr.LinfBall])
def test_batched_radius_outside_vmap_and_traced_invalid_radius(cls):
  x = jnp.array([3.0, -1.0, 0.5])
  with pytest.raises(ValueError, match=r"radius must be a scalar.*\(2,\).*vmap"):
    cls(jnp.array([1.0, 2.0])).project(x)
  f = jax.jit(lambda r: cls(r).project(x))
  assert bool(jnp.all(jnp.isnan(f(-1.0))))
  with pytest.raises(ValueError, match="radius must be >= 0"):
    jr.checked(f)(-1.0)
  with pytest.raises(ValueError, match="radius"):
    cls(1e300)  # not representable in float32.
  with pytest.raises(TypeError, match="radius"):
    cls("1")


# --- optax's projection tests (optax/projections/_projections_test.py) -------------
@pytest.mark.parametrize("x, r, want", [
    ([2.0, 0.5], 1.0, [1.0, 0.0]),
    ([3.0, 2.0, 1.0], 3.0, [2.0, 1.0, 0.0]),
    ([-3.0, 2.0, 1.0], 3.0, [-2.0, 1.0, 0.0]),
    ([1.0, 1.0, 1.0, 1.0], 2.0, [0.5, 0.5, 0.5, 0.5]),
    ([0.2, -0.3], 1.0, [0.2, -0.3]),
])
def test_l1_ball_known_values(x, r, want):
  # Worked by hand: the soft threshold τ with Σ max(|xᵢ| − τ, 0) = r.
  np.testing.assert_allclose(jr.L1Ball(r).project(jnp.array(x)), want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("cls, ord_", [(jr.L1Ball, 1), (jr.L2Ball, 2), (jr.LinfBall, np.inf)])
@SETTINGS
@given(x=vec, r=st.floats(0.01, 5.0))
def test_projection_is_idempotent_and_fixes_inner_points(cls, ord_, x, r):
  with jax.enable_x64(True):
    c = cls(r)
    z = _project(c, jnp.asarray(x))
    np.testing.assert_allclose(_project(c, z), z, rtol=0, atol=1e-12 * (1 + r))
    # The norm scaled by max|x|, so that tiny x (whose squares underflow) gives
    # an inner point and not an overflowed one.
    m = np.max(np.abs(x))
    inner = (x / m) * (0.99 * r / np.linalg.norm(x / m, ord_)) if m > 0 else x
    np.testing.assert_allclose(_project(c, jnp.asarray(inner)), inner, rtol=0, atol=1e-12 * (1 + r))


def test_python_float_leaves_and_bad_params_are_named():
  out = jr.L2Ball(1.0).project({"w": 3.0, "b": 4.0})
  assert float(out["w"]) == pytest.approx(0.6) and float(out["b"]) == pytest.approx(0.8)
  with pytest.raises(TypeError, match="params must"):
    jr.L1Ball(1.0).project(None)
  with pytest.raises(TypeError, match=r"params\['w'\]"):
    jr.LinfBall(1.0).project({"w": "3"})
