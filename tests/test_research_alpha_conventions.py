"""Tests for research.alpha_conventions: each convention row, and mixed conventions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxreg as jr
from research import alpha_conventions, workbench


@pytest.fixture(scope="module")
def result(tmp_path_factory):
  return alpha_conventions.run(out_dir=tmp_path_factory.mktemp("conventions"),
                               **alpha_conventions.TEST_SETTINGS)


def test_result_shape(result):
  assert isinstance(result, workbench.Result)
  assert result.name == "alpha_conventions" and result.plant is None
  assert len(result.figures) == 1 and result.figures[0].exists()
  assert result.summary and len(result.tables) == 2


def test_every_verdict_passes_unplanted(result):
  failed = [(v.key, v.comparison) for v in result.verdicts if not v.passed]
  assert not failed, failed


def test_mixing_factors(result):
  n = alpha_conventions.TEST_SETTINGS["n_samples"]
  assert result.data["keras_factor"] == pytest.approx(2.0, rel=1e-10)
  assert result.data["ridge_factor"] == pytest.approx(1.0 / n, rel=1e-8)
  assert result.data["logistic_factor"] == pytest.approx(1.0 / n, rel=1e-6)


def test_tf_l2_loss_example_by_hand(x64):
  # tf.nn.l2_loss(t) = sum(t ** 2) / 2; l2_regularizer(s)(t) = s · l2_loss(t).
  pen = jr.conventions.convert(0.3, "tf1.l2_regularizer")
  assert float(pen(jnp.array([3.0, 4.0]))) == pytest.approx(0.3 * 12.5, rel=1e-14)


def test_effective_l2_reads_ridge_strength(x64):
  # w = (G + αI)⁻¹b minimises ½wᵀGw − bᵀw + (α/2)‖w‖²; ∇loss = Gw − b.
  rng = np.random.default_rng(0)
  a = rng.standard_normal((6, 3))
  g, b, alpha = a.T @ a, rng.standard_normal(3), 0.37
  w = np.linalg.solve(g + alpha * np.eye(3), b)
  assert alpha_conventions.effective_l2(g @ w - b, w) == pytest.approx(alpha, rel=1e-12)


def test_documented_objectives_differ_by_the_half(x64):
  # Keras's l2(s) penalises twice what TF1's l2_regularizer(s) does, at every w.
  xc, yc = jnp.zeros((4, 3)), jnp.zeros(4)
  w = jnp.array([1.0, -2.0, 0.5])
  tf1 = alpha_conventions._tf1_objective(w, xc, yc, 0.7)
  keras = alpha_conventions._keras_objective(w, xc, yc, 0.7)
  assert float(keras) == pytest.approx(2 * float(tf1), rel=1e-14)
  w_min = alpha_conventions._newton_minimiser(alpha_conventions._keras_objective,
                                              jnp.eye(3), jnp.ones(3), 0.7)
  assert np.allclose(jax.grad(alpha_conventions._keras_objective)(
      w_min, jnp.eye(3), jnp.ones(3), 0.7), 0.0, atol=1e-14)


def test_lasso_gap_is_zero_at_the_solution(x64):
  # X = √n·I: the lasso is soft-thresholding, w = sign(z)·max(|z| − α, 0), z = Xᵀy/n.
  n = 4
  xc = np.sqrt(n) * np.eye(n)
  yc = np.array([3.0, -1.0, 0.2, 0.0])
  z = xc.T @ yc / n
  alpha = 0.4
  w = np.sign(z) * np.maximum(np.abs(z) - alpha, 0)
  assert alpha_conventions._lasso_gap(xc, yc, w, alpha) < 1e-13
  assert alpha_conventions._lasso_gap(xc, yc, 0.9 * w, alpha) > 1e-4


def test_planted_conversion_is_only_in_its_row():
  pen = alpha_conventions.convert(10.0, "sklearn.Ridge", 100, plant="c_without_n")
  assert float(pen.alpha) == pytest.approx(0.1)
  pen = alpha_conventions.convert(10.0, "sklearn.Ridge", 100, plant="ridge_without_n")
  assert float(pen.alpha) == pytest.approx(10.0)
