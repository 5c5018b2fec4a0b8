"""Tests for research.sparsity: L1 zeros on crossed cells, penalty-only dynamics."""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxreg as jr
from research import sparsity, workbench

TINY = dict(k=12, n_hot=6, n_val=1500, n_test=1500, n_alphas=10, steps=1000,
            n_dynamics=50)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
  return sparsity.run(out_dir=tmp_path_factory.mktemp("sparsity"), **TINY)


def test_result_shape(result):
  assert isinstance(result, workbench.Result)
  assert result.name == "sparsity"
  assert len(result.figures) == 1 and result.figures[0].exists()
  assert result.summary and len(result.tables) == 2


def test_every_claim_passes(result):
  failed = [(v.claim, v.error, v.tolerance) for v in result.verdicts if not v.passed]
  assert not failed, failed


def test_l1_sparse_l2_dense(result):
  l1, l2 = result.data["chosen"]["L1"], result.data["chosen"]["L2"]
  assert l1["zeros"] >= 0.9 * 144
  assert l2["zeros"] == 0
  assert np.all(l2["w"] != 0)
  # The cells L1 keeps include every cell with a premium.
  assert np.all(l1["w"][result.data["premium"] != 0] != 0)
  rows = result.tables[0].rows
  dense, sparse_l1, sparse_l2 = int(rows[0][5]), int(rows[0][6]), int(rows[1][6])
  assert sparse_l1 < dense < sparse_l2


def test_prox_step_count_by_hand(x64):
  # |w₀| = 0.25, ηα = 0.1: 0.15, 0.05, 0 -> three steps.
  assert sparsity.prox_steps_to_zero(np.array([0.25, -0.25]), 0.5, 0.2).tolist() == [3, 3]
  w = jnp.array([0.25])
  pen = jr.L1(0.2)
  for _ in range(2):
    w = pen.prox(w, 0.5)
    assert float(w[0]) != 0.0
  assert float(pen.prox(w, 0.5)[0]) == 0.0


def test_helpers():
  assert sparsity.sparse_nbytes(np.array([0.0, 1.5, 0.0, -2.0])) == 2 * 4 + 2 * 4 + 2 * 4
  k = 4
  cells = sparsity.crossed_cells(np.array([32.0, 41.99, 32.0]), np.array([-124.0, -124.0, -114.01]), k)
  assert cells.tolist() == [0, (k - 1) * k, k - 1]
  path = sparsity.l2_decay_path(np.array([2.0]), 0.1, 0.5, 2)
  np.testing.assert_allclose(path[:, 0], [2.0, 1.9, 1.805])


def test_wrong_prediction_fails(monkeypatch, tmp_path):
  true_count = sparsity.prox_steps_to_zero
  monkeypatch.setattr(sparsity, "prox_steps_to_zero",
                      lambda w0, lr, alpha: true_count(w0, lr, alpha) + 1)
  monkeypatch.setattr(sparsity, "l2_decay_path",
                      lambda w0, lr, alpha, steps: (1.0 - 1.001 * lr * alpha)
                      ** np.arange(steps + 1)[:, None] * np.asarray(w0)[None])
  result = sparsity.run(out_dir=tmp_path, **TINY)
  assert not result.verdict("L1 prox steps reach exactly zero").passed
  assert not result.verdict("L2 gradient steps remove a fixed fraction").passed
  assert result.verdict("L2 gradient steps never reach zero").passed
