"""MCP and SCAD: values against the published piecewise definitions integrated
with scipy, the prox against brute-force scalar minimisation (a grid refined
by scipy's bounded minimize_scalar) for steps on both sides of the convexity
limit, gradients against finite differences, limits, and jit/vmap/mask/dtype
behaviour."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import integrate, optimize

import jaxreg as jr

_value = jax.jit(lambda pen, x: pen(x))
_grad = jax.jit(lambda pen, x: pen.grad(x))
_prox = jax.jit(lambda pen, x, s: pen.prox(x, s))


# --- oracles: the derivative definitions, integrated numerically ------------
def mcp_deriv(t, alpha, gamma):
  """Zhang (2010): p'(t) = α (1 − t/(γα))₊ for t ≥ 0."""
  return alpha * max(1.0 - t / (gamma * alpha), 0.0) if alpha > 0 else 0.0


def scad_deriv(t, alpha, a):
  """Fan & Li (2001): p'(t) = α{1(t ≤ α) + (aα − t)₊/((a − 1)α) 1(t > α)}."""
  if alpha == 0:
    return 0.0
  if t <= alpha:
    return alpha
  return alpha * max(a * alpha - t, 0.0) / ((a - 1.0) * alpha)


def ref_scalar(deriv, t, alpha, c):
  """∫₀^|t| p'(u) du, split at the knots so quad sees smooth pieces."""
  t = abs(float(t))
  knots = sorted(k for k in (alpha, c * alpha) if 0 < k < t)
  edges = [0.0] + knots + [t]
  return sum(integrate.quad(deriv, lo, hi, args=(alpha, c), epsabs=1e-13, epsrel=1e-12)[0]
             for lo, hi in zip(edges[:-1], edges[1:]))


def ref_value(name, x, alpha, c):
  deriv = mcp_deriv if name == "MCP" else scad_deriv
  return sum(ref_scalar(deriv, xi, alpha, c) for xi in np.ravel(x))


def make(name, alpha, c, **kw):
  return jr.MCP(alpha, gamma=c, **kw) if name == "MCP" else jr.SCAD(alpha, a=c, **kw)


def brute_prox(name, x, alpha, c, s):
  """argmin_z ½(z − x)² + s·pen(z): dense grid over [−|x| − 1, |x| + 1], then a
  bounded refinement around the best few grid points; 0 is always a
  candidate (the non-convex problems often put the minimiser there)."""
  # The published piecewise formulas in NumPy (checked against the integral
  # of the derivative definitions in test_value_matches_integral).
  def pen(z):
    t = np.abs(z)
    if name == "MCP":
      return np.where(t <= c * alpha, alpha * t - t * t / (2 * c), c * alpha ** 2 / 2)
    return np.where(t <= alpha, alpha * t,
                    np.where(t <= c * alpha, (2 * c * alpha * t - t * t - alpha ** 2) / (2 * (c - 1)),
                             (c + 1) * alpha ** 2 / 2))
  f = lambda z: float(0.5 * (z - x) ** 2 + s * pen(z))
  r = abs(x) + 1.0
  grid = np.linspace(-r, r, 4001)
  vals = 0.5 * (grid - x) ** 2 + s * pen(grid)
  best_z, best_f = 0.0, f(0.0)
  h = grid[1] - grid[0]
  for i in np.argsort(vals)[:6]:
    res = optimize.minimize_scalar(f, bounds=(grid[i] - h, grid[i] + h), method="bounded",
                                   options={"xatol": 1e-12})
    for z in (res.x, grid[i]):
      if f(z) < best_f:
        best_z, best_f = z, f(z)
  return best_z, best_f, f


CASES = [("MCP", 1.0, 3.0), ("MCP", 0.7, 1.5), ("SCAD", 1.0, 3.7), ("SCAD", 0.6, 2.5)]
XS = np.concatenate([np.linspace(-6, 6, 49), [0.0, 1e-3, -2.05, 3.333]])


@pytest.mark.parametrize("name,alpha,c", CASES)
def test_value_matches_integral(x64, name, alpha, c):
  x = np.linspace(-5, 5, 41)
  pen = make(name, alpha, c)
  got = np.array([float(_value(pen, jnp.asarray([xi]))) for xi in x])
  want = np.array([ref_value(name, [xi], alpha, c) for xi in x])
  np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
  np.testing.assert_allclose(float(_value(pen, jnp.asarray(x))), want.sum(), rtol=1e-10)


@pytest.mark.parametrize("name,alpha,c", CASES)
def test_value_published_formulas(x64, name, alpha, c):
  """The piecewise closed forms as printed (Zhang's eq. 2.1, Fan & Li's eq. 2.8)."""
  x = np.linspace(-6, 6, 97)
  t = np.abs(x)
  if name == "MCP":
    want = np.where(t <= c * alpha, alpha * t - x ** 2 / (2 * c), c * alpha ** 2 / 2)
  else:
    want = np.where(t <= alpha, alpha * t,
                    np.where(t <= c * alpha, (2 * c * alpha * t - x ** 2 - alpha ** 2) / (2 * (c - 1)),
                             (c + 1) * alpha ** 2 / 2))
  pen = make(name, alpha, c)
  np.testing.assert_allclose(float(_value(pen, jnp.asarray(x))), want.sum(), rtol=1e-12)


def _steps(name, c):
  limit = c if name == "MCP" else c - 1.0   # the closed form holds for step < limit
  return [0.0, 0.3, 0.5 * limit, 0.999 * limit, limit, 1.001 * limit, 1.5 * limit, 3 * limit]


@pytest.mark.parametrize("name,alpha,c", CASES)
def test_prox_is_global_minimiser(x64, name, alpha, c):
  for s in _steps(name, c):
    pen = make(name, alpha, c)
    got = np.asarray(_prox(pen, jnp.asarray(XS), s))
    for xi, zi in zip(XS, got):
      zb, fb, f = brute_prox(name, xi, alpha, c, s)
      # The objective at the prox is no worse than the brute-force minimum ...
      assert f(zi) <= fb + 1e-10 * (1 + abs(fb)), (name, s, xi, zi, zb)
      # ... and the point agrees unless two minimisers tie (non-convex steps).
      if abs(zi - zb) > 1e-6:
        assert abs(f(zb) - f(zi)) < 1e-9, (name, s, xi, zi, zb)


@settings(max_examples=20, deadline=None)
@given(x=hnp.arrays(np.float64, (4,), elements=st.floats(-8, 8, width=64)),
       alpha=st.floats(0.0, 2.0), c=st.floats(1.05, 6.0), s=st.floats(0.0, 8.0),
       scad=st.booleans())
def test_prox_global_property(x, alpha, c, s, scad):
  name = "SCAD" if scad else "MCP"
  c = c + 1.0 if scad else c
  with jax.enable_x64(True):
    got = np.asarray(_prox(make(name, alpha, c), jnp.asarray(x), s))
  for xi, zi in zip(x, got):
    zb, fb, f = brute_prox(name, xi, alpha, c, s)
    assert f(zi) <= fb + 1e-10 * (1 + abs(fb)), (name, alpha, c, s, xi, zi, zb)


def test_prox_closed_forms(x64):
  # MCP firm threshold (γ = 3, s = 1): 0, (|x| − 1)/(1 − 1/3), x.
  got = jr.MCP(1.0, gamma=3.0).prox(jnp.array([0.8, -2.0, 4.0]), 1.0)
  np.testing.assert_allclose(got, [0.0, -1.5, 4.0])
  # γ ≤ s: hard threshold at α√(γs) = √6 ≈ 2.449.
  got = jr.MCP(1.0, gamma=2.0).prox(jnp.array([2.4, 2.5, -1.9]), 3.0)
  np.testing.assert_allclose(got, [0.0, 2.5, 0.0])
  # SCAD, Fan & Li with s = 1, a = 3.7: soft below 2α, ((a−1)x − aα)/(a − 2) to aα.
  got = jr.SCAD(1.0).prox(jnp.array([1.5, 3.0, 5.0]), 1.0)
  np.testing.assert_allclose(got, [0.5, (2.7 * 3.0 - 3.7) / 1.7, 5.0])


@pytest.mark.parametrize("name,alpha,c", CASES)
def test_prox_zero_step_and_zero_alpha(name, alpha, c):
  x = jnp.array([-3.0, -0.2, 0.0, 0.4, 5.0])
  np.testing.assert_array_equal(make(name, alpha, c).prox(x, 0.0), x)
  np.testing.assert_array_equal(make(name, 0.0, c).prox(x, 2.0), x)


@pytest.mark.parametrize("name,alpha,c", CASES)
def test_grad_matches_finite_differences(x64, name, alpha, c):
  pen = make(name, alpha, c)
  kinks = [0.0, alpha, c * alpha]
  x = np.array([v for v in np.linspace(-6, 6, 121)
                if min(abs(abs(v) - k) for k in kinks) > 1e-3])
  g = np.asarray(_grad(pen, jnp.asarray(x)))
  h = 1e-6
  fd = np.array([(ref_value(name, [v + h], alpha, c) - ref_value(name, [v - h], alpha, c)) / (2 * h)
                 for v in x])
  np.testing.assert_allclose(g, fd, atol=1e-6)
  # Also against jax.grad of the value, and the minimum-norm subgradient 0 at 0.
  np.testing.assert_allclose(jax.grad(pen)(jnp.asarray(x)), g, atol=1e-12)
  assert float(pen.grad(jnp.zeros(1))[0]) == 0.0


def test_mcp_tends_to_l1(x64):
  x = jnp.asarray(np.linspace(-4, 4, 33))
  mcp, l1 = jr.MCP(0.7, gamma=1e9), jr.L1(0.7)
  np.testing.assert_allclose(mcp(x), l1(x), rtol=1e-7)
  np.testing.assert_allclose(mcp.grad(x), l1.grad(x), atol=1e-8)
  np.testing.assert_allclose(mcp.prox(x, 0.5), l1.prox(x, 0.5), atol=1e-8)


def test_scad_is_l1_below_alpha(x64):
  x = jnp.asarray(np.linspace(-0.9, 0.9, 19))
  scad, l1 = jr.SCAD(0.9, a=3.0), jr.L1(0.9)
  np.testing.assert_allclose(scad(x), l1(x), rtol=1e-13)
  np.testing.assert_allclose(scad.grad(x), l1.grad(x), rtol=1e-13)
  # The prox is soft thresholding while |x| ≤ (1 + s)α.
  y = jnp.asarray(np.linspace(-1.6, 1.6, 33))   # (1 + 0.8)·0.9 = 1.62
  np.testing.assert_allclose(scad.prox(y, 0.8), l1.prox(y, 0.8), atol=1e-13)


# The vmaps over the hyperparameters, each compiled as one program.
_vmapped = jax.jit(lambda batch, x: (jax.vmap(lambda p: p(x))(batch),
                                     jax.vmap(lambda p: p.grad(x))(batch),
                                     jax.vmap(lambda p: p.prox(x, 1.7))(batch)))
_vmapped_prox = jax.jit(lambda batch, x: jax.vmap(lambda p: p.prox(x, 2.0))(batch))


@pytest.mark.parametrize("name,c", [("MCP", 2.5), ("SCAD", 3.7)])
def test_batched_alpha_vmaps_like_a_loop(name, c):
  alphas = jnp.array([0.0, 0.3, 1.0, 2.0])
  x = jnp.asarray(np.linspace(-5, 5, 11), jnp.float32)
  batch = make(name, alphas, c)
  vals, grads, proxes = _vmapped(batch, x)
  for k, a in enumerate(alphas):
    pen = make(name, float(a), c)
    np.testing.assert_allclose(vals[k], pen(x), rtol=1e-6)
    np.testing.assert_allclose(grads[k], pen.grad(x), rtol=1e-6)
    np.testing.assert_allclose(proxes[k], pen.prox(x, 1.7), rtol=1e-6)
  # A batch of both α and the concavity parameter maps too.
  cs = jnp.array([1.5, 2.5, 4.0, 9.0]) + (1.0 if name == "SCAD" else 0.0)
  both = _vmapped_prox(make(name, alphas, cs), x)
  for k in range(4):
    np.testing.assert_allclose(both[k], make(name, float(alphas[k]), float(cs[k])).prox(x, 2.0),
                               rtol=1e-6)


@pytest.mark.parametrize("name,c", [("MCP", 2.5), ("SCAD", 3.7)])
def test_new_hyperparameters_do_not_recompile(name, c):
  f = jax.jit(lambda pen, x: (pen(x), pen.grad(x), pen.prox(x, 0.5)))
  x = jnp.ones(3)
  f(make(name, 0.1, c), x)
  f(make(name, 2, c), x)            # an int α too
  f(make(name, 0.7, c + 1.3), x)
  assert f._cache_size() == 1


@pytest.mark.parametrize("name,arg,bad,msg", [
    ("MCP", "gamma", 1.0, "gamma must be > 1"),
    ("MCP", "gamma", 0.5, "gamma must be >= 1"),
    ("MCP", "gamma", float("inf"), "gamma must be finite"),
    ("SCAD", "a", 2.0, "a must be > 2"),
    ("SCAD", "a", -1.0, "a must be >= 2"),
    ("SCAD", "a", float("nan"), "a must be finite"),
])
def test_bad_concavity_raises(name, arg, bad, msg):
  cls = jr.MCP if name == "MCP" else jr.SCAD
  with pytest.raises(ValueError, match=msg):
    cls(1.0, **{arg: bad})


@pytest.mark.parametrize("cls", [jr.MCP, jr.SCAD])
def test_bad_alpha_and_types_raise(cls):
  with pytest.raises(ValueError, match="alpha must be >= 0"):
    cls(-0.1)
  with pytest.raises(TypeError, match="alpha"):
    cls("big")
  kw = "gamma" if cls is jr.MCP else "a"
  with pytest.raises(TypeError, match=kw):
    cls(1.0, **{kw: None})
  with pytest.raises(ValueError, match="alpha must be a scalar"):
    cls(jnp.array([1.0, 2.0]))(jnp.ones(3))


@pytest.mark.parametrize("name,c", [("MCP", 2.5), ("SCAD", 3.7)])
def test_traced_invalid_values_give_nan(name, c):
  x = jnp.array([0.5, 3.0])
  bad_c = 0.5 if name == "MCP" else 1.5
  f = jax.jit(lambda a, g: make(name, a, g).prox(x, 1.0))
  assert np.all(np.isfinite(f(1.0, c)))
  assert np.all(np.isnan(f(-1.0, c)))
  assert np.all(np.isnan(f(1.0, bad_c)))
  assert np.isnan(jax.jit(lambda a: make(name, a, c)(x))(-1.0))
  arg = "gamma" if name == "MCP" else "a"
  with pytest.raises(Exception, match=f"{arg} must be > "):
    jr.checked(f)(1.0, bad_c)


@pytest.mark.parametrize("name,c", [("MCP", 2.5), ("SCAD", 3.7)])
def test_mask_respected(name, c):
  params = {"w": jnp.array([0.5, -3.0]), "b": jnp.array([2.0])}
  pen = make(name, 1.0, c, mask={"w": True, "b": False})
  full = make(name, 1.0, c)
  np.testing.assert_allclose(pen(params), full(params["w"]))
  g = pen.grad(params)
  np.testing.assert_array_equal(g["b"], 0.0)
  np.testing.assert_allclose(g["w"], full.grad(params["w"]))
  p = pen.prox(params, 1.0)
  np.testing.assert_array_equal(p["b"], params["b"])
  np.testing.assert_allclose(p["w"], full.prox(params["w"], 1.0))


@pytest.mark.parametrize("name,alpha,c", CASES)
def test_float32_matches_float64(name, alpha, c):
  x32 = jnp.asarray(np.linspace(-6, 6, 49), jnp.float32)
  pen = make(name, alpha, c)
  v, g = pen(x32), pen.grad(x32)
  assert v.dtype == g.dtype == jnp.float32
  with jax.enable_x64(True):
    x64 = jnp.asarray(np.asarray(x32), jnp.float64)
    v64 = pen(x64)
    g64 = pen.grad(x64)
  np.testing.assert_allclose(v, v64, rtol=1e-5)
  np.testing.assert_allclose(g, g64, atol=1e-5)
  for s in _steps(name, c):
    z = pen.prox(x32, s)
    assert z.dtype == jnp.float32
    assert np.all(np.isfinite(z))
    for xi, zi in zip(np.asarray(x32, np.float64), np.asarray(z, np.float64)):
      _, fb, f = brute_prox(name, xi, alpha, c, s)
      assert f(zi) <= fb + 1e-5 * (1 + abs(fb)), (name, s, xi, zi)


def test_half_precision():
  x = jnp.array([0.5, 2.0, 6.0], jnp.bfloat16)
  for pen in (jr.MCP(1.0), jr.SCAD(1.0)):
    assert pen(x).dtype == jnp.bfloat16
    assert pen.prox(x, 1.0).dtype == jnp.bfloat16
    assert pen.grad(x).dtype == jnp.bfloat16
