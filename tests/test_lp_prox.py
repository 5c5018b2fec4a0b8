"""The scalar Lp prox: global minimiser by brute-force grid search, local
optimality by perturbation, non-expansiveness for p ≥ 1, closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jaxreg as jr
from jaxreg.lp_prox import prox_lp

_prox = jax.jit(lambda pen, x, s: pen.prox(x, s))
SETTINGS = settings(max_examples=20, deadline=None)
PS = [0.3, 0.5, 1.0, 1.5, 2.0, 2.5]
vec = hnp.arrays(np.float64, (5,), elements=st.floats(-4, 4, width=64))


def objective(z, x, c, p):
  """Elementwise ½(z − x)² + (c/p)|z|ᵖ, in float64 NumPy."""
  return 0.5 * (z - x) ** 2 + (c / p) * np.abs(z) ** p


def grid_minimum(x, c, p, n=40001):
  """Brute force: the smallest objective over a dense grid containing 0."""
  hi = np.max(np.abs(x)) + 0.5
  grid = np.concatenate([np.linspace(-hi, hi, n), [0.0]])
  return np.min(objective(grid[None, :], x[:, None], c, p), axis=1)


@pytest.mark.parametrize("p", PS)
@SETTINGS
@given(x=vec, a=st.floats(0.0, 3.0), s=st.floats(0.0, 2.0))
def test_prox_is_global_minimiser_against_grid(p, x, a, s):
  with jax.enable_x64(True):
    z = np.asarray(_prox(jr.Lp(a, p), jnp.asarray(x), s))
    c = a * s
    fz = objective(z, x, c, p)
    # No grid point (including z = 0) does better: the global minimiser for p < 1.
    assert np.all(fz <= grid_minimum(x, c, p) + 1e-10 * (1 + np.abs(fz)))
    # And no small perturbation does better either (catches a coarse grid).
    rng = np.random.default_rng(0)
    for scale in (1e-7, 1e-4, 1e-2):
      cand = z[None] + scale * rng.standard_normal((50, 5))
      assert np.all(objective(cand, x, c, p) >= fz - 1e-12 * (1 + np.abs(fz)))


@pytest.mark.parametrize("p", [1.0, 1.5, 2.0, 2.5])
@SETTINGS
@given(x=vec, y=vec, a=st.floats(0.0, 3.0), s=st.floats(0.0, 2.0))
def test_prox_non_expansive_for_convex_p(p, x, y, a, s):
  with jax.enable_x64(True):
    pen = jr.Lp(a, p)
    px = np.asarray(_prox(pen, jnp.asarray(x), s))
    py = np.asarray(_prox(pen, jnp.asarray(y), s))
    assert np.linalg.norm(px - py) <= np.linalg.norm(x - y) * (1 + 1e-10) + 1e-12


def test_p1_and_p2_are_l1_and_l2():
  with jax.enable_x64(True):
    x = jnp.asarray(np.random.default_rng(1).standard_normal(7))
    np.testing.assert_array_equal(jr.Lp(0.4, 1).prox(x, 0.7), jr.L1(0.4).prox(x, 0.7))
    np.testing.assert_allclose(jr.Lp(0.4, 2).prox(x, 0.7), jr.L2(0.4).prox(x, 0.7), rtol=1e-15)
    np.testing.assert_allclose(jr.Lp(0.4, 1)(x), jr.L1(0.4)(x), rtol=1e-15)
    np.testing.assert_allclose(jr.Lp(0.4, 2)(x), jr.L2(0.4)(x), rtol=1e-15)


def test_half_thresholding_threshold():
  # Xu et al. (2012): argmin_z (z − x)² + λ|z|^½ jumps from 0 to a non-zero
  # value at |x| = (54^⅓ / 4) λ^⅔. Ours is half of that objective with λ = 4c.
  with jax.enable_x64(True):
    c = 0.7
    t = 54 ** (1 / 3) / 4 * (4 * c) ** (2 / 3)
    z = np.asarray(prox_lp(jnp.array([t - 1e-6, t + 1e-6, -(t + 1e-6)]), c, 0.5))
    assert z[0] == 0.0
    assert z[1] > 0.5 * t and z[2] < -0.5 * t
    # At the jump the two candidates tie: ½x² = objective of the non-zero root.
    assert objective(z[1], t + 1e-6, c, 0.5) == pytest.approx(0.5 * (t + 1e-6) ** 2, abs=1e-5)
    # Xu et al.'s closed form of the non-zero root at the jump: (2/3)|x|.
    assert z[1] == pytest.approx(2 / 3 * t, rel=1e-4)


@pytest.mark.parametrize("p", [0.3, 0.5, 1.5, 2.5])
def test_float32_close_to_grid(p):
  x = np.array([-3.0, -0.4, 0.0, 0.9, 2.2, 3.5], np.float32)
  z = np.asarray(_prox(jr.Lp(0.8, p), jnp.asarray(x), 1.0))
  assert z.dtype == np.float32
  fz = objective(z.astype(np.float64), x.astype(np.float64), 0.8, p)
  assert np.all(fz <= grid_minimum(x.astype(np.float64), 0.8, p) + 1e-5 * (1 + np.abs(fz)))


@pytest.mark.parametrize("p", [0.3, 0.5, 1.5])
def test_prox_gradients_finite(p):
  # Reverse-mode through the prox, including entries that are 0 and entries
  # that are thresholded to 0.
  x = jnp.array([0.0, 0.05, -2.0, 3.0])
  g = jax.jit(jax.grad(lambda a: jnp.sum(jr.Lp(a, p).prox(x, 1.0) ** 2)))(0.5)
  gx = jax.jit(jax.grad(lambda x: jnp.sum(jr.Lp(0.5, p).prox(x, 1.0) ** 2)))(x)
  assert np.isfinite(g) and np.all(np.isfinite(gx))


# --- bad input, NaN, half precision --------------------------------------------
def test_prox_lp_rejects_bad_input_naming_it():
  with pytest.raises(TypeError, match="x must"):
    prox_lp(None, 1.0, 0.5)
  with pytest.raises(TypeError, match="x must"):
    prox_lp(jnp.array([1, 2]), 1.0, 0.5)
  for bad_p in (0.0, -1.0, float("nan"), float("inf")):
    with pytest.raises(ValueError, match="p must"):
      prox_lp(jnp.ones(2), 1.0, bad_p)
  with pytest.raises(TypeError, match="p must"):
    prox_lp(jnp.ones(2), 1.0, "0.5")
  with pytest.raises(ValueError, match="c must be >= 0"):
    prox_lp(jnp.ones(2), -1.0, 0.5)
  with pytest.raises(ValueError, match="c must be >= 0 and not NaN"):
    prox_lp(jnp.ones(2), float("nan"), 0.5)
  with pytest.raises(ValueError, match="broadcast"):
    prox_lp(jnp.ones(2), jnp.ones((3, 1)), 0.5)


@pytest.mark.parametrize("p", PS)
def test_overflowing_c_gives_zero(p):
  # c = step·α can overflow to +inf from valid factors; the minimiser is then 0.
  x = jnp.array([2.0, -0.3, 0.0, 1e30], jnp.float32)
  for c in (jnp.float32(1e30) * jnp.float32(1e30), jnp.inf):
    np.testing.assert_array_equal(jax.jit(lambda c: prox_lp(x, c, p))(c), np.zeros(4))
  np.testing.assert_array_equal(prox_lp(x, jnp.inf, p), np.zeros(4))


@pytest.mark.parametrize("p", PS)
def test_traced_nan_or_negative_c_gives_nan_not_x(p):
  # A NaN c used to fall through to x itself (c > 0 is False for NaN).
  f = jax.jit(lambda c: prox_lp(jnp.array([2.0, -0.3, 0.0]), c, p))
  assert bool(jnp.all(jnp.isnan(f(jnp.nan))))
  assert bool(jnp.all(jnp.isnan(f(-1.0))))
  with pytest.raises(ValueError, match="c must be >= 0"):
    jr.checked(f)(-1.0)


@pytest.mark.parametrize("p", [0.3, 0.5, 1.5])
@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_half_precision_is_the_float32_answer_rounded_once(p, dtype):
  x = jnp.array([3.0, -1.5, 0.25, 0.0, 200.0], dtype)
  got = prox_lp(x, 0.7, p)
  assert got.dtype == dtype
  want = prox_lp(x.astype(jnp.float32), 0.7, p).astype(dtype)
  np.testing.assert_array_equal(np.asarray(got, np.float32), np.asarray(want, np.float32))


@pytest.mark.parametrize("p", [0.5, 0.3])
def test_magnitude_never_exceeds_abs_x(p):
  # With a tiny c the p = ½ cubic rounded to one ulp above |x|.
  x = jnp.full((6,), 1.1875, jnp.float32)
  f = jax.jit(lambda c: prox_lp(x, c, p))
  for c in (1.1920929e-07, 1e-6, 1e-10):
    assert bool(jnp.all(jnp.abs(f(c)) <= jnp.abs(x)))
