r"""Elastic-net paths on a sparse design: working sets on the host, each
solved by the coordinate-descent engine on its Gram block or its sparse columns.

For each (l1, l2) of a path (sum form ½‖y_c − X_c w‖² + l1‖w‖₁ + (l2/2)‖w‖²,
X_c the centred, weighted design of :mod:`jaxreg.linear._sparse`):

1. from the previous α's solution, the full correlations X_cᵀr and the
   duality gap (scikit-learn's formula) are computed with sparse products,
   O(nnz);
2. the working set A is the support plus the features that violate
   |X_jᵀr| ≤ l1 most (celer's priority |X_jᵀr|/l1), at least 64 and twice
   the support, doubled while violators remain;
3. below 1024 columns, its Gram block X_c[:, A]ᵀX_c[:, A] (O(nnz of those
   columns) plus |A|²), padded to a capacity 64·4^k, is solved warm-started
   by the engine's sweeps with Newton steps on the sign pattern and
   Anderson extrapolation (`jaxreg.linear._coordinate_descent.block_solve`,
   compiled once per capacity); from 1024 columns on, the working set is
   solved on its sparse columns (`_coordinate_descent._SparseBlock`), where
   an update costs O(nnz of the column) instead of O(|A|);
4. until the full gap is within tol·‖y_c‖² and the last sweep was small.

The sparse columns are padded ELL arrays in groups by length: a column of
c entries goes to the narrowest width m_g = 16·4^g with c ≤ m_g, and a
sweep runs one loop a group, so an update costs O(m_g) ≤ O(max(16, 4c)).
The last width is the longest column's length rounded up to a power of
two (at most n); there are at most six, the sixth holding every column
past 4096 entries. One width for all would cost O(max c) an update, and
column lengths are often skewed (in text, a frequent word is in most
rows, most words in a few): padding every column to the longest made
each update O(n). Each group's column count is padded too
(`_sparse_block`), so that the number of compiled programs stays small.

Nothing of size n × p is ever formed: memory is O(nnz + n + p) plus the
working set's Gram block (|A|² below 1024 columns) or its padded columns
(at most max(16, 4c) entries a column of c ≤ 4096, plus the count padding).

References:
  Massias, Gramfort & Salmon (2018), "Celer: a fast solver for the lasso
  with dual extrapolation" (working sets by priority, solved on their own);
  Friedman, Hastie & Tibshirani (2010), glmnet (sparse centring through the
  column means).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from jaxreg.linear import _coordinate_descent as _cd

__all__ = ["SparsePath", "enet_path"]

_FIRST = 64        # the smallest working-set capacity
_LIGHT = 16        # the narrowest ELL width (see _widths)
# ELL widths at most: 16, 64, 256, 1024, 4096, then the longest column. At
# most four (columns past 256 entries padded to the longest) swept a 4000-
# column working set of a 20000 × 20000 tf-idf design in 75 ms instead of 18.
_GROUPS = 6
_SPARSE_FROM = 1024  # working sets this large are solved on their sparse columns
_MAX_OUTER = 100   # working-set rounds per α (each at least one sweep)

_gap = jax.jit(_cd.duality_gap)


class SparsePath(NamedTuple):
  coefs: np.ndarray       # (K, p)
  dual_gaps: np.ndarray   # (K,) sum-form gaps
  n_iter: np.ndarray      # (K,) coordinate sweeps, summed over working sets
  converged: np.ndarray   # (K,) bool


def _capacity(k):
  """The block size for k columns: 64·4^j, whatever p (a zero slot costs
  nothing in a sweep), so that designs of any width share programs."""
  size = _FIRST
  while size < k:
    size *= 4
  return size


def _pow2(k, floor):
  size = floor
  while size < k:
    size *= 2
  return size


def _widths(longest, n):
  """ELL group widths for columns of at most ``longest`` entries:
  m_g = 16·4^g while below ``longest``, at most _GROUPS of them, the last
  set to ``longest`` rounded up to a power of two (at most n). Geometric
  widths keep a column's padding within 4× its length (below the last
  width) and the number of widths, hence of loops to compile, logarithmic:
  each costs about 0.15 s of compilation, on the first call of a block."""
  widths = [_LIGHT]
  while widths[-1] < longest and len(widths) < _GROUPS:
    widths.append(4 * widths[-1])
  if len(widths) > 1:
    widths[-1] = min(_pow2(longest, 2 * widths[-2]), n)
  return widths


def _ell(X, cols, size, width, root_s):
  """The CSC columns ``cols`` as (size, width) row indices and values
  (times √s at their rows), zero-padded: rows past len(cols) are zero."""
  starts = X.indptr[cols]
  counts = X.indptr[cols + 1] - starts
  rows = np.zeros((size, width), np.int32)
  vals = np.zeros((size, width), X.dtype)
  filled = np.arange(width)[None, :] < counts[:, None]
  pos = (starts[:, None] + np.arange(width)[None, :])[filled]
  rows[:len(cols)][filled] = X.indices[pos]
  vals[:len(cols)][filled] = X.data[pos] if root_s is None else X.data[pos] * root_s[X.indices[pos]]
  return rows, vals


def _sparse_block(design, yc, cols, col_s, sq_norms):
  """The working set ``cols`` as a `_coordinate_descent._SparseBlock`: each
  column in the narrowest width of `_widths` that holds it, one group a
  width in use, each group's column count padded (see below) so that
  working sets and designs of similar make-up share a compiled program.
  Returns (block, slot of each of cols, number of slots)."""
  X = design.X
  n = X.shape[0]
  counts = np.diff(X.indptr)[cols]
  widths = _widths(int(counts.max(initial=1)), n)
  group = np.searchsorted(widths, counts)     # the first width ≥ the count
  rows, vals, used = [], [], []
  where = np.empty(len(cols), np.int64)
  K = 0
  for g, width in enumerate(widths):
    members = np.flatnonzero(group == g)
    if not len(members):
      continue    # each group is a loop to compile (about 0.15 s): none for nothing
    # The narrowest group holds most columns, at little padding each:
    # capacities 64·4^j, as the Gram blocks, let working sets along a path
    # share a program; wider groups pad to a power of two.
    size = _capacity(len(members)) if width == _LIGHT else _pow2(len(members), 8)
    r, v = _ell(X, cols[members], size, width, design.root_s)
    rows.append(r)
    vals.append(v)
    used.append(len(members))
    where[members] = K + np.arange(len(members))
    K += size

  def per_slot(values):
    out = np.zeros(K, X.dtype)
    out[where] = values[cols]
    return out

  root_s = np.ones(n, X.dtype) if design.root_s is None else design.root_s
  block = _cd._SparseBlock(tuple(rows), tuple(vals), np.asarray(used, np.int32),
                           per_slot(design.x_mean), per_slot(col_s), per_slot(sq_norms),
                           root_s, yc)
  return block, where, K


def _residual(design, yc, w):
  """(X_cᵀr, ‖r‖², rᵀy_c) at w: what the gap needs, for any (l1, l2)."""
  r = yc - design.matvec(w)
  return design.rmatvec(r), float(r @ r), float(r @ yc)


def enet_path(design, yc, l1s, l2s, tol, max_iter, w0=None):
  """The warm-started path over (l1s, l2s) (sum form), from w0 (or 0).

  Args:
    design: a :class:`jaxreg.linear._sparse.Design`.
    yc: (n,) the centred, weighted targets.
    l1s, l2s: (K,) sum-form strengths, in the order to solve them.
    tol: relative tolerance: a solve is done when its gap is at most
      tol·‖y_c‖² and its last sweep moved no coefficient by more than
      tol·max|w| (scikit-learn's two conditions).
    max_iter: sweeps allowed per α, over all its working sets.
    w0: (p,) the start of the first α, or None for zeros.

  Returns:
    A :class:`SparsePath` (NumPy arrays).
  """
  n, p = design.shape
  dtype = yc.dtype
  y2 = float(yc @ yc)
  tol_abs = tol * y2
  xty = design.rmatvec(yc)
  sq_norms = design.sq_norms()
  usable = sq_norms > 0
  col_s = design.X.T @ (np.ones(n, dtype) if design.s is None else design.s)
  w = np.zeros(p, dtype) if w0 is None else np.asarray(w0, dtype).copy()
  xtr, r2, ry = _residual(design, yc, w)   # carried from one α to the next
  out_w, out_gap, out_it, out_ok = [], [], [], []
  for l1, l2 in zip(np.asarray(l1s, dtype), np.asarray(l2s, dtype)):
    gap = float(_gap(w, xtr, l1, l2, r2, ry))
    sweeps, small, ok = 0, False, False
    size = _FIRST
    if not w.any() and np.max(np.abs(xtr)) <= l1 * (1 + 100 * np.finfo(dtype).eps):
      # w = 0 is optimal up to rounding (α ≥ α_max): a sweep could only make
      # coefficients of the size of that rounding, which the relative step
      # test would then chase.
      small = True
    for _ in range(_MAX_OUTER):
      if gap <= tol_abs and small:
        ok = True
        break
      if sweeps >= max_iter:
        break
      support = w != 0
      score = np.where(usable, np.abs(xtr) / l1 if l1 > 0 else np.abs(xtr), 0.0)
      violators = np.sum(~support & usable & (np.abs(xtr) > l1))
      size = max(size, 2 * int(support.sum()), _FIRST)
      k = min(int(size), int(usable.sum()))
      score[support] = np.inf
      cols = np.sort(np.argpartition(-score, k - 1)[:k]) if k < p else np.arange(p)
      if len(cols) >= _SPARSE_FROM:
        # An update on the Gram block costs O(|A|), on the sparse column O(nnz).
        block, where, k_used = _sparse_block(design, yc, cols, col_s, sq_norms)
        wA0 = np.zeros(block.d.shape[0], dtype)
        wA0[where] = w[cols]
      else:
        pad = _capacity(len(cols)) - len(cols)
        block = _cd._GramBlock(np.pad(design.gram(cols), ((0, pad), (0, pad))),
                               np.pad(xty[cols], (0, pad)), y2)
        where, k_used = np.arange(len(cols)), len(cols)
        wA0 = np.pad(w[cols], (0, pad))
      wA, it, sub_ok = _cd.block_solve(block, k_used, l1, l2, wA0, tol_abs, tol,
                                       max_iter=max_iter)
      coef = np.asarray(wA)[where]
      sweeps += int(it)
      w = np.zeros(p, dtype)
      w[cols] = coef
      small = bool(sub_ok)
      xtr, r2, ry = _residual(design, yc, w)
      gap = float(_gap(w, xtr, l1, l2, r2, ry))
      if violators:
        size = min(2 * size, p)
    out_w.append(w.copy())
    out_gap.append(gap)
    out_it.append(max(sweeps, 1))
    out_ok.append(ok)
  return SparsePath(np.stack(out_w), np.asarray(out_gap, dtype), np.asarray(out_it, np.int32),
                    np.asarray(out_ok))
