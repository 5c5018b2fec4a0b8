"""Tests for research.dropout: input dropout equals a weighted ridge."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxreg as jr
from research import dropout

TINY = dict(n_samples=100, keep_probs=(0.5, 0.9), n_seeds=16, steps=2000, ridge_steps=1500)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
  return dropout.run(seed=0, out_dir=tmp_path_factory.mktemp("dropout"), **TINY)


def test_all_claims_pass(result):
  assert result.name == "dropout"
  assert result.passed, [(v.claim, v.error) for v in result.verdicts if not v.passed]
  assert len(result.figures) == 1 and result.figures[0].exists()


def test_dropout_matches_weighted_not_uniform_ridge(result):
  assert result.data["max_z"] <= 5.0
  z_uniform = np.abs((result.data["dropout_mean"] - result.data["uniform_ridge"])
                     / result.data["dropout_se"])
  assert np.all(z_uniform.max(axis=1) > 20.0)


def test_expected_dropout_loss_is_the_weighted_ridge_objective():
  # Exact expectation over all 2^(n·d) masks of a tiny problem.
  with jax.enable_x64(True):
    X = jnp.array([[1.0, -2.0], [0.5, 3.0]])
    y = jnp.array([1.0, -1.0])
    w = jnp.array([0.3, -0.7])
    q = 0.6
    n, d = X.shape
    total = 0.0
    for bits in range(2 ** (n * d)):
      m = np.array([(bits >> k) & 1 for k in range(n * d)], float).reshape(n, d)
      prob = np.prod(np.where(m == 1, q, 1 - q))
      r = y - (X * m / q) @ w
      total += prob * 0.5 * float(jnp.mean(r * r))
    G = X.T @ X / n
    r = y - X @ w
    closed = 0.5 * jnp.mean(r * r) + dropout.dropout_penalty_factor(q) * 0.5 * jnp.sum(
        jnp.diag(G) * w ** 2)
    np.testing.assert_allclose(total, closed, rtol=1e-12)
    via_l2 = 0.5 * jnp.mean(r * r) + jr.L2(dropout.dropout_penalty_factor(q))(
        jnp.sqrt(jnp.diag(G)) * w)
    np.testing.assert_allclose(total, via_l2, rtol=1e-12)


def test_closed_form_is_stationary():
  with jax.enable_x64(True):
    X, y = dropout.make_data(jax.random.PRNGKey(3), 50, (0.5, 2.0, 1.0), 0.3, 0.5)
    lam = 0.7
    w = dropout.weighted_ridge(X, y, lam)
    G = X.T @ X / X.shape[0]
    grad = jax.grad(lambda w: 0.5 * jnp.mean((y - X @ w) ** 2)
                    + 0.5 * lam * jnp.sum(jnp.diag(G) * w ** 2))(w)
    assert float(jnp.max(jnp.abs(grad))) < 1e-12


def test_wrong_penalty_factor_fails(monkeypatch, tmp_path):
  # (1 − q) instead of (1 − q)/q: the uninverted-dropout factor.
  monkeypatch.setattr(dropout, "dropout_penalty_factor", lambda q: 1.0 - q)
  r = dropout.run(seed=0, out_dir=tmp_path, **TINY)
  assert not r.verdict("Dropout-trained linear regression").passed
