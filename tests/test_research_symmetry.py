"""Tests for research.symmetry: rescaling invariance, L2 balance and noise amplification."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxreg as jr
from research import symmetry


@pytest.fixture(scope="module")
def result(tmp_path_factory):
  return symmetry.run(seed=0, out_dir=tmp_path_factory.mktemp("sym"), **symmetry.TEST_SETTINGS)


def test_unplanted_run_passes_every_verdict(result):
  assert result.name == "symmetry" and result.plant is None
  assert result.passed, [(v.key, v.comparison) for v in result.verdicts if not v.passed]
  assert {v.key for v in result.verdicts} == {
      "relu_output_invariant", "loss_flat_along_rescaling", "l2_balances_units",
      "noise_amplification_invariant"}
  assert len(result.figures) == 1 and result.figures[0].exists()


def test_every_unit_is_judged_and_l2_balances_the_live_ones(result):
  ratio = result.data["balance_ratio"]
  assert ratio.size == sum(symmetry.TEST_SETTINGS["hidden"])
  assert np.all(np.isfinite(ratio)) and ratio.max() <= 1.0
  live = ~result.data["dead_l2"]
  assert live.sum() >= 4
  # Without the penalty the log ratios stay spread out.
  assert result.data["std_log_ratio_no_l2"] > 0.2
  assert np.nanmax(np.abs(result.data["log_ratio_l2"][live])) < 0.1


def test_rescaling_changes_the_norm_but_not_the_noise_amplification(result):
  norms = result.data["sq_norms"]
  assert norms["big"] > 10 * norms["no"]
  assert norms["bal"] <= norms["no"] * (1 + 1e-9)


def test_one_unit_optimal_rescaling():
  # (α/2)(c²a² + b²/c²) is smallest at c² = b/a, where it equals α·a·b.
  a, b, alpha = 0.5, 2.0, 0.3
  c = np.linspace(0.2, 5.0, 200001)
  f = 0.5 * alpha * (c ** 2 * a ** 2 + b ** 2 / c ** 2)
  np.testing.assert_allclose(c[np.argmin(f)] ** 2, b / a, rtol=1e-4)
  np.testing.assert_allclose(f.min(), alpha * a * b, rtol=1e-8)


def test_rescale_moves_penalty_but_not_output(x64):
  model = symmetry.MLP((3,))
  X = jax.random.normal(jax.random.PRNGKey(0), (5, 2))
  p = model.init(jax.random.PRNGKey(1), X)
  c = jnp.array([2.0, 0.5, 3.0])
  q = symmetry.rescale(p, [c])
  np.testing.assert_allclose(model.apply(q, X), model.apply(p, X), rtol=1e-13, atol=1e-14)
  pen = jr.L2(1.0, mask=jr.masks.weights_only)
  # The penalty's change, against the closed form (α/2)Σ((c²−1)a² + (c⁻²−1)b²).
  a, b = symmetry.unit_norms(p)
  np.testing.assert_allclose(float(pen(q) - pen(p)),
                             0.5 * float(jnp.sum((c ** 2 - 1) * a ** 2 + (c ** -2 - 1) * b ** 2)),
                             rtol=1e-12)
  k_in, k_out = symmetry.unit_norms(q)
  np.testing.assert_allclose(k_in, c * a, rtol=1e-13)
  np.testing.assert_allclose(k_out, b / c, rtol=1e-13)


def test_rescaling_directions_are_the_derivative_of_rescale(x64):
  # v_j against a central finite difference of rescale along c_j.
  model = symmetry.MLP((3, 2))
  X = jax.random.normal(jax.random.PRNGKey(0), (4, 2))
  p = model.init(jax.random.PRNGKey(2), X)
  vs = symmetry.rescaling_directions(p)
  h = 1e-6
  for u, (layer, j) in enumerate([(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]):
    def at(c):
      cs = [jnp.ones(3), jnp.ones(2)]
      cs[layer] = cs[layer].at[j].set(c)
      return symmetry.rescale(p, cs)
    fd = jax.tree_util.tree_map(lambda a, b: (a - b) / (2 * h), at(1 + h), at(1 - h))
    v = jax.tree_util.tree_map(lambda x: x[u], vs)
    for x, y in zip(jax.tree_util.tree_leaves(fd), jax.tree_util.tree_leaves(v)):
      np.testing.assert_allclose(x, y, atol=1e-8)


def test_balanced_rescaling_minimises_the_norm_over_the_orbit(x64):
  rng = np.random.default_rng(0)
  p = symmetry.init_params(rng, 3, (4, 4))
  cs, q = symmetry.balanced_rescaling(p, (4, 4))
  X = jnp.asarray(rng.normal(size=(6, 3)))
  model = symmetry.MLP((4, 4))
  np.testing.assert_allclose(model.apply(q, X), model.apply(p, X), rtol=1e-10, atol=1e-12)
  base = symmetry._sq_norm(q)
  # No random rescaling of the balanced point lowers the norm, and it is balanced.
  for _ in range(20):
    c = [np.exp(rng.normal(0, 0.3, 4)) for _ in range(2)]
    assert symmetry._sq_norm(symmetry.rescale(q, c)) >= base * (1 - 1e-9)
  a, b = symmetry.unit_norms(q)
  np.testing.assert_allclose(a, b, rtol=1e-4)


def test_noise_amplification_is_the_mean_squared_input_gradient_for_small_noise(x64):
  # For small σ, E(f(x + σε) − f(x))²/σ² → mean ‖∇ₓf‖² (a smooth tanh network, σ = 1e-4).
  rng = np.random.default_rng(1)
  p = symmetry.init_params(rng, 3, (4,))
  model = symmetry.MLP((4,), "tanh")
  X = jnp.asarray(rng.normal(size=(50, 3)))
  A, se = symmetry.noise_amplification(model, p, X, jax.random.PRNGKey(3), 1e-4, 200)
  grads = jax.vmap(jax.grad(lambda x: model.apply(p, x[None])[0]))(X)
  target = float(jnp.mean(jnp.sum(grads ** 2, 1)))
  assert abs(float(A) - target) <= 5 * float(se) + 1e-3 * target


def test_window_certificate_bounds_the_balance_residual(x64):
  rng = np.random.default_rng(2)
  X, y = symmetry.make_data(rng, 32, 3, 0.1)
  model = symmetry.MLP((4,))
  p0 = symmetry.init_params(rng, 3, (4,))
  pen = jr.L2(jnp.asarray(0.05), mask=jr.masks.weights_only)
  p, resid, bound, g_bar = symmetry.train(model, p0, X, y, pen, 0.05, lr=1e-2, window=100,
                                          n_windows=6, decay=0.8)
  assert np.all(np.abs(np.asarray(resid)) <= np.asarray(bound) * (1 + 1e-9) + 1e-15)
  assert float(g_bar) < float(optax.tree.norm(jax.grad(
      lambda q: 0.5 * jnp.mean((model.apply(q, X) - y) ** 2) + pen(q))(p0)))
