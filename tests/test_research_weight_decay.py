"""Tests for research.weight_decay: classic weight decay; where Adam + L2, AdamW, SGDW settle."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxreg as jr
from research import weight_decay, workbench


@pytest.fixture(scope="module")
def result(tmp_path_factory):
  return weight_decay.run(out_dir=tmp_path_factory.mktemp("weight_decay"),
                          **weight_decay.TEST_SETTINGS)


def test_unplanted_run_passes_every_verdict(result):
  failed = [(v.key, v.comparison) for v in result.verdicts if not v.passed]
  assert not failed, failed
  assert result.plant is None


def test_result_shape(result):
  assert isinstance(result, workbench.Result)
  assert result.name == "weight_decay"
  assert len(result.figures) == 1 and result.figures[0].exists()
  assert [v.key for v in result.verdicts] == [
      "sgd_l2_is_weight_decay", "sgdw_momentum_equilibrium", "adam_l2_equilibrium",
      "adamw_equilibrium"]
  assert [row[0] for row in result.tables[1].rows] == ["Adam (α = 0)", "Adam + L2", "AdamW"]
  # Each optimizer's α is its own; the prose quotes the numbers it measured.
  mlp = result.data["mlp"]
  for label, i in mlp["chosen"].items():
    assert f"{mlp['alphas'][i]:.3g}" in result.summary


def test_ridge_is_scikit_learn_ridge(x64):
  from sklearn.linear_model import Ridge
  rng = np.random.default_rng(0)
  X, y = rng.standard_normal((40, 5)), rng.standard_normal(40)
  n, alpha = X.shape[0], 0.3
  w = weight_decay.ridge(X.T @ X / n, X.T @ y / n, alpha)
  ref = Ridge(alpha=n * alpha, fit_intercept=False, tol=1e-12).fit(X, y).coef_
  np.testing.assert_allclose(w, ref, rtol=1e-10)


def test_minibatch_second_moment_by_enumeration():
  # Every ordered minibatch of B rows drawn with replacement, equally likely.
  rng = np.random.default_rng(1)
  X, y, w = rng.standard_normal((4, 3)), rng.standard_normal(4), rng.standard_normal(3)
  B, shift = 3, 0.2 * w
  grads = [np.mean([X[r] * (X[r] @ w - y[r]) for r in rows], axis=0) + shift
           for rows in itertools.product(range(4), repeat=B)]
  expected = np.mean(np.square(grads), axis=0)
  got = weight_decay.minibatch_second_moment(X, y, w, B, shift)
  np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_adamw_equilibrium_is_a_fixed_point():
  rng = np.random.default_rng(2)
  X = rng.standard_normal((64, 4)) * np.array([1.0, 0.5, 0.2, 0.1])
  y = X @ np.array([1.0, -2.0, 1.5, 2.0]) + 0.3 * rng.standard_normal(64)
  alpha, eps, B = 0.5, 1e-3, 4
  w, v = weight_decay.adam_equilibrium(X, y, lambda v: alpha * (np.sqrt(v) + eps), B)
  n = X.shape[0]
  # E[∇loss]/(√v + ε) + αw = 0, with v the second moment at w itself.
  mean_grad = X.T @ (X @ w - y) / n
  np.testing.assert_allclose(mean_grad / (np.sqrt(v) + eps) + alpha * w, 0.0, atol=1e-10)
  np.testing.assert_allclose(v, weight_decay.minibatch_second_moment(X, y, w, B), rtol=1e-12)


def test_classic_weight_decay_by_hand():
  X = np.array([[1.0, 0.0], [0.0, 2.0]])
  y = np.array([1.0, 0.0])
  traj, bound = weight_decay.classic_weight_decay(X, y, np.array([1.0, 1.0]),
                                                  np.array([[0, 1]]), lr=0.1, alpha=0.5)
  # (1 − 0.05)·w − 0.1·Xᵀ(Xw − y)/2 = [0.95, 0.95] − 0.1·[0, 4]/2.
  np.testing.assert_allclose(traj[0], [0.95, 0.75], rtol=1e-15)
  assert 0 < bound[0] < 1e-14


def test_coupled_sgd_chain_one_step(x64):
  w = {"a": jnp.array([1.0, -2.0]), "b": jnp.array(0.5)}
  g = {"a": jnp.array([0.3, 0.1]), "b": jnp.array(-1.0)}
  lr, alpha = 0.1, 0.2
  tx = optax.chain(jr.add_penalty_gradient(jr.L2(alpha)), optax.sgd(lr))
  u, _ = tx.update(g, tx.init(w), w)
  new = optax.apply_updates(w, u)
  # (1 − 0.02)·1 − 0.1·0.3 = 0.95, written out by hand.
  np.testing.assert_allclose(new["a"], [0.95, (1 - 0.02) * -2.0 - 0.01], rtol=1e-15)
  np.testing.assert_allclose(new["b"], (1 - 0.02) * 0.5 + 0.1, rtol=1e-15)


def test_decoupled_adam_chain_is_optax_adamw(x64):
  rng = np.random.default_rng(3)
  w = {"k": jnp.asarray(rng.standard_normal((3, 2))), "b": jnp.asarray(rng.standard_normal(2))}
  lr, alpha = 1e-2, 0.3
  ours = optax.chain(optax.scale_by_adam(), jr.add_penalty_gradient(jr.L2(alpha)),
                     optax.scale_by_learning_rate(lr))
  ref = optax.adamw(lr, weight_decay=alpha)
  p, q, s, t = w, w, ours.init(w), ref.init(w)
  for i in range(5):
    g = jax.tree_util.tree_map(lambda x: jnp.sin(x * (i + 1)), p)
    u, s = ours.update(g, s, p)
    v, t = ref.update(g, t, q)
    p, q = optax.apply_updates(p, u), optax.apply_updates(q, v)
  jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-13), p, q)


def test_adam_l2_and_adamw_differ_after_one_step(x64):
  w = jnp.array([1.0, 1.0])
  g = jnp.array([10.0, 1e-3])  # one large-gradient and one small-gradient parameter
  lr, alpha = 1e-3, 0.1
  coupled = optax.chain(jr.add_penalty_gradient(jr.L2(alpha)), optax.adam(lr))
  decoupled = optax.chain(optax.scale_by_adam(), jr.add_penalty_gradient(jr.L2(alpha)),
                          optax.scale_by_learning_rate(lr))
  u_c, _ = coupled.update(g, coupled.init(w), w)
  u_d, _ = decoupled.update(g, decoupled.init(w), w)
  # The first Adam step is ±η whatever the gradient's size: Adam + L2 hides the decay.
  np.testing.assert_allclose(u_c, -lr * jnp.sign(g + alpha * w), rtol=1e-4)
  np.testing.assert_allclose(u_d, -lr * (jnp.sign(g) + alpha * w), rtol=1e-4)


def test_unknown_setting_is_refused():
  with pytest.raises(TypeError, match="unknown settings"):
    weight_decay.run(stepz=3)
