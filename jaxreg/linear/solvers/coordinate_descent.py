r"""Working-set block coordinate descent, generic over datafit × penalty.

Minimises

.. math::  F(W, b) = f(Y, XW + 1b^\top) + P(W)

for any datafit f with a curvature bound c (``datafit.curvature``: the
gradient of f in block g is Lipschitz with constant
L_g = c‖X_g‖₂²/n) and any penalty P seen through its solver view
(:func:`jaxreg.penalties.coordinates`): a block update is one proximal
gradient step on that block,

.. math::  W_g \leftarrow \mathrm{prox}_{P_g/L_g}\big(W_g - \nabla_g f / L_g\big),

which is exact minimisation for the lasso and a majorise-minimise step
otherwise, so the objective never increases, convex penalty or not
(skglm's ``AndersonCD``).

Strategy:

1. an outer iteration computes the full gradient Xᵀ∇f and every block's
   optimality violation (the distance from −∇_g f to ∂P_g, or the
   prox-gradient mapping where P is not convex) and stops when the largest,
   with the intercept's gradient, is at most ``tol`` and, given a
   ``gap_tol``, the duality gap is at most that (``_common.duality_gap``;
   in Gram mode from ‖R‖² = ‖Y‖² − 2⟨W, XᵀY⟩ + ⟨W, XᵀXW⟩);
2. otherwise a working set: the blocks holding non-zero coefficients and
   the most violating others, max(ws_start, 2·|support|, the last size) of
   them, in priority order. From 1024 blocks on it is gathered into the
   smallest of a few static capacities (256, 1024, ... blocks, 2n
   coordinates in residual mode, then all: :func:`capacities`), each a
   compiled branch, so that an update costs O(working set); smaller
   problems run one program over the priority order of all blocks, which
   compiles 2-3× faster;
3. the inner loop sweeps the working set cyclically until the largest
   violation seen during a sweep is below 0.3 × the outer one (skglm's
   rule). For the squared loss with n ≥ p the Gram matrix XᵀX/n stands in
   for X; a compacted squared-loss working set of up to max(2n, 1024)
   coordinates gets its own Gram block X_AᵀX_A/n; otherwise the columns
   and the linear predictor are kept, O(n) an update, and the intercept of
   a non-quadratic datafit is updated once per sweep with step 1/c;
4. every ``anderson`` sweeps an Anderson extrapolation of the last iterates
   is tried and kept where it lowers the objective (Bertrand & Massias
   2021); for separable penalties with the squared loss, Newton steps on
   the current support and signs are tried when a sweep changed no sign and
   every few sweeps, and kept where they lower the objective
   (:func:`_newton_steps`; on the Gram block, or for convex penalties on
   X_SᵀX_S formed from the columns): they end the slow linear tail of CD
   on ill-conditioned designs;
5. for the squared loss the data are centered, so the intercept is exact.

Under ``jax.vmap`` a ``lax.switch`` or ``lax.cond`` would run every branch
in every lane, so a batch runs the uncompacted program without Newton
steps, through a custom batching rule.

References:
  Tseng & Yun (2009), "A coordinate gradient descent method for nonsmooth
  separable minimization".
  Massias, Gramfort & Salmon (2018), "Celer" (working sets).
  Bertrand & Massias (2021), "Anderson acceleration of coordinate descent".
  Bertrand et al. (2022), "Beyond L1: faster and better sparse models with
  skglm".
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.linalg
from jax import lax

from jaxreg.linear import _data
from jaxreg.linear.solvers import _common
from jaxreg.linear.solvers._common import SolverResult, block_violations, largest_violation

__all__ = ["solve"]

# The inner loop stops once the largest violation of a sweep is this
# fraction of the outer one (skglm: 0.3).
_INNER_RATIO = 0.3
# Problems with at least this many blocks gather their working sets into
# static capacities (below it, one program over all blocks compiles 2-3×
# faster, and runs about as fast: measured on 200 × 500 and 1000 × 300).
_COMPACT_MIN = 1024
# Working-set capacities grow by this factor from _SMALLEST blocks up.
_SMALLEST = 256
_GROWTH = 4
# A capacity within this factor of the next one is dropped (below 256 slots,
# within the second).
_MERGE = 1.25
_MERGE_SMALL = 1.6
# In residual mode a squared-loss working set of up to max(2n, 1024)
# coordinates gets its own Gram block (O(m) per update rather than O(n)).
_GRAM_ROWS = 2
_GRAM_ALWAYS = 1024
# Newton steps: tried on working sets of at least _NEWTON_MIN coordinates
# whose support has at most _NEWTON_SUPPORT, at most _NEWTON_STEPS in a row
# (while each drops a coefficient). Below _NEWTON_MIN a sweep costs
# microseconds, and the step's code would add a second to the compile time.
_NEWTON_MIN = 128
_NEWTON_SUPPORT = 256
_NEWTON_STEPS = 16
# Sweeps between Newton tries when the signs keep changing.
_NEWTON_PERIOD = 8


def _block_lipschitz(Xt_pad, blocks, n, c):
  """c‖X_g‖₂²/n per block (the column norm for one-column blocks)."""
  if blocks.shape[1] == 1:
    return c * jnp.sum(Xt_pad[blocks[:, 0]] ** 2, axis=1) / n
  def one(idx):
    Xg = Xt_pad[idx]
    return jnp.linalg.norm(Xg @ Xg.T, 2)
  return c * jax.vmap(one)(blocks) / n


def _anderson(hist):
  """The Anderson combination of the rows of ``hist`` (M+1 iterates)."""
  U = jnp.diff(hist, axis=0)
  UU = U @ U.T
  scale = jnp.maximum(jnp.trace(UU), jnp.finfo(hist.dtype).tiny)
  z = jnp.linalg.solve(UU / scale + 1e-10 * jnp.eye(UU.shape[0], dtype=hist.dtype),
                       jnp.ones(UU.shape[0], hist.dtype))
  c = z / jnp.sum(z)
  return c @ hist[1:]


def capacities(total, extra=(), smallest=_SMALLEST, below=None):
  """The static working-set sizes: smallest, 4·smallest, ... below ``total``, then ``total``.

  Each is one compiled branch; a working set of k blocks runs in the
  smallest capacity ≥ k, so a sweep costs O(k·K) rather than O(k·p). A
  branch costs 1.5-2.5 s of compile time on a 2-core CPU, so they are
  few: a growth of 4, and a size within 1.25× of the next one is dropped
  (within 1.6× below 256, where a coordinate update's cost is mostly its
  fixed overhead and the padding costs little). Measured on a 50-α MCP
  path on 200 × 5000 (capacities 256, 400, 1024, 4096, 5000 before): its
  first call took 9.6-10 s rather than 9.9-12 s without 4096; dropping 256
  as well (400 is next) saved 2-3 s more but made the warm time 35%
  slower. ``extra`` adds sizes within that range; ``below`` stops the
  powers there (the extra sizes then take over).

  Example:
    >>> capacities(5000, extra=(400,))
    (256, 400, 1024, 5000)
  """
  stop = total if below is None else min(total, below)
  sizes = {e for e in extra if smallest <= e < total}
  K = smallest
  while K < stop:
    sizes.add(K)
    K *= _GROWTH
  sizes = sorted(sizes) + [total]
  return tuple(s for s, nxt in zip(sizes[:-1], sizes[1:])
               if nxt >= (_MERGE_SMALL if s < 256 else _MERGE) * s) + (total,)


class _GramBlock(NamedTuple):
  """A squared-loss working set as its Gram block: an update costs O(m)."""

  QA: jax.Array   # (m, m) X_Aᵀ X_A / n
  rA: jax.Array   # (m, T) X_Aᵀ (Y − X_rest W_rest) / n: the gradient is QA wA − rA

  def init(self, wA, b):
    return self.QA @ wA

  def grad(self, aux, rows):
    return aux[rows] - self.rA[rows]

  def move(self, aux, rows, delta):
    # QA is symmetric: its rows are contiguous, its columns strided.
    return aux + self.QA[rows].T @ delta

  def shift(self, aux, step):
    return aux

  def smooth(self, wA, aux):
    """The datafit up to a constant."""
    return 0.5 * jnp.sum(wA * aux) - jnp.sum(wA * self.rA)

  def support_system(self, aux, si):
    """(Q_SS, gradient on S) for the coordinates si (padded with m), one output."""
    QS = self.QA.at[si[:, None], si[None, :]].get(mode="fill", fill_value=0)
    return QS, (aux[:, 0] - self.rA[:, 0]).at[si].get(mode="fill", fill_value=0)

  def support_move(self, aux, si, dS):
    return aux + (self.QA.at[:, si].get(mode="fill", fill_value=0) @ dS)[:, None]


class _ResidualBlock(NamedTuple):
  """A working set as its columns, with the linear predictor η maintained: O(n) per update."""

  XA: jax.Array    # (m, n) X_Aᵀ
  Y: jax.Array
  base: jax.Array  # (n, T) X_rest W_rest
  datafit: object

  def init(self, wA, b):
    return self.base + self.XA.T @ wA + b

  def grad(self, eta, rows):
    return self.XA[rows] @ self.datafit.gradient(self.Y, eta)

  def move(self, eta, rows, delta):
    return eta + self.XA[rows].T @ delta

  def shift(self, eta, step):
    return eta - step

  def smooth(self, wA, eta):
    return self.datafit.value(self.Y, eta)

  def support_system(self, eta, si):
    """(X_SᵀX_S/n, gradient on S) for the squared loss, one output."""
    XS = self.XA.at[si].get(mode="fill", fill_value=0)
    return XS @ XS.T / XS.shape[1], XS @ self.datafit.gradient(self.Y, eta)[:, 0]

  def support_move(self, eta, si, dS):
    return eta + (self.XA.at[si].get(mode="fill", fill_value=0).T @ dS)[:, None]


def solve(X, Y, datafit, coords, W0, b0, *, fit_intercept=True, tol=1e-6, max_iter=1000,
          ws_start=16, anderson=5, gram=None, compact=None, gap_tol=None):
  """Minimises datafit(Y, XW + b) + penalty(W) by working-set block CD.

  Args:
    X: design, shape (n, p).
    Y: targets, shape (n, T) (see ``datafits.prepare_targets``).
    datafit: a datafit with a curvature bound (not ``Poisson``: use
      :mod:`.prox_newton`).
    coords: the penalty's solver view, ``penalties.coordinates(pen, p, T)``.
    W0, b0: the starting point, shapes (p, T) and (T,).
    fit_intercept: fit b (unpenalized).
    tol: stop when the largest block violation (and |∂f/∂b|) is ≤ tol.
    gap_tol: and, if given, the duality gap (:func:`._common.duality_gap`)
      is ≤ gap_tol (a datafit with a conjugate and a "norm + ridge"
      penalty: :func:`._common.has_gap`).
    max_iter: cap on the total number of sweeps.
    ws_start: the smallest working set.
    anderson: sweeps between extrapolation attempts (0: none).
    gram: use the Gram matrix (squared loss only); None picks it when n ≥ p.
    compact: gather each working set into the smallest of a few static
      capacities (see :func:`capacities`), one compiled branch each; None
      does so from 1024 blocks on. Under ``jax.vmap`` the solver runs the
      uncompacted program without Newton steps by itself (batched, a
      ``lax.switch`` or ``lax.cond`` runs every branch in every lane).
  Returns:
    A :class:`SolverResult`.

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> from jaxreg.linear import datafits
    >>> from jaxreg.linear.solvers import coordinate_descent
    >>> X = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]); Y = jnp.array([[1.0], [2.0], [3.0]])
    >>> co = jr.penalties.coordinates(jr.L1(0.1), 2, 1)
    >>> r = coordinate_descent.solve(X, Y, datafits.Squared(), co, jnp.zeros((2, 1)), jnp.zeros(1))
    >>> bool(r.converged)
    True
  """
  if datafit.curvature is None:
    raise ValueError(f"{type(datafit).__name__} has no curvature bound; coordinate descent needs "
                     "one (use solver='prox_newton').")
  _common.check_gap_tol(gap_tol, datafit, coords)
  if compact is None:
    compact = coords.n_blocks >= _COMPACT_MIN
  kw = dict(datafit=datafit, fit_intercept=bool(fit_intercept), max_iter=int(max_iter),
            ws_start=int(ws_start), anderson=int(anderson), gram=gram, with_gap=gap_tol is not None)
  args = (X, Y, coords, jnp.asarray(W0, X.dtype), jnp.asarray(b0, X.dtype),
          jnp.asarray(tol, X.dtype), jnp.asarray(0.0 if gap_tol is None else gap_tol, X.dtype))
  @jax.custom_batching.custom_vmap
  def run(X, Y, coords, W0, b0, tol, gap_tol):
    return _solve(X, Y, coords, W0, b0, tol, gap_tol, compact=bool(compact), batched=False,
                  **kw)

  @run.def_vmap
  def _batched(axis_size, in_batched, *args):
    axes = tuple(jax.tree_util.tree_map(lambda b: 0 if b else None, a) for a in in_batched)
    out = jax.vmap(functools.partial(_solve, compact=False, batched=True, **kw),
                   in_axes=axes)(*args)
    return out, jax.tree_util.tree_map(lambda _: True, out)

  return run(*args)


def _solve(X, Y, coords, W0, b0, tol, gap_tol, *, datafit, fit_intercept, max_iter, ws_start,
           anderson, gram, compact, batched, with_gap):
  dtype = X.dtype
  n, p = X.shape
  T = Y.shape[1]
  quadratic = bool(getattr(datafit, "quadratic", False))
  use_gram = quadratic and (n >= p if gram is None else bool(gram))
  # Squared loss: centering makes the optimal intercept a closed form.
  center = quadratic and fit_intercept
  if center:
    X, Y, x_mean, y_mean, _ = _data.center(X, Y, True)
  blocks_np = coords.blocks
  G, B = blocks_np.shape
  blocks = jnp.asarray(blocks_np)
  Xt_pad = jnp.concatenate([X.T, jnp.zeros((1, n), dtype)], axis=0)
  c = jnp.asarray(datafit.curvature, dtype)
  Lb = _block_lipschitz(Xt_pad, blocks, n, c)
  Lsafe = jnp.where(Lb > 0, Lb, 1.0)
  fit_b = fit_intercept and not center
  newton_ok = quadratic and coords.separable and T == 1

  if use_gram:
    Q = jnp.concatenate([Xt_pad @ X, jnp.zeros((p + 1, 1), dtype)], axis=1) / n  # (p+1, p+1)
    q = Xt_pad @ Y / n                                                             # (p+1, T)
    y2 = jnp.sum(Y * Y) / n

  def full_grad(W_pad, eta):
    if use_gram:
      return Q @ W_pad - q
    return Xt_pad @ datafit.gradient(Y, eta)

  def predictor(W_pad, b):
    if use_gram:
      return jnp.zeros((), dtype)
    return X @ W_pad[:p] + b

  def violations(W_pad, eta):
    """Each block's violation (0 for all-zero columns), the largest (the
    intercept's included), and the duality gap (None without a gap_tol)."""
    Gfull = full_grad(W_pad, eta)
    v = jnp.where(Lb > 0, block_violations(coords, W_pad[:p], Gfull[:p], Lsafe), 0.0)
    gb = jnp.sum(datafit.gradient(Y, eta), axis=0) if fit_b else jnp.zeros((T,), dtype)
    vmax = largest_violation(v, gb, fit_b)
    if not with_gap:
      return v, vmax, None
    W = W_pad[:p]
    if not use_gram:
      return v, vmax, _common.gap_at(datafit, coords, X, Y, eta, W, Gfull[:p], Lb, fit_b)
    # ‖R‖²/n and ⟨R, Y⟩/n from QW = ∇ + q (R is not kept in Gram mode).
    wq = jnp.sum(W * q[:p])
    smooth = _common.squared_smooth_gap(y2 - 2.0 * wq + jnp.sum(W * (Gfull[:p] + q[:p])),
                                        y2 - wq)
    return v, vmax, _common.duality_gap(coords, W, Gfull[:p], smooth, Lb)

  def make_block(W_pad, eta, b, cols, m):
    """The working set's data (columns ``cols``, (m,), padded with p)."""
    wA = W_pad[cols]
    if use_gram:
      QA = Q[cols][:, cols]
      # The gradient in A is Q[A]W − q[A] = QA wA − (q[A] − Q[A, rest] W_rest).
      return _GramBlock(QA, q[cols] - (Q[cols] @ W_pad - QA @ wA))
    XA = Xt_pad[cols]
    base = eta - XA.T @ wA - b
    # Built once per working set (O(m²n)): worth it for compacted sets only.
    if quadratic and compact and m <= max(_GRAM_ROWS * n, _GRAM_ALWAYS):
      return _GramBlock(XA @ XA.T / n, XA @ (Y - base) / n)
    return _ResidualBlock(XA, Y, base, datafit)

  def sub_solve(W_pad, eta, b, ws, k, target, it, K):
    """CD on the working set ws[:k] (block ids), compacted into K block slots."""
    slot_blocks = ws[:K]
    valid = jnp.arange(K) < k
    if K == G:
      # Every block has a slot: CD runs on W itself, in the priority order,
      # with no copy of the data (a gathered Gram block would cost O(p²)
      # per working set: twice the run time of a 100-α group-lasso path on
      # 2000 × 500).
      m = p + 1
      cols = jnp.arange(m)
      lrows = jnp.where(valid[:, None], blocks[slot_blocks], p)
      real = (lrows < p)[:, :, None]
      kept = (cols < p)[:, None]
      if use_gram:
        data = _GramBlock(Q, q)
      else:
        # η = XW + b on entry (the last sub-solve or the start recomputed it).
        data = _ResidualBlock(Xt_pad, Y, jnp.zeros_like(Y), datafit)
    else:
      m = K * B
      cols = jnp.where(valid[:, None], blocks[slot_blocks], p).reshape(m)
      lrows = jnp.arange(m).reshape(K, B)
      real = (cols < p).reshape(K, B, 1)
      kept = real.reshape(m, 1)
      data = make_block(W_pad, eta, b, cols, m)
    wA0 = W_pad[cols]

    def penalty_value(wA):
      # The rows outside A do not move: their penalty is a constant.
      return coords.value(W_pad.at[cols].set(wA)[:p])

    def objective(wA, aux):
      return data.smooth(wA, aux) + penalty_value(wA)

    def update(s, carry):
      wA, aux, worst = carry
      g = slot_blocks[s]
      rows = lrows[s]
      x = wA[rows]
      grad = data.grad(aux, rows)
      L = Lsafe[g]
      viol = coords.block_violation(x, grad, g, L)
      new = coords.block_prox(x - grad / L, 1.0 / L, g)
      new = jnp.where(real[s] & (Lb[g] > 0), new, x)
      return wA.at[rows].set(new), data.move(aux, rows, new - x), jnp.maximum(worst, viol)

    def intercept_step(aux, b):
      if not fit_b:
        return aux, b, jnp.zeros((), dtype)
      gb = jnp.sum(datafit.gradient(Y, aux), axis=0)
      step = gb / c
      return data.shift(aux, step), b - step, jnp.max(jnp.abs(gb))

    # Without a Gram block a try costs O(|S|²n) to form X_SᵀX_S: kept for
    # convex penalties, where steps are mostly accepted (measured: the 100-α
    # lasso path on 200 × 500 3× faster; MCP's paths slower, its steps
    # rejected more often).
    use_newton = ((not batched) and newton_ok and m >= _NEWTON_MIN
                  and (isinstance(data, _GramBlock) or coords.convex))

    def newton(wA, aux):
      return _newton_steps(data, wA, aux, cols, coords, m)

    n_hist = max(anderson, 1) + 1

    def cond(s):
      _, _, _, epoch, worst, _, it, _ = s
      return (it < max_iter) & ((epoch == 0) | (worst > target))

    def body(s):
      wA, aux, b, epoch, _, hist, it, last = s
      signs = jnp.sign(wA)
      wA, aux, worst = lax.fori_loop(0, k, update, (wA, aux, jnp.zeros((), dtype)))
      aux, b, vb = intercept_step(aux, b)
      worst = jnp.maximum(worst, vb)
      epoch = epoch + 1
      restart = jnp.zeros((), bool)
      if use_newton:
        # Once CD has found the support and its signs, one Newton step on
        # that orthant lands where CD converges only linearly (at a rate set
        # by the conditioning of the support's Gram block). Tried when a
        # sweep changed no sign, and every _NEWTON_PERIOD sweeps.
        settled = jnp.all(jnp.sign(wA) == signs) & (epoch - last >= 2)
        go = (settled | (epoch - last >= _NEWTON_PERIOD)) & (worst > target)
        wA, aux = lax.cond(go, newton, lambda w, a: (w, a), wA, aux)
        last = jnp.where(go, epoch, last)
        restart = go
      if anderson:
        hist = jnp.roll(hist, -1, axis=0).at[-1].set(wA)
        def extrapolate(args):
          wA, aux = args
          w_acc = _anderson(hist.reshape(n_hist, -1)).reshape(wA.shape)
          w_acc = jnp.where(kept, w_acc, 0.0)
          aux_acc = data.init(w_acc, b)
          better = objective(w_acc, aux_acc) < objective(wA, aux)
          better = better & jnp.all(jnp.isfinite(w_acc))
          return jnp.where(better, w_acc, wA), jnp.where(better, aux_acc, aux)
        # A Newton step is not a CD iterate: the history starts over.
        hist_len = jnp.where(restart, 0, epoch - last if use_newton else epoch)
        ready = (hist_len > anderson) & ((hist_len - anderson - 1) % anderson == 0)
        wA, aux = lax.cond(ready & (worst > target), extrapolate, lambda a: a, (wA, aux))
      return wA, aux, b, epoch, worst, hist, it + 1, last

    hist0 = jnp.zeros((n_hist, m, T), dtype)
    zero = jnp.zeros((), jnp.int32)
    s = (wA0, data.init(wA0, b), b, zero, jnp.asarray(jnp.inf, dtype), hist0, it, zero - 2)
    wA, aux, b, _, _, _, it, _ = lax.while_loop(cond, body, s)
    W_pad = W_pad.at[cols].set(wA).at[p].set(0.0)
    eta = predictor(W_pad, b) if not use_gram else eta
    return W_pad, eta, b, it

  # Residual mode: a squared-loss working set of up to 2n coordinates is
  # its Gram block (worth building there), and a lasso support has at most
  # n non-zeros, so working sets of about 2n are common: a capacity of 2n.
  extra = (_GRAM_ROWS * n // B,) if (quadratic and not use_gram) else ()
  n_slots = capacities(G, extra) if compact else (G,)

  def unfinished(vmax, gap):
    return ~_common.done(vmax, tol, gap, gap_tol if with_gap else None)

  def outer_cond(s):
    _, _, _, it, vmax, gap, _ = s
    return unfinished(vmax, gap) & (it < max_iter)

  def outer_body(s):
    W_pad, eta, b, it, _, _, ws_size = s
    v, vmax, gap = violations(W_pad, eta)
    support = jnp.any(W_pad[blocks] != 0, axis=(1, 2))
    nnz = jnp.sum(support, dtype=jnp.int32)
    ws_size = jnp.clip(jnp.maximum(jnp.maximum(ws_size, 2 * nnz), ws_start), 1, G)
    ws_size = ws_size.astype(jnp.int32)
    # The support first, then the most violating blocks.
    order = jnp.argsort(-jnp.where(support, jnp.inf, v)).astype(jnp.int32)
    target = jnp.maximum(_INNER_RATIO * vmax, tol)
    branches = [functools.partial(sub_solve, K=K) for K in n_slots]
    which = jnp.searchsorted(jnp.asarray(n_slots), ws_size).astype(jnp.int32)

    def run(args):
      if len(branches) == 1:
        return branches[0](*args)
      return lax.switch(which, branches, *args)

    W_pad, eta, b, it = lax.cond(unfinished(vmax, gap), run, lambda a: a[:3] + (a[6],),
                                 (W_pad, eta, b, order, ws_size, target, it))
    return W_pad, eta, b, it, vmax, gap, ws_size

  W_pad = jnp.concatenate([W0, jnp.zeros((1, T), dtype)], axis=0)
  b = jnp.zeros((T,), dtype) if (center or not fit_intercept) else b0
  eta = predictor(W_pad, b)
  inf = jnp.asarray(jnp.inf, dtype)
  s = (W_pad, eta, b, jnp.zeros((), jnp.int32), inf, inf if with_gap else None,
       jnp.zeros((), jnp.int32))
  W_pad, eta, b, it, _, _, _ = lax.while_loop(outer_cond, outer_body, s)
  _, vmax, gap = violations(W_pad, eta)
  W = W_pad[:p]
  if center:
    b = y_mean - x_mean @ W
  return SolverResult(W, b, it, vmax, ~unfinished(vmax, gap), gap)


def _newton_steps(data, wA, aux, cols, coords, m):
  r"""Newton steps on the current support and signs of a squared-loss working set.

  On the orthant of the current signs a separable penalty is smooth, and
  the working-set objective ½wᵀQw − rᵀw + P(w) has the Newton step
  d_S = −(Q_SS + diag P''(w_S) + δI)⁻¹ (Q_S w − r_S + P'(w_S)) on the
  support S (δ, a rounding-level ridge, keeps the factorization defined).
  The step length is the exact minimiser of the quadratic model along d,
  cut at the first coefficient that reaches 0, which is dropped (an
  active-set step); the step is kept only if the objective decreases. For
  the lasso and the elastic net the model is exact: one step lands on the
  orthant's minimiser, which CD approaches only linearly. Where |S| exceeds
  the rank of X_S, the ridge turns d into a null-space direction along
  which the penalty decreases: the line search walks to the orthant's
  boundary, towards a support of full column rank. A step that dropped a
  coefficient is followed at once by one on the smaller support (up to
  ``_NEWTON_STEPS``): CD sweeps in between would restore it.

  References:
    Osborne, Presnell & Turlach (2000), "A new approach to variable
    selection in least squares problems".
  """
  dtype = wA.dtype
  p = coords.n_features

  def entries(x, rows):
    return jnp.sum(coords.entry_value(x[:, None], rows)[:, 0])

  def step_in(Ks):
    def step(w, aux):
      S = w != 0
      si = jnp.nonzero(S, size=Ks, fill_value=m)[0]
      sv = si < m
      get = lambda v: v.at[si].get(mode="fill", fill_value=0)
      rows = jnp.where(sv, cols.at[si].get(mode="fill", fill_value=p), p)
      QS, gS = data.support_system(aux, si)
      wS = get(w)
      d1 = jax.grad(entries)(wS, rows)
      d2 = jax.jvp(lambda x: jax.grad(entries)(x, rows), (wS,), (jnp.ones_like(wS),))[1]
      d1 = jnp.where(sv, d1, 0.0)
      d2 = jnp.where(sv, d2, 0.0)
      gS = jnp.where(sv, gS + d1, 0.0)
      dq = jnp.where(sv, jnp.diagonal(QS), 0.0)
      delta = 100.0 * jnp.finfo(dtype).eps * jnp.max(dq, initial=0.0) + jnp.finfo(dtype).tiny
      M = QS + jnp.diag(jnp.where(sv, d2 + delta, 1.0))
      dS = -jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(M), gS)
      dS = jnp.where(sv, dS, 0.0)
      slope = jnp.dot(gS, dS)
      curv = jnp.dot(dS, QS @ dS) + jnp.dot(d2 * dS, dS)
      t_opt = jnp.where(curv > 0, -slope / jnp.where(curv > 0, curv, 1.0), jnp.inf)
      sg = jnp.sign(wS)
      cross = sv & (dS * sg < 0)
      tj = jnp.where(cross, -wS / jnp.where(cross, dS, 1.0), jnp.inf)
      t = jnp.minimum(t_opt, jnp.min(tj, initial=jnp.inf))
      ok = (slope < 0) & jnp.isfinite(t) & (t > 0) & jnp.all(jnp.isfinite(dS))
      t = jnp.where(ok, t, 0.0)
      dropped = cross & (tj <= t)
      wS_new = jnp.where(dropped, 0.0, wS + t * dS)
      step_S = wS_new - wS
      # The datafit is quadratic: its change along the step is exact. The
      # penalty's is measured, so non-convex penalties stay monotone too.
      g_smooth = gS - d1
      change = (jnp.dot(g_smooth, step_S) + 0.5 * jnp.dot(step_S, QS @ step_S)
                + entries(wS_new, rows) - entries(wS, rows))
      ok = ok & (change <= 0)
      step_S = jnp.where(ok, step_S, 0.0)
      w = w.at[si].add(step_S, mode="drop")
      return w, data.support_move(aux, si, step_S), ok & jnp.any(dropped)
    return step

  def run(Ks):
    def go(w, aux):
      def cond(c):
        return c[2] & (c[3] < _NEWTON_STEPS)

      def body(c):
        w, aux, _, i = c
        w, aux, dropped = step_in(Ks)(w, aux)
        return w, aux, dropped, i + 1

      w, aux, _, _ = lax.while_loop(cond, body, (w, aux, jnp.ones((), bool),
                                                 jnp.zeros((), jnp.int32)))
      return w, aux
    return go

  w = wA[:, 0]
  # The support in at most half the working set's slots (8× cheaper than all
  # of them), and at most _NEWTON_SUPPORT: a support that does not fit gets
  # no step (factorizing a system that large costs dozens of sweeps).
  Ks = m if m < 2 * _NEWTON_MIN else min(m // 2, _NEWTON_SUPPORT)
  w, aux = lax.cond(jnp.sum(w != 0) <= Ks, run(Ks), lambda w, a: (w, a), w, aux)
  return w[:, None], aux
