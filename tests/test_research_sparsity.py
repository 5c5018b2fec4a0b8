"""Tests for research.sparsity: L1 zeros on crossed cells, penalty-only dynamics, closed forms."""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxreg as jr
from research import sparsity, workbench


@pytest.fixture(scope="module")
def result(tmp_path_factory):
  return sparsity.run(out_dir=tmp_path_factory.mktemp("sparsity"), **sparsity.TEST_SETTINGS)


def test_result_shape(result):
  assert isinstance(result, workbench.Result)
  assert result.name == "sparsity" and result.plant is None
  assert len(result.figures) == 1 and result.figures[0].exists()
  assert result.summary and len(result.tables) == 2


def test_unplanted_run_passes_every_verdict(result):
  failed = [(v.key, v.comparison) for v in result.verdicts if not v.passed]
  assert not failed, failed
  assert all(c["capped"] == 0 for c in result.data["chosen"].values())


def test_l1_zeros_are_the_kkt_zeros_and_l2_has_none(result):
  l1, l2 = result.data["chosen"]["L1"], result.data["chosen"]["L2"]
  assert l1["zeros"] == result.data["kkt_zeros"]
  # Every cell with a premium is kept by L1; L2 keeps every cell.
  assert np.all(l1["w"][result.data["premium"] != 0] != 0)
  assert l2["zeros"] == 0 and result.data["l2_path_zeros"] == 0
  rows = result.tables[0].rows
  dense, sparse_l1, sparse_l2 = int(rows[0][5]), int(rows[0][6]), int(rows[1][6])
  assert sparse_l1 == result.data["predicted_sparse_bytes"] < dense < sparse_l2


def test_lasso_closed_form_is_sklearn_lasso(x64):
  # The one-hot design makes XᵀX/n diagonal; scikit-learn's coordinate descent
  # on the explicit sparse matrix must land on the same soft-threshold.
  from sklearn.linear_model import Lasso
  rng = np.random.default_rng(3)
  n_cells = 16
  cells = rng.integers(0, n_cells, 400)
  y = rng.normal(size=400) + (cells < 3) * 2.0
  y = y - y.mean()
  for alpha in (0.002, 0.02, 0.08):
    w, g, _ = sparsity.lasso_closed_form(cells, y, n_cells, alpha)
    sk = Lasso(alpha=alpha, fit_intercept=False, tol=1e-14, max_iter=100000)
    sk.fit(sparsity._one_hot(cells, n_cells), y)
    np.testing.assert_allclose(w, sk.coef_, atol=1e-10)
    assert np.array_equal(w == 0, np.abs(g) <= alpha)


def test_ridge_closed_form_solves_the_normal_equations(x64):
  rng = np.random.default_rng(4)
  n_cells = 9
  cells = rng.integers(0, n_cells, 200)
  y = rng.normal(size=200)
  X = sparsity._one_hot(cells, n_cells).toarray()
  alpha = 0.03
  w = sparsity.ridge_closed_form(cells, y, n_cells, alpha)
  expect = np.linalg.solve(X.T @ X / 200 + alpha * np.eye(n_cells), X.T @ y / 200)
  np.testing.assert_allclose(w, expect, rtol=1e-12)


def test_fit_cells_reaches_the_lasso(x64):
  rng = np.random.default_rng(5)
  n_cells = 25
  cells = rng.integers(0, n_cells, 1000)
  y = rng.normal(size=1000) + (cells % 7 == 0) * 1.5
  y = y - y.mean()
  share = np.bincount(cells, minlength=n_cells) / 1000
  alphas = np.array([0.01, 0.03])
  w, res, steps = sparsity.fit_cells(cells, y, alphas, 1.0 / share.max(), 1e-13, kind="L1",
                                     plant=None, n_cells=n_cells, max_steps=5000)
  assert np.all(np.asarray(steps) < 5000) and np.all(np.asarray(res) <= 1e-13)
  for i, a in enumerate(alphas):
    np.testing.assert_allclose(w[i], sparsity.lasso_closed_form(cells, y, n_cells, a)[0],
                               atol=1e-11)


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
