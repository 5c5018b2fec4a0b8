"""The linear-model view of penalties (``coordinates``), ``Box`` / ``NonNegative``
and ``GroupLasso(groups=...)``, against oracles written independently here:
scipy's scalar and vector minimisers, brute-force grids, and the published
formulas (Zhang 2010's MCP, Fan & Li 2001's SCAD, the group lasso)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

import jaxreg as jr
from jaxreg.penalties import Coordinates, coordinates


# The methods compiled once per penalty structure (eager dispatch would compile
# every primitive separately, which dominates the run time).
_value = jax.jit(lambda c, W: c.value(W))
_prox = jax.jit(lambda c, W, s: c.prox(W, s))
_bprox = jax.jit(lambda c, x, s, b: c.block_prox(x, s, b))
_viol_jit = jax.jit(lambda c, x, g, b, L: c.block_violation(x, g, b, L))
_amax = jax.jit(lambda c, g, b: c.block_alpha_max(g, b))


def _viol(c, x, g, b, L=1.0):
  return _viol_jit(c, x, g, b, L)


# --- independent scalar penalty formulas ------------------------------------

def _mcp(t, a, g):
  t = abs(t)
  return a * t - t * t / (2 * g) if t <= g * a else g * a * a / 2


def _scad(t, lam, a):
  t = abs(t)
  if t <= lam:
    return lam * t
  if t <= a * lam:
    return (2 * a * lam * t - t * t - lam * lam) / (2 * (a - 1))
  return (a + 1) * lam * lam / 2


SCALAR = {
    "L1": (lambda: jr.L1(0.7), lambda z: 0.7 * abs(z), True),
    "L2": (lambda: jr.L2(0.7), lambda z: 0.35 * z * z, True),
    "ElasticNet": (lambda: jr.ElasticNet(0.7, 0.4), lambda z: 0.28 * abs(z) + 0.21 * z * z, True),
    "Lp0.5": (lambda: jr.Lp(0.7, 0.5), lambda z: 1.4 * abs(z) ** 0.5, False),
    "Lp1.5": (lambda: jr.Lp(0.7, 1.5), lambda z: 0.7 / 1.5 * abs(z) ** 1.5, True),
    "MCP": (lambda: jr.MCP(0.7, 2.5), lambda z: _mcp(z, 0.7, 2.5), False),
    "SCAD": (lambda: jr.SCAD(0.7, 3.7), lambda z: _scad(z, 0.7, 3.7), False),
}


def _global_min(h, lo=-8.0, hi=8.0):
  """Brute-force global minimiser of a scalar function on [lo, hi]: a grid, then
  a bounded local refinement around the best grid points (and 0 itself)."""
  grid = np.linspace(lo, hi, 1601)
  vals = np.array([h(z) for z in grid])
  best_z, best_h = 0.0 if lo <= 0 <= hi else lo, h(0.0 if lo <= 0 <= hi else lo)
  for k in np.argsort(vals)[:2]:
    a, b = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    r = optimize.minimize_scalar(h, bounds=(a, b), method="bounded", options={"xatol": 1e-12})
    for z in (r.x, grid[k]):
      if h(z) < best_h:
        best_z, best_h = z, h(z)
  for z in (lo, hi):
    if h(z) < best_h:
      best_z, best_h = z, h(z)
  return best_z, best_h


@pytest.mark.parametrize("name", sorted(SCALAR))
def test_block_prox_is_the_global_minimiser(name, x64):
  make, formula, _ = SCALAR[name]
  pen = make()
  c = coordinates(pen, 3)
  for x0 in (-2.3, -0.4, 0.0, 1.1, 3.5):
    for s in (0.5, 3.0):
      z = float(_bprox(c, jnp.array([[x0]]), s, 1)[0, 0])
      # The penalty's own value and the hand formula agree, and are the oracle's objective.
      assert float(pen(jnp.array([z]))) == pytest.approx(formula(z), abs=1e-12)
      h = lambda t: 0.5 * (t - x0) ** 2 + s * formula(t)
      _, h_star = _global_min(h)
      assert h(z) <= h_star + 1e-9, (x0, s, z)


def test_l1_weights_and_mask_unpenalize_rows(x64):
  w = jnp.array([1.0, 0.0, 2.0, 1.0])
  pen = jr.L1(0.5, weights=w, mask=np.array([True, True, True, False]))
  c = coordinates(pen, 4)
  W = jnp.array([[1.0], [1.0], [3.0], [1.0]])
  np.testing.assert_allclose(_prox(c, W, 1.0)[:, 0], [0.5, 1.0, 2.0, 1.0])
  assert float(_value(c, W)) == pytest.approx(0.5 * 1 + 0.5 * 2 * 3)
  # Unpenalized rows: violation |g|, α_max 0.
  g = jnp.array([[0.3]])
  assert float(_viol(c, jnp.zeros((1, 1)), g, 1)) == pytest.approx(0.3)
  assert float(_viol(c, jnp.zeros((1, 1)), g, 3)) == pytest.approx(0.3)
  assert float(_amax(c, g, 1)) == 0.0
  assert float(_amax(c, g, 2)) == pytest.approx(0.15)


def test_callable_mask_on_rows(x64):
  pen = jr.L2(1.0, mask=lambda W: np.arange(W.shape[0]) < 2)
  c = coordinates(pen, 3)
  np.testing.assert_allclose(_prox(c, jnp.ones((3, 1)), 1.0)[:, 0], [0.5, 0.5, 1.0])


# --- group lasso --------------------------------------------------------------

def _bst(x, t):
  n = np.linalg.norm(x)
  return np.zeros_like(x) if n <= t else (1 - t / n) * x


@pytest.mark.parametrize("spec", ["groups", "ids", "axis1", "whole"])
def test_group_prox_value_against_closed_form_and_scipy(spec, x64):
  rng = np.random.default_rng(0)
  p, T, alpha, s = 5, 2, 0.6, 1.3
  W = rng.normal(size=(p, T))
  if spec == "groups":
    pen, groups = jr.GroupLasso(alpha, groups=[[0, 3], [1, 2]]), [[0, 3], [1, 2]]
  elif spec == "ids":
    pen, groups = jr.GroupLasso(alpha, groups=np.array([0, 1, 1, 0, -1])), [[0, 3], [1, 2]]
  elif spec == "axis1":
    pen, groups = jr.GroupLasso(alpha, axis=1), [[i] for i in range(p)]
  else:
    pen, groups = jr.GroupLasso(alpha), [list(range(p))]
  c = coordinates(pen, p, T)
  assert not c.separable and c.convex
  expect = W.copy()
  value = 0.0
  for g in groups:
    t = s * alpha * np.sqrt(len(g) * T)
    expect[g] = _bst(W[g], t)
    value += alpha * np.sqrt(len(g) * T) * np.linalg.norm(W[g])
  np.testing.assert_allclose(_prox(c, jnp.asarray(W), s), expect, atol=1e-12)
  assert float(_value(c, jnp.asarray(W))) == pytest.approx(value, rel=1e-12)
  if spec != "axis1" and spec != "whole":
    # The pytree penalty agrees with the solver view on the same matrix.
    assert float(pen(jnp.asarray(W))) == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(pen.prox(jnp.asarray(W), s), expect, atol=1e-12)
  # Each block's prox minimises the block objective (scipy, from the closed form and from 0).
  blocks = c.blocks
  for b in range(c.n_blocks):
    rows = [r for r in blocks[b] if r < p]
    x = W[rows]
    wt = alpha * np.sqrt(len(rows) * T) if any(set(rows) <= set(g) for g in groups) else 0.0
    obj = lambda z: 0.5 * np.sum((z - x.ravel()) ** 2) + s * wt * np.linalg.norm(z)
    xb = np.vstack([x, np.zeros((blocks.shape[1] - len(rows), T))])
    z = np.asarray(_bprox(c, jnp.asarray(xb), s, b))[:len(rows)]
    best = min(optimize.minimize(obj, z0, method="Powell", options={"xtol": 1e-10, "ftol": 1e-14}).fun
               for z0 in (x.ravel(), np.zeros(x.size) + 1e-3))
    assert obj(z.ravel()) <= best + 1e-9


def test_group_violation_and_alpha_max(x64):
  pen = jr.GroupLasso(1.0, groups=[[0, 1]])
  c = coordinates(pen, 3, 1)
  w = np.sqrt(2)
  g = jnp.array([[0.3], [0.4]])
  # At 0: max(‖g‖ − α√|g|, 0).
  assert float(_viol(c, jnp.zeros((2, 1)), g, 0)) == pytest.approx(max(0.5 - w, 0))
  big = 3 * g
  assert float(_viol(c, jnp.zeros((2, 1)), big, 0)) == pytest.approx(1.5 - w)
  # Off 0: ‖g + α√|g| x/‖x‖‖; zero when g = −α√|g| x/‖x‖.
  x = jnp.array([[1.0], [2.0]])
  g_opt = -w * x / jnp.linalg.norm(x)
  assert float(_viol(c, x, g_opt, 0)) == pytest.approx(0.0, abs=1e-12)
  assert float(_viol(c, x, g_opt + 0.1, 0)) > 0.05
  assert float(_amax(c, big, 0)) == pytest.approx(1.5 / w)
  # Row 2 is in no group: unpenalized.
  assert float(_amax(c, jnp.array([[5.0], [0.0]]), 1)) == 0.0
  assert c.blocks.tolist() == [[0, 1], [2, 3]]


# --- Box / NonNegative ------------------------------------------------------

BOXES = {
    "nonneg": (lambda: jr.NonNegative(), lambda z: 0.0, 0.0, np.inf),
    "nonneg_l1": (lambda: jr.NonNegative(jr.L1(0.7)), lambda z: 0.7 * abs(z), 0.0, np.inf),
    "box_enet": (lambda: jr.Box(-1.0, 2.0, jr.ElasticNet(0.7, 0.4)),
                 lambda z: 0.28 * abs(z) + 0.21 * z * z, -1.0, 2.0),
    "box_mcp": (lambda: jr.Box(-1.0, 2.5, jr.MCP(0.7, 1.2)), lambda z: _mcp(z, 0.7, 1.2), -1.0, 2.5),
    "box_scad": (lambda: jr.Box(-3.0, 1.0, jr.SCAD(0.7, 2.2)),
                 lambda z: _scad(z, 0.7, 2.2), -3.0, 1.0),
    "box_lp": (lambda: jr.Box(-0.5, 3.0, jr.Lp(0.7, 0.5)), lambda z: 1.4 * abs(z) ** 0.5, -0.5, 3.0),
    "box_above_zero": (lambda: jr.Box(0.5, 3.0, jr.MCP(0.7, 1.5)), lambda z: _mcp(z, 0.7, 1.5), 0.5, 3.0),
}


@pytest.mark.parametrize("name", sorted(BOXES))
def test_box_prox_against_bounded_minimisation(name, x64):
  make, formula, lo, hi = BOXES[name]
  pen = make()
  c = coordinates(pen, 2)
  for x0 in (-4.0, -0.6, 0.4, 1.3, 2.2, 5.0):
    for s in (0.5, 2.0):
      z_tree = float(pen.prox(jnp.array([x0]), s)[0])
      z = float(_bprox(c, jnp.array([[x0]]), s, 0)[0, 0])
      assert z == pytest.approx(z_tree, abs=1e-12)
      assert lo <= z <= hi
      h = lambda t: 0.5 * (t - x0) ** 2 + s * formula(t)
      _, h_star = _global_min(h, lo, min(hi, 10.0))
      assert h(z) <= h_star + 1e-9, (x0, s, z)


def test_box_value_grad_alpha_and_replace(x64):
  pen = jr.NonNegative(jr.L1(0.5))
  assert float(pen(jnp.array([1.0, 2.0]))) == pytest.approx(1.5)
  assert float(pen(jnp.array([-1.0, 2.0]))) == np.inf
  np.testing.assert_allclose(pen.grad(jnp.array([1.0, 2.0])), [0.5, 0.5])
  assert float(pen.alpha) == 0.5
  assert float(pen.replace(alpha=2.0).penalty.alpha) == 2.0
  assert float(pen.replace(alpha=2.0).lower) == 0.0
  assert float(jr.Box(-1.0, 1.0).replace(alpha=3.0).alpha) == 0.0
  c = coordinates(pen, 2)
  assert float(_value(c, jnp.array([[1.0], [2.0]]))) == pytest.approx(1.5)
  assert float(_value(c, jnp.array([[-1.0], [2.0]]))) == np.inf
  # vmap over α through the Box.
  out = jax.vmap(lambda a: coordinates(pen.replace(alpha=a), 2).value(jnp.ones((2, 1))))(
      jnp.array([1.0, 2.0]))
  np.testing.assert_allclose(out, [2.0, 4.0])


def test_box_violation_respects_bounds(x64):
  c = coordinates(jr.NonNegative(jr.L1(1.0)), 1)
  zero = jnp.zeros((1, 1))
  # At the bound 0, −g pointing out of the box (g > 0) is optimal.
  assert float(_viol(c, zero, jnp.array([[5.0]]), 0)) == 0.0
  # −g pointing in: violation max(−g − α, 0).
  assert float(_viol(c, zero, jnp.array([[-3.0]]), 0)) == pytest.approx(2.0)
  assert float(_viol(c, zero, jnp.array([[-0.5]]), 0)) == 0.0
  # Interior: the L1 residual.
  assert float(_viol(c, jnp.array([[2.0]]), jnp.array([[-1.0]]), 0)) == 0.0
  assert float(_amax(c, jnp.array([[5.0]]), 0)) == 0.0
  assert float(_amax(c, jnp.array([[-5.0]]), 0)) == pytest.approx(5.0)
  cb = coordinates(jr.Box(-1.0, 1.0), 1)
  assert float(_viol(cb, jnp.array([[1.0]]), jnp.array([[-2.0]]), 0)) == 0.0
  assert float(_viol(cb, jnp.array([[1.0]]), jnp.array([[2.0]]), 0)) == pytest.approx(2.0)


# --- violations ----------------------------------------------------------------

def _num_deriv(f, z, h=1e-6):
  return (f(z + h) - f(z - h)) / (2 * h)


@pytest.mark.parametrize("name", sorted(SCALAR))
def test_violation_zero_at_stationary_points(name, x64):
  make, formula, convex = SCALAR[name]
  c = coordinates(make(), 2)
  for x0 in (-1.7, 0.35, 2.9):
    g = -_num_deriv(formula, x0)
    # For p < 1 the test uses the prox-gradient mapping: x must be a fixed point of
    # the step, which holds for a Lipschitz constant above the penalty's curvature.
    L = 10.0 if name == "Lp0.5" else 1.0
    v = float(_viol(c, jnp.array([[x0]]), jnp.array([[g]]), 0, L))
    assert v == pytest.approx(0.0, abs=1e-6), (x0, v)
    v_off = float(_viol(c, jnp.array([[x0]]), jnp.array([[g + 0.2]]), 0, L))
    assert v_off > 1e-3
  if name == "Lp0.5":
    return
  # At 0 with |g| inside the subdifferential (α = 0.7 for the L1-like ones): 0.
  d0 = 0.7 * (0.4 if name == "ElasticNet" else 1.0)
  if name in ("L2", "Lp1.5"):
    d0 = 0.0
  assert float(_viol(c, jnp.zeros((1, 1)), jnp.array([[0.9 * d0]]), 0)) == pytest.approx(0.0)
  if convex:
    # The distance from −g to the subdifferential at 0, by brute force over subgradients.
    for g in (-2.0, -0.3, 0.5, 1.5):
      subs = np.linspace(-d0, d0, 20001) if d0 > 0 else np.array([0.0])
      brute = np.min(np.abs(-g - subs))
      got = float(_viol(c, jnp.zeros((1, 1)), jnp.array([[g]]), 0))
      assert got == pytest.approx(brute, abs=1e-4)


def test_lp_below_one_violation_is_prox_gradient_mapping(x64):
  c = coordinates(jr.Lp(0.5, 0.5), 1)
  x, g, L = jnp.array([[0.8]]), jnp.array([[0.1]]), 2.0
  z = _bprox(c, x - g / L, 1 / L, 0)
  assert float(_viol(c, x, g, 0, L)) == pytest.approx(L * abs(float(x[0, 0] - z[0, 0])))
  # 0 is a fixed point for small g.
  assert float(_viol(c, jnp.zeros((1, 1)), g, 0, L)) == 0.0


def test_multi_output_separable_violation_is_row_norm(x64):
  c = coordinates(jr.L1(1.0), 2, 3)
  g = jnp.array([[2.0, -0.5, -3.0]])
  # At 0: entries' excesses 1, 0, 2 → norm √5.
  assert float(_viol(c, jnp.zeros((1, 3)), g, 0)) == pytest.approx(np.sqrt(5))
  assert float(_amax(c, g, 0)) == pytest.approx(3.0)


# --- values against published formulas ---------------------------------------

def test_values_against_hand_formulas(x64):
  rng = np.random.default_rng(1)
  W = rng.normal(scale=2.0, size=(6, 2))
  for pen, f in [(jr.MCP(0.8, 2.0), lambda t: _mcp(t, 0.8, 2.0)),
                 (jr.SCAD(0.8, 3.0), lambda t: _scad(t, 0.8, 3.0)),
                 (jr.Lp(0.8, 0.7), lambda t: 0.8 / 0.7 * abs(t) ** 0.7),
                 (jr.ElasticNet(0.8, 0.3), lambda t: 0.24 * abs(t) + 0.28 * t * t)]:
    c = coordinates(pen, 6, 2)
    expect = sum(f(t) for t in W.ravel())
    assert float(_value(c, jnp.asarray(W))) == pytest.approx(expect, rel=1e-12)
    assert float(pen(jnp.asarray(W))) == pytest.approx(expect, rel=1e-12)
  # skglm's WeightedGroupLasso with weights √|g| on the multitask matrix (axis=1).
  c = coordinates(jr.GroupLasso(0.8, axis=1), 6, 2)
  expect = 0.8 * np.sqrt(2) * np.linalg.norm(W, axis=1).sum()
  assert float(_value(c, jnp.asarray(W))) == pytest.approx(expect, rel=1e-12)
  assert float(jr.GroupLasso(0.8, axis=1)(jnp.asarray(W))) == pytest.approx(expect, rel=1e-12)


# --- α_max -------------------------------------------------------------------------

ALPHA_MAX = [
    ("L1", lambda a: jr.L1(a, weights=jnp.array([0.5, 1.0, 2.0]))),
    ("ElasticNet", lambda a: jr.ElasticNet(a, 0.4)),
    ("MCP", lambda a: jr.MCP(a, 3.0)),
    ("SCAD", lambda a: jr.SCAD(a, 3.7)),
    ("Lp1", lambda a: jr.Lp(a, 1.0)),
    ("NonNegative", lambda a: jr.NonNegative(jr.L1(a))),
    ("Box", lambda a: jr.Box(-2.0, 1.0, jr.L1(a))),
    ("group", lambda a: jr.GroupLasso(a, groups=[[0, 2], [1]])),
    ("multitask", lambda a: jr.GroupLasso(a, axis=1)),
]


@pytest.mark.parametrize("name,make", ALPHA_MAX, ids=[n for n, _ in ALPHA_MAX])
def test_alpha_max_is_the_threshold_of_the_prox_gradient_step(name, make, x64):
  rng = np.random.default_rng(2)
  T = 2 if name == "multitask" else 1
  G = rng.normal(size=(3, T))
  L = 1.7
  base = coordinates(make(1.0), 3, T)
  for b in range(base.n_blocks):
    rows = base.blocks[b]
    Gp = np.vstack([G, np.zeros((1, T))])
    g = jnp.asarray(Gp[rows])
    amax = float(_amax(base, g, b))
    if amax == 0:  # a gradient pointing out of the nonnegative orthant: 0 is always optimal.
      assert name == "NonNegative" and float(g[0, 0]) > 0
      continue
    for factor, zero in ((1.001, True), (0.999, False)):
      c = coordinates(make(factor * amax), 3, T)
      z = _bprox(c, -g / L, 1 / L, b)
      assert bool(jnp.all(z == 0)) == zero, (b, factor)
  if name == "NonNegative":
    # A positive gradient keeps 0 optimal at every α: α_max 0.
    assert float(_amax(base, jnp.array([[1.0]]), 0)) == 0.0


def test_alpha_max_special_cases(x64):
  assert float(coordinates(jr.ElasticNet(1.0, 0.0), 1).block_alpha_max(jnp.array([[1.0]]), 0)) == np.inf
  assert float(coordinates(jr.L2(1.0), 1).block_alpha_max(jnp.array([[-2.0]]), 0)) == 2.0
  assert float(coordinates(jr.Lp(1.0, 0.5), 1).block_alpha_max(jnp.array([[-2.0]]), 0)) == 2.0


# --- pytree behaviour: vmap, recompilation, dtypes --------------------------------

PENS = [lambda a: jr.L1(a), lambda a: jr.L2(a), lambda a: jr.ElasticNet(a, 0.5),
        lambda a: jr.Lp(a, 0.5), lambda a: jr.MCP(a), lambda a: jr.SCAD(a),
        lambda a: jr.NonNegative(jr.L1(a)), lambda a: jr.GroupLasso(a, groups=[[0, 1]]),
        lambda a: jr.GroupLasso(a, axis=1)]


@pytest.mark.parametrize("k", range(len(PENS)))
def test_vmap_over_alpha_and_no_recompile(k):
  make = PENS[k]
  W = jnp.array([[1.0, -2.0], [0.5, 0.0], [3.0, 1.0]])
  alphas = jnp.array([0.1, 0.5, 1.0])
  got = jax.vmap(lambda a: coordinates(make(1.0).replace(alpha=a), 3, 2).value(W))(alphas)
  expect = [float(_value(coordinates(make(float(a)), 3, 2), W)) for a in alphas]
  np.testing.assert_allclose(got, expect, rtol=1e-6)
  traces = []

  @jax.jit
  def step(c, W):
    traces.append(1)
    return c.prox(W, 0.5), c.block_violation(W[:1], W[:1], 0), c.block_alpha_max(W[:1], 0)

  for a in (0.1, 0.2, 0.3):
    step(coordinates(make(a), 3, 2), W)
  assert len(traces) == 1
  assert isinstance(coordinates(make(0.1), 3, 2), Coordinates)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_dtypes_are_kept(dtype, x64):
  W = jnp.ones((3, 2), dtype)

  @jax.jit
  def all_methods(c, W):
    x = W[:c.blocks.shape[1]]
    return (c.prox(W, 0.5), c.value(W), c.block_prox(x, 0.5, 0), c.block_violation(x, x, 0),
            c.block_alpha_max(x, 0))

  for k in (0, 4, 6, 7):
    for out in all_methods(coordinates(PENS[k](0.3), 3, 2), W):
      assert out.dtype == dtype


# --- errors naming the argument ---------------------------------------------------

def test_bad_inputs_raise_naming_the_argument():
  with pytest.raises(ValueError, match="weights"):
    coordinates(jr.L1(1.0, weights=jnp.ones(4)), 3)
  with pytest.raises(ValueError, match="mask"):
    coordinates(jr.L1(1.0, mask=np.array([True, False])), 3)
  with pytest.raises(ValueError, match="groups"):
    coordinates(jr.GroupLasso(1.0, groups=[[0, 5]]), 3)
  with pytest.raises(TypeError, match="penalty"):
    coordinates(jr.L1Ball(1.0), 3)
  with pytest.raises(ValueError, match="alpha"):
    coordinates(jr.L1(jnp.array([1.0, 2.0])), 3)
  with pytest.raises(ValueError, match="axis"):
    coordinates(jr.GroupLasso(1.0, axis=0), 3, 2)
  with pytest.raises(ValueError, match="n_features"):
    coordinates(jr.L1(1.0), 0)
  with pytest.raises(TypeError, match="penalty"):
    jr.Box(0.0, 1.0, jr.GroupLasso(1.0))
  with pytest.raises(TypeError, match="penalty"):
    jr.Box(0.0, 1.0, jr.NonNegative())
  with pytest.raises(ValueError, match="lower"):
    jr.Box(2.0, 1.0)
  with pytest.raises(ValueError, match="upper"):
    jr.Box(0.0, np.array([1.0, 2.0]))


def test_bad_groups_raise_naming_groups_and_leaf():
  with pytest.raises(ValueError, match="axis or groups"):
    jr.GroupLasso(1.0, axis=1, groups=[[0]])
  with pytest.raises(ValueError, match="groups"):
    jr.GroupLasso(1.0, groups=[[0, 1], [1, 2]])
  with pytest.raises(ValueError, match="groups"):
    jr.GroupLasso(1.0, groups=[[0], []])
  with pytest.raises(ValueError, match=r"groups.*params\['w'\]"):
    jr.GroupLasso(1.0, groups=[[0, 7]])({"w": jnp.ones((3, 2))})
  pen = jr.GroupLasso(1.0, groups=[[0, 1]])
  assert hash(pen.groups) == hash(((0, 1),))
  # Group sizes count entries: rows × trailing size.
  x = jnp.array([[3.0, 0.0], [0.0, 4.0], [1.0, 1.0]])
  assert float(pen(x)) == pytest.approx(2.0 * 5.0, rel=1e-6)
  np.testing.assert_allclose(pen.grad(x)[2], [0.0, 0.0])


def test_entry_value_is_the_per_entry_penalty(x64):
  # Rows picked out of order, with padding (index p), against the hand formulas.
  rng = np.random.default_rng(2)
  x = rng.normal(scale=2.0, size=(5, 2))
  rows = jnp.array([4, 0, 6, 2, 6])  # p = 6 marks padding
  ev = jax.jit(lambda c, x, r: c.entry_value(x, r))
  w = jnp.array([1.0, 0.5, 2.0, 0.0, 3.0, 1.0])
  for name, (make, f, _) in SCALAR.items():
    out = np.asarray(ev(coordinates(make(), 6, 2), jnp.asarray(x), rows))
    expect = np.array([[f(t) if r < 6 else 0.0 for t in xr] for xr, r in zip(x, rows)])
    np.testing.assert_allclose(out, expect, rtol=1e-12, err_msg=name)
  # Weights (0 = unpenalized) follow the rows.
  out = np.asarray(ev(coordinates(jr.L1(0.7, weights=w), 6, 2), jnp.asarray(x), rows))
  wr = np.array([3.0, 1.0, 0.0, 2.0, 0.0])
  np.testing.assert_allclose(out, 0.7 * wr[:, None] * np.abs(x), rtol=1e-12)
