"""Sparse designs (``scipy.sparse``, ``BCOO``) in ``jr.linear``, never densified.

Oracles: scikit-learn's ``ElasticNet`` / ``ElasticNetCV`` (its sparse
coordinate descent, which centres through the column means as jaxreg does),
its ``LogisticRegression`` (saga, lbfgs) and celer's ``Lasso``, on the same
CSR matrices; jaxreg's dense solvers (other algorithms) on the densified
copy; and a design whose dense
form would need 160 GB, which only a solver that never densifies can fit.
"""

import warnings

import jax
import numpy as np
import pytest
import scipy.sparse as sp
from jax.experimental import sparse as jsparse
from sklearn.linear_model import ElasticNet, ElasticNetCV, Lasso, LogisticRegression

import jaxreg as jr
from jaxreg.linear import _sparse


def _problem(n=150, p=400, density=0.04, seed=0):
  rng = np.random.default_rng(seed)
  X = sp.random(n, p, density=density, random_state=seed, format="csr",
                data_rvs=lambda k: rng.normal(size=k))
  beta = np.zeros(p)
  beta[:12] = rng.normal(size=12) * 3
  y = X @ beta + 0.1 * rng.normal(size=n) + 2.0
  return X, y, rng


def _objective(X, y, w, b, alpha, r, s=None):
  s = np.ones(X.shape[0]) if s is None else s
  res = y - X @ w - b
  return (0.5 * np.sum(s * res * res) / np.sum(s) + alpha * r * np.abs(w).sum()
          + 0.5 * alpha * (1 - r) * w @ w)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_path_equals_sklearn(fit_intercept, l1_ratio, weighted):
  """Same objective to 1e-8 relative and the same support at every α."""
  X, y, rng = _problem()
  s = rng.uniform(0.0, 2.0, X.shape[0]) if weighted else None
  with jax.enable_x64(True):
    path = jr.linear.paths.sparse_enet_path(X, y, l1_ratio, n_alphas=8, eps=1e-2, tol=1e-12,
                                            fit_intercept=fit_intercept, sample_weight=s)
  assert bool(np.all(path.converged))
  for a, w, b in zip(np.asarray(path.alphas), np.asarray(path.coefs), np.asarray(path.intercepts)):
    ref = ElasticNet(alpha=a, l1_ratio=l1_ratio, fit_intercept=fit_intercept, tol=1e-14,
                     max_iter=1_000_000).fit(X, y, sample_weight=s)
    ours = _objective(X, y, w, b, a, l1_ratio, s)
    theirs = _objective(X, y, ref.coef_, ref.intercept_, a, l1_ratio, s)
    assert abs(ours - theirs) <= 1e-8 * theirs
    np.testing.assert_array_equal(w != 0, ref.coef_ != 0)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "bcoo"])
def test_every_sparse_format_gives_the_dense_answer(fmt):
  """Against scikit-learn on the dense matrix."""
  X, y, _ = _problem(seed=1)
  with jax.enable_x64(True):
    Xf = jsparse.BCOO.from_scipy_sparse(X) if fmt == "bcoo" else X.asformat(fmt)
    sparse = jr.linear.fit(Xf, y, jr.L1(0.02))
  dense = Lasso(alpha=0.02, tol=1e-14, max_iter=1_000_000).fit(X.toarray(), y)
  np.testing.assert_allclose(sparse.coef, dense.coef_, atol=1e-9)
  np.testing.assert_allclose(sparse.intercept, dense.intercept_, atol=1e-9)
  assert bool(sparse.converged)


def test_sparse_lasso_equals_celer():
  celer = pytest.importorskip("celer")
  X, y, _ = _problem(seed=2)
  yc = y - y.mean()
  with jax.enable_x64(True):
    ours = jr.linear.fit(X, yc, jr.L1(0.01), fit_intercept=False, tol=1e-12)
  ref = celer.Lasso(alpha=0.01, fit_intercept=False, tol=1e-12, max_iter=1000).fit(X, yc)
  w = np.asarray(ours.coef)
  fo, fr = _objective(X, yc, w, 0, 0.01, 1), _objective(X, yc, ref.coef_, 0, 0.01, 1)
  assert abs(fo - fr) <= 1e-8 * fr
  np.testing.assert_array_equal(w != 0, ref.coef_ != 0)


def test_sparse_cross_validation_equals_sklearn():
  X, y, _ = _problem(n=120, p=300, seed=3)
  with jax.enable_x64(True):
    ours = jr.linear.cross_validate(X, y, l1_ratio=0.8, cv=3, n_alphas=10, tol=1e-12)
  ref = ElasticNetCV(l1_ratio=0.8, cv=3, alphas=10, tol=1e-14, max_iter=1_000_000).fit(X, y)
  np.testing.assert_allclose(ours.alphas, ref.alphas_, rtol=1e-12)
  np.testing.assert_allclose(ours.mse_path, ref.mse_path_, rtol=1e-7)
  assert float(ours.best_alpha) == pytest.approx(ref.alpha_, rel=1e-12)
  np.testing.assert_allclose(ours.coef, ref.coef_, atol=1e-9)


def test_a_design_too_large_to_densify():
  """200,000 × 100,000 with 3 entries a row: dense, 160 GB in float64. A
  solver that formed X − 1x̄ᵀ, or any n × p array, could not run this."""
  n, p = 200_000, 100_000
  rng = np.random.default_rng(4)
  rows = np.repeat(np.arange(n), 3)
  cols = rng.integers(0, p, size=3 * n)
  cols[::3] = rng.integers(0, 20, size=n)       # 20 frequent features carry the signal
  X = sp.csr_array((np.ones(3 * n), (rows.astype(np.int32), cols.astype(np.int32))),
                   shape=(n, p))
  X.indices, X.indptr = X.indices.astype(np.int32), X.indptr.astype(np.int32)  # for scikit-learn
  beta = np.zeros(p)
  beta[:20] = rng.normal(size=20)
  y = X @ beta + 0.1 * rng.normal(size=n)
  with jax.enable_x64(True):
    path = jr.linear.lasso_path(X, y, n_alphas=3, eps=0.05, tol=1e-8)
  assert path.coefs.shape == (3, p)
  assert bool(np.all(path.converged))
  alpha = float(path.alphas[-1])
  celer = pytest.importorskip("celer")   # scikit-learn takes 17 s here, celer 0.4 s
  ref = celer.Lasso(alpha=alpha, tol=1e-10, fit_intercept=True).fit(X, y)
  w, b = np.asarray(path.coefs[-1]), float(path.intercepts[-1])
  ours, theirs = _objective(X, y, w, b, alpha, 1.0), _objective(X, y, ref.coef_, ref.intercept_,
                                                                 alpha, 1.0)
  assert abs(ours - theirs) <= 1e-6 * theirs
  np.testing.assert_array_equal(w != 0, ref.coef_ != 0)


def test_sparse_design_products_equal_dense():
  X, y, rng = _problem(n=40, p=30, density=0.2, seed=5)
  s = rng.uniform(0, 2, 40)
  s = s * 40 / s.sum()
  design, yc, y_mean = _sparse.design(_sparse.to_csc(X), y, s, True)
  D = X.toarray()
  x_mean = s @ D / 40
  Xc = np.sqrt(s)[:, None] * (D - x_mean)
  w = rng.normal(size=30) * (rng.random(30) < 0.3)
  r = rng.normal(size=40)
  np.testing.assert_allclose(design.matvec(w), Xc @ w, atol=1e-12)
  np.testing.assert_allclose(design.rmatvec(r), Xc.T @ r, atol=1e-12)
  cols = np.array([0, 4, 7, 29])
  np.testing.assert_allclose(design.gram(cols), Xc[:, cols].T @ Xc[:, cols], atol=1e-12)
  np.testing.assert_allclose(design.sq_norms(), (Xc * Xc).sum(0), atol=1e-12)
  np.testing.assert_allclose(yc, np.sqrt(s) * (y - s @ y / 40), atol=1e-12)


def test_bad_sparse_input_is_a_named_error():
  X, y, _ = _problem(seed=6)
  bad = X.copy()
  bad.data[3] = np.nan
  with pytest.raises(ValueError, match="X contains NaN or infinite values"):
    jr.linear.fit(bad, y, jr.L1(0.1))
  for call in (lambda: jr.linear.fit(X, y, jr.MCP(0.1, 3.0), solver="cd"),
               lambda: jr.linear.path(X, y, jr.MCP(0.1, 3.0), solver="prox_newton")):
    with pytest.raises(ValueError, match="a sparse X is solved by solver='fista'"):
      call()
  with pytest.raises(ValueError, match="y must be 1-D with one target per row of X"):
    jr.linear.fit(X, y[:-1], jr.L1(0.1))
  with pytest.raises(ValueError, match=r"y must be \(n,\) or \(n, T\) with one row per row of X"):
    jr.linear.fit(X, y[:-1], jr.MCP(0.1, 3.0))
  with pytest.raises(ValueError, match="y contains NaN"):
    jr.linear.fit(X, np.where(np.arange(len(y)) == 3, np.nan, y), jr.MCP(0.1, 3.0))
  with pytest.raises(ValueError, match="sample_weight must be >= 0"):
    jr.linear.fit(X, y, jr.L1(0.1), sample_weight=-np.ones(X.shape[0]))
  with pytest.raises(ValueError, match="sample_weight must be >= 0"):
    jr.linear.fit(X, np.abs(y), jr.L1(0.1), loss="poisson", sample_weight=-np.ones(X.shape[0]))
  Xb = jsparse.BCOO.from_scipy_sparse(X)
  with pytest.raises(TypeError, match="outside jax.jit"):
    jax.jit(lambda A: jr.linear.fit(A, y, jr.L1(0.1)).coef)(Xb)


def _mixed(n=300, seed=7):
  """Light one-hot columns and a few heavy dense-ish ones (two ELL width groups)."""
  rng = np.random.default_rng(seed)
  light = sp.csr_array((np.ones(n), (np.arange(n), rng.integers(0, 120, n))), shape=(n, 120))
  heavy = sp.csr_array(rng.normal(size=(n, 6)) * (rng.random((n, 6)) < 0.5))
  X = sp.hstack([heavy, light]).tocsc()
  X.indices, X.indptr = X.indices.astype(np.int32), X.indptr.astype(np.int32)  # for scikit-learn
  y = X @ np.r_[rng.normal(size=6), rng.normal(size=120) * (rng.random(120) < 0.2)] \
      + 0.3 * rng.normal(size=n)
  return X, y, rng


def test_sparse_column_block_algebra_equals_dense():
  """The ELL block's gradient, update and norms against dense algebra."""
  from jaxreg.linear.solvers import sparse_working_set as sws
  X, y, rng = _mixed(n=80)
  s = rng.uniform(0.2, 2.0, 80)
  s = s * 80 / s.sum()
  with jax.enable_x64(True):
    des, yc, _ = _sparse.design(_sparse.to_csc(X), y, s, True)
    cols = np.sort(rng.choice(X.shape[1], 20, replace=False))
    cols[:3] = [0, 2, 5]                                     # heavy columns too
    cols = np.unique(cols)
    block, where, _ = sws._sparse_block(des, yc, cols, des.X.T @ s, des.sq_norms())
    block = jax.tree_util.tree_map(jax.numpy.asarray, block)
    D = X.toarray()
    Xc = np.sqrt(s)[:, None] * (D - s @ D / 80)
    wc = rng.normal(size=len(cols))
    w = np.zeros(block.d.shape[0])
    w[where] = wc
    aux = block.step(block.init(w), where[1], 0.4)
    wc[1] += 0.4
    r = yc - Xc[:, cols] @ wc
    grads = [float(block.grad_j(aux, j)) for j in where]
    np.testing.assert_allclose(grads, Xc[:, cols].T @ r, atol=1e-10)
    xr, r2, ry = block.norms(w, aux)
    np.testing.assert_allclose(np.asarray(xr)[where], Xc[:, cols].T @ r, atol=1e-10)
    np.testing.assert_allclose([float(r2), float(ry)], [r @ r, r @ yc], rtol=1e-12)
    np.testing.assert_allclose(np.asarray(block.d)[where], (Xc[:, cols] ** 2).sum(0), rtol=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_column_working_sets_equal_sklearn(monkeypatch, weighted):
  """Working sets solved on their sparse columns (forced from 64 columns on)."""
  from jaxreg.linear.solvers import sparse_working_set as sws
  monkeypatch.setattr(sws, "_SPARSE_FROM", 64)
  X, y, rng = _mixed()
  s = rng.uniform(0.0, 2.0, X.shape[0]) if weighted else None
  with jax.enable_x64(True):
    path = jr.linear.paths.sparse_enet_path(X, y, 0.9, n_alphas=6, eps=1e-3, tol=1e-12,
                                            sample_weight=s)
  assert bool(np.all(path.converged))
  for a, w, b in zip(np.asarray(path.alphas), np.asarray(path.coefs), np.asarray(path.intercepts)):
    ref = ElasticNet(alpha=a, l1_ratio=0.9, tol=1e-14, max_iter=1_000_000).fit(
        X, y, sample_weight=s)
    ours = _objective(X, y, w, b, a, 0.9, s)
    theirs = _objective(X, y, ref.coef_, ref.intercept_, a, 0.9, s)
    assert abs(ours - theirs) <= 1e-8 * theirs
    np.testing.assert_array_equal(w != 0, ref.coef_ != 0)


def _zipf_lengths(n=1200, seed=11):
  """Column lengths as in text: 1600 columns of 1-3 entries, 400 of 30-50,
  60 of 250-350 and 4 of 0.95·n, shuffled; the longest carry signal. Its
  working sets pass 1024 columns, with one ELL group per length class."""
  rng = np.random.default_rng(seed)
  lengths = np.r_[rng.integers(1, 4, 1600), rng.integers(30, 50, 400), rng.integers(250, 350, 60),
                  np.full(4, int(0.95 * n))]
  rng.shuffle(lengths)
  rows = np.concatenate([rng.choice(n, k, replace=False) for k in lengths])
  X = sp.csc_array((rng.normal(size=lengths.sum()), (rows, np.repeat(np.arange(len(lengths)),
                                                                      lengths))),
                   shape=(n, len(lengths))).tocsr()
  X.indices, X.indptr = X.indices.astype(np.int32), X.indptr.astype(np.int32)  # for scikit-learn
  beta = rng.normal(size=X.shape[1]) * (rng.random(X.shape[1]) < 0.3)
  beta[lengths > n // 2] = 2.0
  y = X @ beta + 0.5 * rng.normal(size=n) + 1.0
  return X, y, rng


def test_sparse_block_groups_columns_by_length():
  """Each column in the narrowest ELL width 16·4^g that holds it (the last
  width holds the longest column), its entries there exactly once."""
  from jaxreg.linear.solvers import sparse_working_set as sws
  X, y, rng = _zipf_lengths()
  n, p = X.shape
  s = rng.uniform(0.2, 2.0, n)
  s = s * n / s.sum()
  with jax.enable_x64(True):
    des, yc, _ = _sparse.design(_sparse.to_csc(X), y, s, True)
  cols = np.sort(rng.choice(p, 1500, replace=False))
  block, where, K = sws._sparse_block(des, yc, cols, des.X.T @ s, des.sq_norms())
  lengths = np.diff(des.X.indptr)[cols]
  ladder = sws._widths(lengths.max(), n)
  assert ladder == [16, 64, 256, 1024, n]
  # One group a width in use (the empty ones are left out).
  widths = [r.shape[1] for r in block.rows]
  assert widths == [w for g, w in enumerate(ladder)
                    if np.any(np.searchsorted(ladder, lengths) == g)]
  assert len(widths) >= 4
  starts = np.cumsum([0] + [r.shape[0] for r in block.rows])
  assert K == starts[-1] == block.d.shape[0]
  group = np.searchsorted(starts, where, side="right") - 1
  np.testing.assert_array_equal(group, np.searchsorted(widths, lengths))
  # Slots in use: the first `used` of each group, every column in one of them.
  np.testing.assert_array_equal(block.used, np.bincount(group, minlength=len(widths)))
  assert np.all(where - starts[group] < np.asarray(block.used)[group])
  # Each group's slots, densified, are √s ⊙ X[:, cols] (zero past the columns).
  dense = np.zeros((n, K))
  for o, r, v in zip(starts, block.rows, block.vals):
    for i in range(r.shape[0]):
      np.add.at(dense[:, o + i], r[i], v[i])
  np.testing.assert_allclose(dense[:, where], np.sqrt(s)[:, None] * X[:, cols].toarray(),
                             atol=1e-12)
  assert np.count_nonzero(np.delete(dense, where, axis=1)) == 0


def test_sparse_zipf_lengths_path_equals_sklearn(monkeypatch):
  """Text-like column lengths (1 to 0.95·n entries), working sets past 1024
  columns on their ELL groups: the lasso path's objective within 1e-6 of
  scikit-learn's on the same CSR at every α."""
  from jaxreg.linear.solvers import sparse_working_set as sws
  X, y, _ = _zipf_lengths()
  blocks = []
  build = sws._sparse_block

  def spy(design, yc, cols, *args):
    out = build(design, yc, cols, *args)
    blocks.append([r.shape[1] for r in out[0].rows])
    return out

  monkeypatch.setattr(sws, "_sparse_block", spy)
  with jax.enable_x64(True):
    path = jr.linear.lasso_path(X, y, n_alphas=4, eps=3e-4, tol=1e-10)
  assert bool(np.all(path.converged))
  # Working sets of every column length: 16 to n wide, in four groups or more.
  assert blocks and all(w[0] == 16 and w[-1] == X.shape[0] and len(w) >= 4 for w in blocks)
  for a, w, b in zip(np.asarray(path.alphas), np.asarray(path.coefs), np.asarray(path.intercepts)):
    ref = Lasso(alpha=a, tol=1e-12, max_iter=1_000_000).fit(X, y)
    ours = _objective(X, y, w, b, a, 1.0)
    theirs = _objective(X, y, ref.coef_, ref.intercept_, a, 1.0)
    assert abs(ours - theirs) <= 1e-6 * theirs


# --------------------------------------------------------- sparse logistic ---

def _log_objective(X, y, w, b, l1, l2, s):
  eta = X @ w + b
  return (np.sum(s * (np.logaddexp(0.0, eta) - y * eta)) / np.sum(s) + l1 * np.abs(w).sum()
          + 0.5 * l2 * w @ w)


def _labels(X, rng):
  beta = np.zeros(X.shape[1])
  beta[:12] = rng.normal(size=12) * 4
  return (X @ beta + 0.3 * rng.normal(size=X.shape[0]) > 0).astype(float)


@pytest.mark.parametrize("make", [lambda: jr.L1(0.004), lambda: jr.L2(0.01),
                                  lambda: jr.ElasticNet(0.01, 0.5)], ids=["l1", "l2", "enet"])
@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_logistic_equals_the_dense_fit_and_sklearn(make, weighted):
  """The sparse proximal Newton against jaxreg's dense solver (another
  algorithm on the densified copy) and scikit-learn's objective (saga for
  ℓ1, lbfgs for ℓ2, both on the same CSR matrix)."""
  X, _, rng = _problem(n=200, p=300, density=0.05, seed=5)
  y = _labels(X, rng)
  s = rng.uniform(0, 2, size=200) if weighted else None
  if weighted:
    s[:6] = 0
  pen = make()
  with jax.enable_x64(True):
    # tol is on the optimality violation; the coefficients' error is that over
    # the smallest curvature, so the two solvers are compared well inside it.
    a = jr.linear.fit(X, y, pen, loss="logistic", sample_weight=s, tol=1e-13)
    b = jr.linear.fit(X.toarray(), y, pen, loss="logistic", sample_weight=s, tol=1e-13)
  assert bool(a.converged)
  np.testing.assert_allclose(a.coef, b.coef, atol=1e-7)
  np.testing.assert_allclose(a.intercept, b.intercept, atol=1e-7)
  np.testing.assert_array_equal(np.asarray(a.coef) != 0, np.asarray(b.coef) != 0)
  ss = np.ones(200) if s is None else s
  alpha = float(pen.alpha)
  r = {"L1": 1.0, "L2": 0.0}.get(type(pen).__name__, 0.5)
  C = 1.0 / (alpha * ss.sum())
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    ref = LogisticRegression(C=C, l1_ratio=r, solver="saga" if r > 0 else "lbfgs", tol=1e-12,
                             max_iter=100_000).fit(X, y, sample_weight=s)
  ours = _log_objective(X, y, np.asarray(a.coef), float(a.intercept), alpha * r,
                        alpha * (1 - r), ss)
  theirs = _log_objective(X, y, ref.coef_[0], ref.intercept_[0], alpha * r, alpha * (1 - r), ss)
  assert ours <= theirs * (1 + 1e-9)
  assert abs(ours - theirs) <= 1e-7 * theirs


def test_sparse_logistic_warm_start_and_no_dense_copy(monkeypatch):
  """A warm start changes where it starts, not the answer; nothing densifies."""
  X, _, rng = _problem(n=200, p=300, density=0.05, seed=6)
  y = _labels(X, rng)
  with jax.enable_x64(True):
    cold = jr.linear.fit(X, y, jr.L1(0.003), loss="logistic")
    n, p = X.shape
    for cls in (sp.csr_array, sp.csc_array, sp.coo_array):
      original = cls.toarray

      def guarded(self, *a, _original=original, **k):
        # Working-set Gram blocks (k × k) may be dense; X (n × p) may not.
        if tuple(self.shape) in ((n, p), (p, n)):
          pytest.fail(f"densified a {self.shape} array")
        return _original(self, *a, **k)

      monkeypatch.setattr(cls, "toarray", guarded)
    warm = jr.linear.fit(X, y, jr.L1(0.003), loss="logistic",
                         init=jr.linear.fit(X, y, jr.L1(0.006), loss="logistic"))
  np.testing.assert_allclose(warm.coef, cold.coef, atol=1e-8)
  assert int(warm.n_iter) <= int(cold.n_iter)


def test_sparse_logistic_bad_input_is_a_named_error():
  X, _, rng = _problem(n=60, p=80, seed=7)
  with pytest.raises(ValueError, match="exactly 2 distinct labels"):
    jr.linear.fit(X, rng.integers(0, 3, size=60), jr.L1(0.01), loss="logistic")
  with pytest.raises(ValueError, match="one label per row of X"):
    jr.linear.fit(X, np.tile([0.0, 1.0], 30)[:59], jr.L1(0.01), loss="logistic")
  with pytest.raises(ValueError, match="sample_weight must be >= 0"):
    jr.linear.fit(X, _labels(X, rng), jr.L1(0.01), loss="logistic",
                  sample_weight=np.r_[-1.0, np.ones(59)])


@pytest.mark.parametrize("make", [lambda: jr.L1(0.002), lambda: jr.L2(0.005)], ids=["l1", "l2"])
def test_sparse_multinomial_equals_the_dense_fit(make):
  """Three classes: ℓ1 by class blocks, ℓ2 by full Newton-CG steps, against
  the dense proximal Newton on the densified copy (objective and support)."""
  X, _, rng = _problem(n=200, p=150, density=0.06, seed=8)
  scores = X[:, :3].toarray() * 3 + 0.3 * rng.normal(size=(200, 3))
  y = np.argmax(scores, axis=1)
  s = rng.uniform(0, 2, size=200)
  pen = make()
  with jax.enable_x64(True):
    a = jr.linear.fit(X, y, pen, loss="multinomial", sample_weight=s, tol=1e-11)
    b = jr.linear.fit(X.toarray(), y, pen, loss="multinomial", sample_weight=s, tol=1e-11)
  assert bool(a.converged) and np.shape(a.coef) == (150, 3)

  def objective(W, b0):
    Z = X @ W + b0
    m = Z.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(Z - m).sum(axis=1, keepdims=True)))[:, 0]
    l1 = float(pen.alpha) if isinstance(pen, jr.L1) else 0.0
    l2 = 0.0 if l1 else float(pen.alpha)
    return (np.sum(s * (lse - Z[np.arange(200), y])) / s.sum() + l1 * np.abs(W).sum()
            + 0.5 * l2 * np.sum(W * W))

  fa = objective(np.asarray(a.coef), np.asarray(a.intercept))
  fb = objective(np.asarray(b.coef), np.asarray(b.intercept))
  assert abs(fa - fb) <= 1e-10 * fb
  np.testing.assert_allclose(a.coef, b.coef, atol=1e-5)
