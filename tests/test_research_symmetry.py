"""Tests for research.symmetry: rescaling invariance and L2 balance."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxreg as jr
from research import symmetry

TINY = dict(n_samples=64, hidden=(8, 8), steps=1500, alpha=0.03)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
  return symmetry.run(seed=0, out_dir=tmp_path_factory.mktemp("sym"), **TINY)


def test_all_claims_pass(result):
  assert result.name == "symmetry"
  assert result.passed, [(v.claim, v.error) for v in result.verdicts if not v.passed]
  assert len(result.figures) == 1 and result.figures[0].exists()


def test_balance_with_l2_spread_without(result):
  live = result.data["live_l2"]
  assert live.sum() >= 4
  assert np.max(np.abs(result.data["log_ratio_l2"][live])) <= 1e-2
  # Without the penalty the ratios stay spread out, far from the tolerance.
  assert result.data["std_log_ratio_no_l2"] > 0.2


def test_one_unit_optimal_rescaling():
  # (α/2)(c²a² + b²/c²) is smallest at c² = b/a, where it equals α·a·b.
  a, b, alpha = 0.5, 2.0, 0.3
  c = np.linspace(0.2, 5.0, 200001)
  f = 0.5 * alpha * (c ** 2 * a ** 2 + b ** 2 / c ** 2)
  np.testing.assert_allclose(c[np.argmin(f)] ** 2, b / a, rtol=1e-4)
  np.testing.assert_allclose(f.min(), alpha * a * b, rtol=1e-8)


def test_rescale_moves_penalty_but_not_output():
  with jax.enable_x64(True):
    model = symmetry.MLP((3,))
    X = jax.random.normal(jax.random.PRNGKey(0), (5, 2))
    p = model.init(jax.random.PRNGKey(1), X)
    c = jnp.array([2.0, 0.5, 3.0])
    q = symmetry.rescale(p, [c])
    np.testing.assert_allclose(model.apply(q, X), model.apply(p, X), rtol=1e-13, atol=1e-14)
    pen = jr.L2(1.0, mask=jr.masks.weights_only)
    assert abs(float(pen(q) - pen(p))) > 1e-3
    k_in, k_out = symmetry.unit_norms(q)
    np.testing.assert_allclose(k_in, c * symmetry.unit_norms(p)[0], rtol=1e-13)
    np.testing.assert_allclose(k_out, symmetry.unit_norms(p)[1] / c, rtol=1e-13)


def test_wrong_symmetry_fails(monkeypatch, tmp_path):
  # Leaving the bias unscaled is not a symmetry: the output changes.
  def rescale_kernels_only(params, cs):
    layers = [dict(l) for l in symmetry._layers(params)]
    for i, c in enumerate(cs):
      layers[i]["kernel"] = layers[i]["kernel"] * c[None, :]
      layers[i + 1]["kernel"] = layers[i + 1]["kernel"] / c[:, None]
    return {"params": {f"Dense_{i}": l for i, l in enumerate(layers)}}

  monkeypatch.setattr(symmetry, "rescale", rescale_kernels_only)
  r = symmetry.run(seed=0, out_dir=tmp_path, **dict(TINY, steps=10))
  assert not r.verdict("A ReLU MLP's output is unchanged").passed


def test_no_penalty_no_balance(tmp_path):
  r = symmetry.run(seed=0, out_dir=tmp_path, **dict(TINY, alpha=0.0))
  assert not r.verdict("After training with L2").passed
