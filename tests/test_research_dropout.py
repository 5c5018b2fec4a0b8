"""Tests for research.dropout: input dropout equals a weighted ridge."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxreg as jr
from research import dropout


@pytest.fixture(scope="module")
def result(tmp_path_factory):
  return dropout.run(seed=0, out_dir=tmp_path_factory.mktemp("dropout"), **dropout.TEST_SETTINGS)


def test_unplanted_run_passes_every_verdict(result):
  assert result.name == "dropout" and result.plant is None
  assert result.passed, [(v.key, v.comparison) for v in result.verdicts if not v.passed]
  assert {v.key for v in result.verdicts} == {
      "expected_loss_is_loss_plus_penalty", "dropout_sgd_is_weighted_ridge",
      "jaxreg_ridge_is_sklearn_ridge"}
  assert len(result.figures) == 1 and result.figures[0].exists()


def test_dropout_matches_weighted_not_uniform_ridge(result):
  assert result.data["t_sgd"].max() <= result.data["t_tol"]
  t_uniform = np.abs((result.data["dropout_mean"] - result.data["uniform_ridge"])
                     / result.data["dropout_se"])
  # The uniform ridge with the same total strength is far outside the threshold.
  assert np.all(t_uniform.max(axis=1) > 5 * result.data["t_tol"])


def test_expected_dropout_loss_is_the_weighted_ridge_objective():
  # Exact expectation over all 2^(n·d) masks of a tiny problem.
  with jax.enable_x64(True):
    X = np.array([[1.0, -2.0], [0.5, 3.0]])
    y = np.array([1.0, -1.0])
    w = np.array([0.3, -0.7])
    q = 0.6
    n, d = X.shape
    total = 0.0
    for bits in range(2 ** (n * d)):
      m = np.array([(bits >> k) & 1 for k in range(n * d)], float).reshape(n, d)
      prob = np.prod(np.where(m == 1, q, 1 - q))
      r = y - (X * m / q) @ w
      total += prob * 0.5 * np.mean(r * r)
    G = X.T @ X / n
    r = y - X @ w
    closed = 0.5 * np.mean(r * r) + dropout.dropout_penalty_factor(q) * 0.5 * np.sum(
        np.diag(G) * w ** 2)
    np.testing.assert_allclose(total, closed, rtol=1e-12)
    via_l2 = 0.5 * np.mean(r * r) + float(jr.L2(dropout.dropout_penalty_factor(q))(
        jnp.sqrt(jnp.diag(jnp.asarray(G))) * jnp.asarray(w)))
    np.testing.assert_allclose(total, via_l2, rtol=1e-12)


def test_monte_carlo_expected_loss_is_unbiased_with_honest_se():
  # The Monte Carlo estimator against the exact expectation on a small problem:
  # its error is within a few of its own standard errors.
  with jax.enable_x64(True):
    X, y = dropout.make_data(jax.random.PRNGKey(5), 30, (0.5, 2.0), 0.3, 0.5)
    W = jnp.array([[0.4, -1.0], [1.0, 0.0]])
    qs = jnp.array([0.4, 0.8])
    mean, se = dropout.expected_loss_mc(jax.random.PRNGKey(6), X, y, W, qs, n_masks=2000)
    Xn, yn, Wn = np.asarray(X), np.asarray(y), np.asarray(W)
    G = Xn.T @ Xn / Xn.shape[0]
    r = yn[None] - Wn @ Xn.T
    exact = 0.5 * np.mean(r * r, 1)[None] + 0.5 * ((1 - np.asarray(qs)) / np.asarray(qs))[
        :, None] * (Wn ** 2 @ np.diag(G))[None]
    z = np.abs(np.asarray(mean) - exact) / np.asarray(se)
    assert z.max() < 4.5, z
    # Uninverted masks (x·m, no 1/q) are biased by many standard errors.
    mean_u, se_u = dropout.expected_loss_mc(jax.random.PRNGKey(6), X, y, W, qs, n_masks=2000,
                                            inverted=False)
    assert (np.abs(np.asarray(mean_u) - exact) / np.asarray(se_u)).max() > 20


def test_closed_form_is_stationary():
  with jax.enable_x64(True):
    X, y = dropout.make_data(jax.random.PRNGKey(3), 50, (0.5, 2.0, 1.0), 0.3, 0.5)
    lam = 0.7
    w = jnp.asarray(dropout.weighted_ridge(X, y, lam))
    G = X.T @ X / X.shape[0]
    grad = jax.grad(lambda w: 0.5 * jnp.mean((y - X @ w) ** 2)
                    + 0.5 * lam * jnp.sum(jnp.diag(G) * w ** 2))(w)
    assert float(jnp.max(jnp.abs(grad))) < 1e-12


def test_jaxreg_ridge_stops_on_the_gradient_norm():
  with jax.enable_x64(True):
    X, y = dropout.make_data(jax.random.PRNGKey(4), 60, (0.5, 3.0), 0.5, 0.5)
    w, gnorm, steps = dropout.train_jaxreg_ridge(X, y, 0.5, 1e-11, 5000)
    assert float(gnorm) <= 1e-11 and int(steps) < 5000
    np.testing.assert_allclose(w, dropout.weighted_ridge(X, y, 0.5), rtol=1e-9)
