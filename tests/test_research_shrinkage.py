"""Hessian shrinkage experiments: the closed forms hold, and a wrong prediction fails."""

import jax
import numpy as np
import pytest

from research import shrinkage, workbench


@pytest.fixture(scope="module")
def small():
  workbench.set_quiet(True)
  yield shrinkage.run(seed=0, small=True)
  workbench.set_quiet(False)


def test_every_claim_passes_on_small_problems(small):
  for v in small.verdicts:
    assert v.passed, (v.claim, v.error, v.tolerance, v.detail)
  assert len(small.verdicts) == 9
  assert [f.name for f in small.figures] == [
      "shrinkage_l2.png", "shrinkage_l1.png", "shrinkage_l1_breaks.png", "shrinkage_network.png"]
  assert all(f.stat().st_size > 0 for f in small.figures)


def test_l2_minimum_solves_the_normal_equations(small):
  """Independent of the eigen-decomposition: (H + αI) ŵ = H w*."""
  d = small.data
  for H, w_star, measured in zip(d["l2_hessians"], d["l2_w_stars"], d["l2_measured"]):
    for a, w in zip(d["l2_alphas"], measured):
      expected = np.linalg.solve(H + a * np.eye(len(H)), H @ w_star)
      np.testing.assert_allclose(w, expected, rtol=1e-6, atol=1e-9)


def test_predictions_match_brute_force():
  with jax.enable_x64(True):
    rng = np.random.default_rng(1)
    A = rng.standard_normal((5, 5))
    H, w_star = A @ A.T + 0.1 * np.eye(5), rng.standard_normal(5)
    np.testing.assert_allclose(shrinkage.predict_l2(H, w_star, 0.7),
                               np.linalg.solve(H + 0.7 * np.eye(5), H @ w_star), rtol=1e-10)
    # Scalar problem ½h(w − w*)² + α|w| minimised on a fine grid.
    grid = np.linspace(-4, 4, 800001)
    for h, ws, a in [(2.0, 1.5, 1.0), (0.5, -1.0, 1.0), (3.0, -2.0, 0.3)]:
      brute = grid[np.argmin(0.5 * h * (grid - ws) ** 2 + a * np.abs(grid))]
      pred = float(shrinkage.predict_l1_diagonal(np.array(h), np.array(ws), a))
      assert abs(pred - brute) < 1e-4


def test_l1_zeros_are_exact_and_the_diagonal_formula_breaks_with_correlation(small):
  d = small.data
  np.testing.assert_array_equal(d["l1_ls_measured"] == 0, d["l1_ls_predicted"] == 0)
  assert np.any(d["l1_ls_measured"] == 0) and np.any(d["l1_ls_measured"] != 0)
  err = d["breaks_error"].mean(axis=1)
  assert err[0] == 0 and err[-1] > 0.05  # exact at ρ = 0, measurably wrong at ρ = 0.9.
  assert d["breaks_residual"].max() < 1e-8  # the lasso itself converged.


def test_network_minimum_and_spectrum(small):
  d = small.data
  assert d["net_negative"] == 0
  assert d["net_eigenvalues"].min() > 0  # H = data Hessian + α₀I is positive definite at w*.
  assert d["net_grad_norm"].max() < 1e-9
  assert d["net_unregularized_norm"] > 10 * np.linalg.norm(d["net_w_star"])
  assert abs(d["net_slope"] - 1.0) < shrinkage.SLOPE_TOL


def test_a_wrong_prediction_fails(small):
  """α scaled by 1.25 in the predictions: every closed-form claim must FAIL."""
  workbench.set_quiet(True)
  wrong = shrinkage.run(seed=0, small=True, alpha_scale=1.25)
  failed = {v.claim for v in wrong.verdicts if not v.passed}
  for prefix in ("L2 on random SPD", "L2 on least squares", "L1 on diagonal quadratics: ŵ",
                 "L1 on least squares with whitened features: soft",
                 "L1, equicorrelated H at ρ = 0", "tanh MLP: the quadratic-model"):
    assert any(c.startswith(prefix) for c in failed), prefix
  assert not wrong.passed
  # The measurements are the same; only the predictions moved.
  np.testing.assert_allclose(wrong.data["l2_measured"], small.data["l2_measured"])


def test_unknown_part_is_rejected():
  with pytest.raises(ValueError, match="unknown parts"):
    shrinkage.run(parts=("l3",))
