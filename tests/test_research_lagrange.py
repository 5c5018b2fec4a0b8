"""Tests for research.lagrange: penalty = constraint, multipliers, 2-D corners."""

import jax.numpy as jnp
import numpy as np
import pytest

from research import lagrange, workbench


@pytest.fixture(scope="module")
def result(tmp_path_factory):
  return lagrange.run(out_dir=tmp_path_factory.mktemp("lagrange"), **lagrange.TEST_SETTINGS)


def test_result_shape(result):
  assert isinstance(result, workbench.Result)
  assert result.name == "lagrange" and result.plant is None
  assert len(result.figures) == 2 and all(p.exists() for p in result.figures)
  assert result.summary and result.tables


def test_every_verdict_passes_unplanted(result):
  failed = [(v.key, v.comparison) for v in result.verdicts if not v.passed]
  assert not failed, failed


def test_constrained_equals_penalized(result):
  for kind in ("L1", "L2"):
    d = result.data[kind]
    assert d["converged"]
    np.testing.assert_allclose(d["w_constrained"], d["w_penalized"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(d["multiplier"], d["alphas"], rtol=1e-6)


def test_axis_frequencies(result):
  freq = result.data["axis_frequency"]
  assert freq["L2"] == 0.0
  assert abs(freq["L1"] - freq["L1_predicted"]) <= 4 * freq["se"]


def test_multipliers_on_closed_forms(x64):
  # Ridge: w = (H + αI)⁻¹ b is the minimiser of ½wᵀHw − bᵀw + (α/2)‖w‖².
  h = jnp.array([[2.0, 0.3], [0.3, 1.0]])
  b = jnp.array([1.0, -0.5])
  alpha = 0.7
  w = jnp.linalg.solve(h + alpha * jnp.eye(2), b)
  assert float(lagrange.l2_multiplier(h @ w - b, w)) == pytest.approx(alpha, rel=1e-12)
  # Lasso with H = I: soft-thresholding; ‖∇loss‖∞ = α when some coordinate survives.
  w_star = jnp.array([2.0, 0.3, -1.0])
  alpha = 0.5
  w = jnp.sign(w_star) * jnp.maximum(jnp.abs(w_star) - alpha, 0)
  assert float(lagrange.l1_multiplier(w - w_star)) == pytest.approx(alpha, rel=1e-12)


def test_vertex_test_by_hand():
  h = np.eye(2)[None]
  # w* = (3, 0.5), C = 1: the projection of w* onto the diamond is the corner (1, 0).
  assert bool(lagrange.l1_vertex_optimal(h, np.array([[3.0, 0.5]]), np.array([1.0]))[0])
  # w* = (1, 1), C = 1: the optimum is (½, ½), not a corner.
  assert not bool(lagrange.l1_vertex_optimal(h, np.array([[1.0, 1.0]]), np.array([1.0]))[0])


def test_secular_equation_against_brute_force():
  # The minimiser on the circle ‖w‖ = C, found by scanning the angle.
  rng = np.random.default_rng(3)
  h, w_star, ratio = lagrange._random_quadratics(rng, 5)
  radius = ratio * np.linalg.norm(w_star, axis=-1)
  w = lagrange.l2_ball_solution(h, w_star, radius)
  t = np.linspace(0, 2 * np.pi, 200001)
  for i in range(5):
    pts = radius[i] * np.stack([np.cos(t), np.sin(t)], -1) - w_star[i]
    best = pts[np.argmin(np.einsum("na,ab,nb->n", pts, h[i], pts))] + w_star[i]
    np.testing.assert_allclose(w[i], best, atol=1e-4 * radius[i])


def test_distance_bound_is_exact_on_the_slowest_mode():
  # Gradient descent on ½μw² from w₀: the step is ημ·w, the distance w; q = 1 − ημ.
  lr, mu, w = 0.5, 0.2, 1.0
  step = lr * mu * w
  assert lagrange._distance_bound(step, lr, mu) == pytest.approx(w * (1 - lr * mu))


def test_unknown_plant_is_refused():
  with pytest.raises(ValueError, match="unknown plant"):
    lagrange.run(plant="alpha_typo", **lagrange.TEST_SETTINGS)
