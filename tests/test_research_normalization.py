"""Tests for research.normalization: L2 before a layer norm, its equilibrium norm and step."""

import numpy as np
import pytest

from research import normalization, workbench


@pytest.fixture(scope="module")
def result(tmp_path_factory):
  return normalization.run(out_dir=tmp_path_factory.mktemp("normalization"),
                           **normalization.TEST_SETTINGS)


def test_result_shape(result):
  assert isinstance(result, workbench.Result)
  assert result.name == "normalization" and result.plant is None
  assert len(result.figures) == 1 and all(p.exists() for p in result.figures)
  assert result.summary and len(result.tables) == 3
  assert {v.key for v in result.verdicts} == {
      "loss_scale_invariant", "norm_recursion_exact", "norm_equilibrium",
      "norm_scaling_exponent", "angular_step", "l2_is_a_learning_rate_schedule"}


def test_every_verdict_passes_unplanted(result):
  failed = [(v.key, v.comparison) for v in result.verdicts if not v.passed]
  assert not failed, failed


def test_summary_states_the_papers_and_the_statements(result):
  s = result.summary
  assert "van Laarhoven (2017)" in s and "Zhang, Wang, Xu & Grosse (2019)" in s
  assert "(1 − ηα)²‖W_t‖² + η²‖g_t‖²" in s and "√(2ηα)" in s
  for _, _, b, _, _ in result.data["grid"]["slopes"]:
    assert f"{b:.3f}" in s


def test_measured_equilibrium_is_close_to_the_stationary_formula(result):
  grid = result.data["grid"]
  n = len(grid["items"]) - 1                                  # the last item: the variant
  for layer in normalization.LAYERS:
    lay = grid["layers"][layer]
    rel = lay["w4"][:n] / lay["pred_exact"][:n] - 1
    assert np.all(np.abs(rel) < 0.1), rel
    # The first-order constant is low by about ηα(E‖g̃‖⁴/(E‖g̃‖²)² − ½) > 0.
    big = [i for i in range(n) if grid["items"][i][0] == max(grid["items"][j][0]
                                                              for j in range(n))]
    assert np.all(lay["pred_first"][big] < lay["pred_exact"][big])


# --- oracles independent of the module's measurement -----------------------------------------

def _np_layer_norm(z):
  z = z - z.mean(-1, keepdims=True)
  return z / np.sqrt((z * z).mean(-1, keepdims=True))


def _np_loss(w1, w2, x, y):
  h = np.maximum(_np_layer_norm(x @ w1), 0.0)
  z = normalization.TAU * _np_layer_norm(h @ w2)
  z = z - z.max(-1, keepdims=True)
  logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
  return -logp[np.arange(len(y)), y].mean()


def test_model_against_numpy_and_finite_differences(x64):
  import jax
  import jax.numpy as jnp

  rng = np.random.default_rng(0)
  x = rng.standard_normal((40, 12))
  y = rng.integers(0, 10, 40)
  p = normalization.init_params(rng, 12, 7, 10)
  w1, w2 = np.asarray(p["W1"]), np.asarray(p["W2"])
  value = float(normalization.loss(p, jnp.asarray(x), jnp.asarray(y)))
  assert value == pytest.approx(_np_loss(w1, w2, x, y), rel=1e-12)
  for c in (1e-3, 0.37, 45.0):
    assert _np_loss(c * w1, w2, x, y) == pytest.approx(value, rel=1e-12)
    assert _np_loss(w1, c * w2, x, y) == pytest.approx(value, rel=1e-12)
  # Finite differences: the slope along W is 0, along a random direction it scales as 1/c.
  h = 1e-5
  d = rng.standard_normal(w1.shape)
  along = (_np_loss(w1 * (1 + h), w2, x, y) - _np_loss(w1 * (1 - h), w2, x, y)) / (2 * h)
  assert abs(along) < 1e-8
  slope = lambda c: (_np_loss(c * w1 + h * d, w2, x, y)
                     - _np_loss(c * w1 - h * d, w2, x, y)) / (2 * h)
  assert 3.0 * slope(3.0) == pytest.approx(slope(1.0), rel=1e-6)
  # The NumPy evaluation used for held-out outputs is the same model.
  for pre in (0.0, 1.0):
    expected = np.asarray(jax.nn.softmax(normalization.logits(p, jnp.asarray(x), pre, 1e-6)))
    got = normalization.probabilities(w1, w2, x, pre, 1e-6)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-14)
  # The module's non-invariant variant really is not invariant.
  before = lambda q: float(normalization.loss(q, jnp.asarray(x), jnp.asarray(y), pre_norm=1.0))
  assert abs(before({"W1": p["W1"], "W2": 3 * p["W2"]}) - before(p)) > 1e-3


def test_stationary_formula_against_a_scalar_simulation():
  # N_{t+1} = (1 − ηα)²N_t + η²G_t/N_t with G_t i.i.d. Gamma: the norm recursion with the
  # direction's dynamics replaced by independent noise.
  rng = np.random.default_rng(1)
  for x, shape in ((0.01, 1.0), (0.1, 0.5)):
    eta, alpha = np.sqrt(x * 4.0), np.sqrt(x / 4.0)
    q = (1 - x) ** 2
    steps, chains = 20000, 64
    g = rng.gamma(shape, 1.0 / shape, (steps, chains))        # E G = 1, E G² = 1 + 1/shape
    n = np.full(chains, np.sqrt(eta / (2 * alpha)))
    n2, g4 = np.zeros(chains), np.zeros(chains)
    for t in range(steps):
      n2 += n * n
      g4 += (g[t] / n) ** 2
      n = q * n + eta ** 2 * g[t] / n
    w4 = n2.mean() / steps
    se = n2.std() / steps / np.sqrt(chains)
    pred = normalization.equilibrium_fourth_moment(eta, alpha, 1.0, g4.mean() / steps)
    assert abs(w4 - pred) < 5 * se + 1e-3 * pred
    first = normalization.equilibrium_first_order(eta, alpha, 1.0)
    if x < 0.05:
      # The expansion (ηE‖g̃‖²/(2α))[1 + ηα(E G²/(E G)² − ½)], E G²/(E G)² = 1 + 1/shape.
      expansion = first * (1 + x * ((1 + 1 / shape) - 0.5))
      assert pred == pytest.approx(expansion, rel=10 * (x * (1 + 1 / shape)) ** 2)
    else:
      assert abs(w4 - first) > 20 * se                       # first order is not enough


def test_angle_identity_in_a_vector_simulation():
  # w ← (1 − ηα)w − ηg with g a random vector orthogonal to w, of norm ‖g̃‖/‖w‖.
  rng = np.random.default_rng(2)
  eta, alpha, dim, steps = 0.3, 0.1, 20, 30000
  w = rng.standard_normal(dim)
  logsec = []
  for _ in range(steps):
    v = rng.standard_normal(dim)
    v -= (v @ w) / (w @ w) * w
    g = v / np.linalg.norm(w)
    w1 = (1 - eta * alpha) * w - eta * g
    cos2 = (w @ w1) ** 2 / ((w @ w) * (w1 @ w1))
    logsec.append(-np.log(cos2))
    w = w1
  tail = np.array(logsec[steps // 2:])
  blocks = tail.reshape(30, -1).mean(1)
  se = blocks.std(ddof=1) / np.sqrt(30)
  pred = normalization.mean_log_sec2(eta, alpha)
  assert abs(tail.mean() - pred) < 5 * se
  assert abs(tail.mean() - eta * alpha) > 20 * se            # √(ηα) would be wrong


def test_matched_step_reproduces_the_directions(x64):
  # A layer-normalized linear classifier; the two update loops written out in NumPy.
  import jax
  import jax.numpy as jnp

  rng = np.random.default_rng(3)
  x = rng.standard_normal((30, 5))
  y = rng.integers(0, 4, 30)

  def loss(w):
    z = w @ jnp.asarray(x).T
    z = (z - z.mean(0)) / jnp.sqrt(((z - z.mean(0)) ** 2).mean(0))
    return -jax.nn.log_softmax(3 * z.T)[np.arange(30), y].mean()

  grad_fn = jax.jit(jax.grad(loss))
  grad = lambda w: np.asarray(grad_fn(jnp.asarray(w.T))).T
  eta, alpha = 0.5, 0.2
  w = rng.standard_normal((5, 4))
  w -= w.mean(1, keepdims=True)
  a, b, c = w.copy(), 2.5 * w, 2.5 * w
  for _ in range(15):
    na = np.sum(a * a)
    b_step = normalization.matched_step(eta, alpha, na, np.sum(b * b))
    c_step = normalization.matched_step(eta, alpha, na, np.sum(c * c), decay_factor=False)
    a = (1 - eta * alpha) * a - eta * grad(a)
    b = b - b_step * grad(b)
    c = c - c_step * grad(c)
  unit = lambda m: m / np.linalg.norm(m)
  np.testing.assert_allclose(unit(b), unit(a), atol=1e-13)
  assert np.max(np.abs(unit(c) - unit(a))) > 1e-4


def test_wls_slope_against_numpy_polyfit():
  rng = np.random.default_rng(4)
  x = np.log([0.1, 1.0, 10.0, 100.0])
  se = np.array([0.02, 0.05, 0.01, 0.03])
  y = 0.3 + x + se * rng.standard_normal(4)
  slope, se_slope = normalization.wls_slope(x, y, se)
  coef, cov = np.polyfit(x, y, 1, w=1 / se, cov="unscaled")
  assert slope == pytest.approx(coef[0], rel=1e-12)
  assert se_slope == pytest.approx(np.sqrt(cov[0, 0]), rel=1e-12)


def test_unknown_plant_is_refused():
  with pytest.raises(ValueError, match="unknown plant"):
    normalization.run(plant="alpha_squared", **normalization.TEST_SETTINGS)
