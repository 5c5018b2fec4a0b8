"""Tests for research.weight_decay: SGD weight decay, Adam + L2 vs AdamW."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxreg as jr
from research import weight_decay, workbench

TINY = dict(n_train=300, hidden=16, batch_size=32, steps=300, sgd_steps=30)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
  return weight_decay.run(out_dir=tmp_path_factory.mktemp("weight_decay"), **TINY)


def test_result_shape(result):
  assert isinstance(result, workbench.Result)
  assert result.name == "weight_decay"
  assert len(result.figures) == 1 and result.figures[0].exists()
  assert result.summary and result.tables
  assert [row[0] for row in result.tables[0].rows] == ["Adam", "Adam + L2", "AdamW"]


def test_every_claim_passes(result):
  failed = [(v.claim, v.error, v.tolerance) for v in result.verdicts if not v.passed]
  assert not failed, failed


def test_adamw_decay_is_alpha(result):
  np.testing.assert_allclose(result.data["effective_decay_adamw"], 1e-2, rtol=1e-6)
  assert result.data["spearman"] < -0.8


def test_one_sgd_step_is_the_explicit_formula(x64):
  w = {"a": jnp.array([1.0, -2.0]), "b": jnp.array(0.5)}
  g = {"a": jnp.array([0.3, 0.1]), "b": jnp.array(-1.0)}
  lr, alpha = 0.1, 0.2
  tx = optax.chain(jr.add_penalty_gradient(jr.L2(alpha)), optax.sgd(lr))
  u, _ = tx.update(g, tx.init(w), w)
  new = optax.apply_updates(w, u)
  expected = weight_decay.explicit_sgd_step(w, g, lr, alpha)
  # (1 − 0.02)·1 − 0.1·0.3 = 0.95 written out by hand.
  assert float(expected["a"][0]) == pytest.approx(0.95, abs=1e-15)
  jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-15), new, expected)


def test_adam_l2_and_adamw_differ_after_one_step(x64):
  w = jnp.array([1.0, 1.0])
  g = jnp.array([10.0, 1e-3])  # one large-gradient and one small-gradient parameter
  lr, alpha = 1e-3, 0.1
  coupled = optax.chain(jr.add_penalty_gradient(jr.L2(alpha)), optax.adam(lr))
  decoupled = optax.chain(optax.scale_by_adam(), jr.add_penalty_gradient(jr.L2(alpha)),
                          optax.scale_by_learning_rate(lr))
  u_c, _ = coupled.update(g, coupled.init(w), w)
  u_d, _ = decoupled.update(g, decoupled.init(w), w)
  u_ref, _ = optax.adamw(lr, weight_decay=alpha).update(g, decoupled.init(w), w)
  np.testing.assert_allclose(u_d, u_ref, rtol=1e-15)
  # The first Adam step is ±η whatever the gradient's size: Adam + L2 hides the decay.
  # (ε = 1e-8 against |g| = 1e-3 leaves a 1e-5 relative difference.)
  np.testing.assert_allclose(u_c, -lr * jnp.sign(g + alpha * w), rtol=1e-4)
  np.testing.assert_allclose(u_d, -lr * (jnp.sign(g) + alpha * w), rtol=1e-4)


def test_wrong_prediction_fails(monkeypatch, tmp_path):
  monkeypatch.setattr(
      weight_decay, "explicit_sgd_step",
      lambda w, g, lr, alpha: jax.tree_util.tree_map(
          lambda p, q: (1.0 - 1.01 * lr * alpha) * p - lr * q, w, g))
  monkeypatch.setattr(weight_decay, "adam_l2_decay",
                      lambda nu_hat, alpha, eps=1e-8: alpha / (nu_hat ** 0.45 + eps))
  result = weight_decay.run(out_dir=tmp_path, **TINY)
  assert not result.verdict("SGD: both follow the explicit").passed
  assert not result.verdict("Adam + L2 decays parameter i").passed
  assert result.verdict("SGD: coupled L2").passed
