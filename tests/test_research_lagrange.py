"""Tests for research.lagrange: penalty = constraint, multipliers, 2-D corners."""

import jax.numpy as jnp
import numpy as np
import pytest

from research import lagrange, workbench

TINY = dict(n_samples=60, n_features=5, n_alphas=4, steps=1500, n_quadratics=400,
            quad_steps=300)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
  return lagrange.run(out_dir=tmp_path_factory.mktemp("lagrange"), **TINY)


def test_result_shape(result):
  assert isinstance(result, workbench.Result)
  assert result.name == "lagrange"
  assert len(result.figures) == 2 and all(p.exists() for p in result.figures)
  assert result.summary and result.tables


def test_every_claim_passes(result):
  failed = [(v.claim, v.error, v.tolerance) for v in result.verdicts if not v.passed]
  assert not failed, failed


def test_constrained_equals_penalized(result):
  for kind in ("L1", "L2"):
    d = result.data[kind]
    np.testing.assert_allclose(d["w_constrained"], d["w_penalized"], rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(d["multiplier"], d["alphas"], rtol=1e-6)


def test_axis_frequencies(result):
  freq = result.data["axis_frequency"]
  assert freq["L2"] == 0.0
  assert freq["L1"] > 0.1
  assert freq["L1"] == pytest.approx(freq["L1_predicted"], abs=0.01)


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


def test_vertex_test_by_hand(x64):
  h = jnp.eye(2)[None]
  # w* = (3, 0.5), C = 1: the projection of w* onto the diamond is the corner (1, 0).
  assert bool(lagrange.l1_vertex_optimal(h, jnp.array([[3.0, 0.5]]), jnp.array([1.0]))[0])
  # w* = (1, 1), C = 1: the optimum is (½, ½), not a corner.
  assert not bool(lagrange.l1_vertex_optimal(h, jnp.array([[1.0, 1.0]]), jnp.array([1.0]))[0])


def test_wrong_prediction_fails(monkeypatch, tmp_path):
  true_multiplier = lagrange.l1_multiplier
  monkeypatch.setattr(lagrange, "l1_multiplier", lambda g: 1.01 * true_multiplier(g))
  result = lagrange.run(out_dir=tmp_path, **TINY)
  assert not result.verdict("L1: the Lagrange multiplier").passed
  assert result.verdict("L2: the Lagrange multiplier").passed
