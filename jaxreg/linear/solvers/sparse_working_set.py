r"""Elastic-net paths on a sparse design: working sets on the host, each
solved on its dense Gram block by the coordinate-descent engine.

For each (l1, l2) of a path (sum form ½‖y_c − X_c w‖² + l1‖w‖₁ + (l2/2)‖w‖²,
X_c the centred, weighted design of :mod:`jaxreg.linear._sparse`):

1. from the previous α's solution, the full correlations X_cᵀr and the
   duality gap (scikit-learn's formula) are computed with sparse products,
   O(nnz);
2. the working set A is the support plus the features that violate
   |X_jᵀr| ≤ l1 most (celer's priority |X_jᵀr|/l1), at least 64 and twice
   the support, doubled while violators remain;
3. its Gram block X_c[:, A]ᵀX_c[:, A] (O(nnz of those columns) plus |A|²)
   is padded to a capacity 64·4^k and solved, warm-started, by the path
   engine's working-set coordinate descent with Newton steps
   (`jaxreg.linear._coordinate_descent.block_solve`: the engine's sweeps,
   with Newton steps on the sign pattern and Anderson extrapolation,
   compiled once per capacity);
4. until the full gap is within tol·‖y_c‖² and the last sweep was small.

Nothing of size n × p is ever formed: memory is O(nnz + n + p + |A|²).

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


def _state(design, yc, w, l1, l2):
  r = yc - design.matvec(w)
  xtr = design.rmatvec(r)
  r2, ry = float(r @ r), float(r @ yc)
  gap = float(_gap(w, xtr, l1, l2, r2, ry))
  return xtr, gap


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
  usable = design.sq_norms() > 0
  w = np.zeros(p, dtype) if w0 is None else np.asarray(w0, dtype).copy()
  out_w, out_gap, out_it, out_ok = [], [], [], []
  for l1, l2 in zip(np.asarray(l1s, dtype), np.asarray(l2s, dtype)):
    xtr, gap = _state(design, yc, w, l1, l2)
    sweeps, small, ok = 0, False, False
    size = _FIRST
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
      K = _capacity(len(cols))
      pad = K - len(cols)
      G = np.pad(design.gram(cols), ((0, pad), (0, pad)))
      q = np.pad(xty[cols], (0, pad))
      wA0 = np.pad(w[cols], (0, pad))
      wA, it, sub_ok = _cd.block_solve(G, q, y2, len(cols), l1, l2, wA0, tol_abs, tol,
                                       max_iter=max_iter)
      sweeps += int(it)
      w = np.zeros(p, dtype)
      w[cols] = np.asarray(wA)[:len(cols)]
      small = bool(sub_ok)
      xtr, gap = _state(design, yc, w, l1, l2)
      if violators:
        size = min(2 * size, p)
    out_w.append(w.copy())
    out_gap.append(gap)
    out_it.append(max(sweeps, 1))
    out_ok.append(ok)
  return SparsePath(np.stack(out_w), np.asarray(out_gap, dtype), np.asarray(out_it, np.int32),
                    np.asarray(out_ok))
