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
   solved on its sparse columns (`_coordinate_descent._SparseBlock`, padded
   ELL in a heavy and a light group), where an update costs O(nnz of the
   column) instead of O(|A|);
4. until the full gap is within tol·‖y_c‖² and the last sweep was small.

Nothing of size n × p is ever formed: memory is O(nnz + n + p) plus the
working set's Gram block (|A|² below 1024 columns) or padded columns.

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
_LIGHT = 16        # columns with at most this many entries are "light" (see _sparse_block)
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


def _ell(X, cols, width, root_s):
  """The CSC columns ``cols`` as (len(cols), width) row indices and values
  (times √s at their rows), zero-padded."""
  starts = X.indptr[cols]
  counts = X.indptr[cols + 1] - starts
  rows = np.zeros((len(cols), width), np.int32)
  vals = np.zeros((len(cols), width), X.dtype)
  filled = np.arange(width)[None, :] < counts[:, None]
  pos = (starts[:, None] + np.arange(width)[None, :])[filled]
  rows[filled] = X.indices[pos]
  vals[filled] = X.data[pos] if root_s is None else X.data[pos] * root_s[X.indices[pos]]
  return rows, vals


def _sparse_block(design, yc, cols, col_s, sq_norms):
  """The working set ``cols`` as a `_coordinate_descent._SparseBlock`: heavy
  columns (more than _LIGHT entries) in the first slots, padded to a power
  of two in count and width, then the light ones, padded to _capacity.
  Returns (block, slot of each of cols, number of slots in use)."""
  X = design.X
  counts = np.diff(X.indptr)[cols]
  heavy, light = cols[counts > _LIGHT], cols[counts <= _LIGHT]
  Kh = _pow2(len(heavy), 8)
  mh = _pow2(int(counts.max(initial=1)) if len(heavy) else 1, _LIGHT * 2)
  Kl = _capacity(len(light))
  root_s = design.root_s
  hr, hv = _ell(X, np.pad(heavy, (0, Kh - len(heavy))), mh, root_s)
  hv[len(heavy):] = 0.0
  lr, lv = _ell(X, np.pad(light, (0, Kl - len(light))), _LIGHT, root_s)
  lv[len(light):] = 0.0
  slots = np.concatenate([np.arange(len(heavy)), Kh + np.arange(len(light))])
  order = np.concatenate([heavy, light])
  K = Kh + Kl

  def per_slot(values):
    out = np.zeros(K, X.dtype)
    out[slots] = values[order]
    return out

  n = X.shape[0]
  block = _cd._SparseBlock(hr, hv, lr, lv, per_slot(design.x_mean), per_slot(col_s),
                           per_slot(sq_norms),
                           np.ones(n, X.dtype) if root_s is None else root_s, yc)
  where = np.empty(len(cols), np.int64)
  where[np.searchsorted(cols, order)] = slots
  return block, where, Kh + len(light)


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
