r"""Proximal Newton with working sets, for non-quadratic datafits.

Minimises, over coefficients W (p, T) and intercepts b (T,),

    F(W, b) = f(XW + b) + P(W),

f a datafit's mean loss. Each outer step takes g = ∇f(η) and the diagonal
h = diag ∇²f(η) (both (n, T)) at η = XW + b and minimises the quadratic
model, over (Δ, δ) with R = XΔ + 1δᵀ,

    q(Δ, δ) = Σₜ [gₜᵀRₜ + ½ Σᵢ hᵢₜ Rᵢₜ²] + P(W + Δ),

by coordinate descent on a working set of blocks (every nonzero block, then
those with the largest optimality violations; twice as many as the nonzero
ones, at least ``ws_start``), each block b moved by a proximal step of
1/L_b, L_b = maxₜ λ_max(X_bᵀ diag(hₜ) X_b) (Σᵢ hᵢₜXᵢⱼ² for one row), and the
intercept by an exact Newton step.

With several outputs the model keeps the datafit's exact Hessian instead of
its diagonal (a Hessian-vector product of the gradient; the multinomial's
classes are coupled),

    q(Δ, δ) = Σᵢ [gᵢᵀRᵢ + ½ Rᵢᵀ ∇²ᵢf Rᵢ] + P(W + Δ):

a separable penalty then moves each entry (j, t) alone, by an exact
proximal Newton step along it (its curvature is Σᵢ hᵢₜXᵢⱼ²), and a block
penalty moves blocks by steps whose L_b uses Gershgorin's bound
∇²ᵢf ⪯ diag(hᵢ + Σ_{s≠t}|∇²ᵢf|ₜₛ) (twice the diagonal for the multinomial,
the diagonal itself where the outputs are independent).

With a smooth penalty (``L2``: ``coords.smooth``) there is no proximal
problem: the step is the Newton direction itself, (∇²f + ∇²P)(Δ, δ) = −∇F,
solved by conjugate gradients on Hessian-vector products (the exact,
coupled Hessian for several outputs), preconditioned by its diagonal
(truncated Newton: Nocedal & Wright, ch. 7). A coordinate model of the
coupled multinomial Hessian would take hundreds of steps where this takes
Newton's handful.

A backtracking line search on F along (Δ, δ) then takes the first
t ∈ {1, ½, ¼, …} with

    F(W + tΔ, b + tδ) ≤ F(W, b) + σ t Λ,   Λ = Σ g∘R + P(W + Δ) − P(W)

(Λ ≤ −½ Rᵀ∇²f R ≤ 0 whenever the model decreased), which keeps the method
a descent method where the curvature has no global bound (Poisson) or
jumps (Huber). It stops when the largest block violation, with |∂f/∂b|,
is at most ``tol``. Non-convex separable penalties (MCP, SCAD, Lp with
p < 1) enter only through their block proximal operators.

References:
  Lee, Sun & Saunders (2014), "Proximal Newton-type methods for minimizing
  composite functions", SIAM J. Optimization 24(3).
  Bertrand, Klopfenstein, Massias, Blondel, Vaiter, Gramfort & Salmon (2022),
  "Beyond L1: faster and better sparse models with skglm", NeurIPS (its
  ``ProxNewton`` solver).
  J. Nocedal & S. J. Wright (2006), "Numerical Optimization", 2nd ed.,
  ch. 7 (inexact Newton-CG).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxreg.linear.solvers import _common
from jaxreg.linear.solvers._common import SolverResult, block_violations, largest_violation

__all__ = ["solve"]

# Armijo's sufficient-decrease fraction (small: the full step of an
# approximate model is still worth taking when it decreases F at all).
_SIGMA = 1e-4
# Block curvatures are floored at this fraction of a reference curvature
# (a block whose rows all lie where h = 0, as Huber's outliers, would
# otherwise get an infinite step).
_FLOOR = 1e-6
# Smooth penalties: the relative residual each Newton system is solved to by
# conjugate gradients, and the most CG iterations per Newton step.
_CG_FORCING = 1e-4
_CG_MAX_ITER = 500


def block_lipschitz(X, blocks, h):
  """Per-block, per-output curvatures of W ↦ ∇f for a diagonal curvature h.

  For block b with columns X_b and curvature weights h (n, T),
  L_bt = λ_max(X_bᵀ diag(h_t) X_b), which is Σᵢ hᵢₜXᵢⱼ² for one-row blocks.

  Args:
    X: (n, p) design.
    blocks: (n_blocks, B) int rows of each block, padded with p.
    h: (n, T) nonnegative curvature weights (``hessian_diag``, or c/n).

  Returns:
    (n_blocks, T) array.
  """
  n = X.shape[0]
  Xp = jnp.concatenate([X, jnp.zeros((n, 1), X.dtype)], axis=1)
  if blocks.shape[1] == 1:
    return ((Xp * Xp).T @ h)[blocks[:, 0]]

  def one(idx):
    Xb = Xp[:, idx]                           # (n, B)
    grams = jnp.einsum("it,ij,ik->tjk", h, Xb, Xb)
    return jnp.linalg.eigvalsh(grams)[:, -1]

  return jax.vmap(one)(blocks)


class _Local(NamedTuple):
  """What a Newton step needs at the current point."""
  G: jax.Array          # ∇f(η), (n, T)
  H: jax.Array          # diag ∇²f(η), (n, T)
  gW: jax.Array         # XᵀG, (p, T)
  gb: jax.Array         # column sums of G, (T,) (0 without an intercept)
  lip: jax.Array        # (n_blocks, T) curvatures of the model along each block
  block_viol: jax.Array
  violation: jax.Array
  gap: Any = None       # the duality gap, with a gap_tol


class _State(NamedTuple):
  W: jax.Array
  b: jax.Array
  eta: jax.Array        # X W + b
  it: jax.Array         # Newton steps taken
  violation: jax.Array  # at (W, b), once measured
  active: jax.Array     # whether the last pass took a step
  gap: Any = None       # the duality gap at (W, b), with a gap_tol


def solve(X, Y, datafit, coords, W0, b0, *, fit_intercept, tol, max_iter,
          ws_start=10, max_epochs=50, max_backtrack=30, gap_tol=None):
  r"""Proximal Newton on f(XW + b) + P(W) with block CD inner solves.

  Args:
    X: (n, p) design.
    Y: (n, T) targets as ``datafits.prepare_targets`` makes them.
    datafit: a datafit (``value``, ``gradient``, ``hessian_diag``,
      ``curvature``).
    coords: ``jaxreg.penalties.coordinates(penalty, p, T)`` (``blocks``,
      ``block_prox``, ``block_violation``, ``value``).
    W0: (p, T) starting coefficients.
    b0: (T,) starting intercepts (kept fixed when ``fit_intercept`` is
      False).
    fit_intercept: whether b is optimised.
    tol: stop once the largest block violation (with |∂f/∂b|) is ≤ tol.
    gap_tol: and, if given, the duality gap (:func:`._common.duality_gap`)
      is ≤ gap_tol.
    max_iter: the most Newton steps.
    ws_start: the smallest working set (in blocks); it is otherwise twice
      the number of nonzero blocks.
    max_epochs: the most coordinate-descent epochs per Newton step (each
      stops earlier once its largest move is below 0.3 × the violation).
    max_backtrack: the most halvings of the line search; a step that
      finds no decrease (or moves nothing) ends the solve, with
      ``converged`` False unless the violation is already ≤ tol.

  Returns:
    ``SolverResult`` (W, b, n_iter = Newton steps, violation, converged).

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> from jaxreg.linear import datafits
    >>> from jaxreg.linear.solvers import prox_newton
    >>> X = jnp.array([[1., 0.], [0., 1.], [1., 1.], [2., 0.]])
    >>> Y = jnp.array([[0.], [1.], [1.], [0.]])
    >>> coords = jr.penalties.coordinates(jr.L1(0.01), 2, 1)
    >>> res = prox_newton.solve(X, Y, datafits.Logistic(), coords, jnp.zeros((2, 1)),
    ...                         jnp.zeros(1), fit_intercept=True, tol=1e-6, max_iter=50)
    >>> bool(res.converged)
    True

  References:
    Lee, Sun & Saunders (2014); Bertrand et al. (2022), skglm.
  """
  _common.check_gap_tol(gap_tol, datafit, coords)
  n, p = X.shape
  T = Y.shape[1]
  dtype = X.dtype
  W0 = jnp.asarray(W0, dtype)
  b0 = jnp.asarray(b0, dtype)
  tol = jnp.asarray(tol, dtype)
  blocks = jnp.asarray(coords.blocks)   # indexed by traced block numbers below
  n_blocks = blocks.shape[0]
  valid = (blocks < p)[:, :, None]                   # (n_blocks, B, 1)
  # Rows of XpT are the columns of X (and a zero one for padding): a block's
  # columns are then a gather of contiguous rows in the inner loops.
  XpT = jnp.concatenate([X.T, jnp.zeros((1, n), dtype)], axis=0)
  pad_row = jnp.zeros((1, T), dtype)
  curvature = getattr(datafit, "curvature", None)
  # ‖X_b‖₂²/n: the block curvature of a unit h, the floor's scale.
  base = block_lipschitz(X, blocks, jnp.full((n, T), 1.0 / n, dtype))
  tiny = jnp.sqrt(jnp.finfo(dtype).tiny)
  eps = jnp.finfo(dtype).eps
  # With several outputs the model keeps the datafit's exact Hessian
  # (multinomial classes are coupled); separable penalties then move entry
  # by entry.
  exact = T > 1
  entrywise = exact and coords.separable

  def penalty(W):
    return coords.value(W)

  def local(W, b, eta):
    """Gradient, curvature and violations at (W, b)."""
    G = datafit.gradient(Y, eta)
    H = datafit.hessian_diag(Y, eta)
    gW = X.T @ G
    gb = jnp.sum(G, axis=0) if fit_intercept else jnp.zeros((T,), dtype)
    ref = curvature if curvature is not None else n * jnp.max(H)
    lip = jnp.maximum(block_lipschitz(X, blocks, H), _FLOOR * ref * base)
    lip = jnp.maximum(lip, tiny)                    # (n_blocks, T)
    block_viol = block_violations(coords, W, gW, jnp.max(lip, axis=1))
    violation = largest_violation(block_viol, gb, fit_intercept)
    gap = None
    if gap_tol is not None:
      gap = _common.gap_at(datafit, coords, X, Y, eta, W, gW, jnp.max(lip, axis=1),
                           fit_intercept)
    return _Local(G, H, gW, gb, lip, block_viol, violation, gap)

  def newton_cg_direction(s, loc, model_hvp):
    """A smooth penalty (``coords.smooth``): the Newton direction itself,
    (∇²f + ∇²P)(Δ, δ) = −∇F, by conjugate gradients preconditioned with
    the Hessian's diagonal, to a relative residual of min(``_CG_FORCING``,
    the violation) (truncated Newton, quadratic near the solution). The multinomial's coupled classes enter through the
    exact Hessian-vector product. Returns (Δ, δ, R = XΔ + 1δᵀ)."""
    grad_pen, pen_hvp = jax.linearize(jax.grad(penalty), s.W)
    pen_diag = pen_hvp(jnp.ones_like(s.W))            # separable: its Hessian's diagonal

    def model(R):
      return X @ R[0] + (R[1] if fit_intercept else 0.0)

    def apply(v):
      HR = model_hvp(model(v))
      vb = jnp.sum(HR, axis=0) if fit_intercept else v[1]
      return X.T @ HR + pen_hvp(v[0]), vb

    diag_W = jnp.maximum((X * X).T @ loc.H + pen_diag, tiny)
    diag_b = jnp.maximum(jnp.sum(loc.H, axis=0), tiny) if fit_intercept else jnp.ones((T,), dtype)
    rhs = (-(loc.gW + grad_pen), -loc.gb)
    # Forcing term min(c, ‖∇F‖∞): Newton's quadratic rate near the solution
    # (Eisenstat & Walker), so the last step lands well inside tol.
    forcing = jnp.minimum(_CG_FORCING, loc.violation)
    (D, db), _ = jax.scipy.sparse.linalg.cg(
        apply, rhs, tol=forcing, maxiter=_CG_MAX_ITER,
        M=lambda v: (v[0] / diag_W, v[1] / diag_b))
    if not fit_intercept:
      db = jnp.zeros_like(db)
    return D, db, model((D, db))

  def newton_step(s, loc):
    """One damped proximal Newton step from s; returns (W, b, eta, stalled)."""
    Wp = jnp.concatenate([s.W, pad_row])
    gWp = jnp.concatenate([loc.gW, pad_row])
    # Working set: every nonzero block, then the largest violations.
    nonzero = jnp.any(Wp[blocks] != 0, axis=(1, 2))
    score = jnp.where(nonzero, jnp.inf, loc.block_viol)
    order = jnp.argsort(-score)
    ws_size = jnp.clip(2 * jnp.sum(nonzero), min(ws_start, n_blocks), n_blocks)
    tol_in = 0.3 * loc.violation
    h_int = jnp.maximum(jnp.sum(loc.H, axis=0), tiny)
    parts = getattr(datafit, "hessian_parts", None) if exact else None
    if exact:
      # R ↦ ∇²f(η)R, exact (the multinomial's Hessian is not diagonal):
      # from the datafit's structure diag(d) − uuᵀ per row where it states
      # one, else by differentiating its gradient.
      if parts is not None:
        Hd, U = parts(Y, s.eta)

        def hvp(R):
          return Hd * R if U is None else Hd * R - U * jnp.sum(U * R, axis=1, keepdims=True)
      else:
        _, hvp = jax.linearize(lambda e: datafit.gradient(Y, e), s.eta)
      if not entrywise:
        # Blocks of rows move by steps bounded with Gershgorin's circles:
        # each row's T × T Hessian is below diag(h + Σ|off-diagonal|).
        def add_column(t, off):
          col = hvp(jnp.zeros((n, T), dtype).at[:, t].set(1.0))   # column t of each row's
          return off + jnp.abs(col).at[:, t].set(0.0)             # Hessian, diagonal out

        off = lax.fori_loop(0, T, add_column, jnp.zeros((n, T), dtype))
        block_lip = jnp.max(jnp.maximum(block_lipschitz(X, blocks, loc.H + off), loc.lip),
                            axis=1)
    if not entrywise and not exact:
      block_lip = jnp.max(loc.lip, axis=1)

    def model_hvp(R):
      return hvp(R) if exact else loc.H * R

    def column(t, R, uR):
      # Column t of ∇²f R; O(n) with a stated structure, given uR = Σₜ UₜRₜ.
      if parts is None:
        return hvp(R)[:, t]
      c = Hd[:, t] * R[:, t]
      return c if U is None else c - U[:, t] * uR

    def with_moved(uR, t, delta):
      # uR once R[:, t] moved by delta.
      return uR if parts is None or U is None else uR + U[:, t] * delta

    def refreshed(uR, R):
      return uR if parts is None or U is None else jnp.sum(U * R, axis=1)

    def update_block(k, c):
      # A block of rows moves together by one prox step of the model.
      Wc, bc, R, uR, move = c
      j = order[k]
      idx = blocks[j]
      Xb = XpT[idx].T                                # (n, B)
      x = Wc[idx]                                    # (B, T)
      grad = gWp[idx] + Xb.T @ model_hvp(R)
      L = block_lip[j]
      x_new = coords.block_prox(x - grad / L, 1.0 / L, j)
      d = jnp.where(valid[j], x_new - x, 0.0)
      R = R + Xb @ d
      Wc = Wc.at[idx].add(d)
      return Wc, bc, R, refreshed(uR, R), jnp.maximum(move, L * jnp.sqrt(jnp.sum(d * d)))

    def update_entries(k, c):
      # A separable penalty with several outputs: each entry (j, t) moves
      # alone on the exact quadratic model, whose curvature along it is
      # Σᵢ hᵢₜXᵢⱼ² even where the outputs are coupled (multinomial).
      Wc, bc, R, uR, move = c
      j = order[k]
      row = blocks[j, 0]
      xj = XpT[row]

      def entry(t, cc):
        Wc, R, uR, move = cc
        grad = gWp[row, t] + xj @ column(t, R, uR)
        L = loc.lip[j, t]
        x = Wc[row, t]
        x_new = coords.block_prox(jnp.reshape(x - grad / L, (1, 1)), 1.0 / L, j)[0, 0]
        d = jnp.where(row < p, x_new - x, 0.0)
        return (Wc.at[row, t].add(d), R.at[:, t].add(xj * d), with_moved(uR, t, xj * d),
                jnp.maximum(move, L * jnp.abs(d)))

      Wc, R, uR, move = lax.fori_loop(0, T, entry, (Wc, R, uR, move))
      return Wc, bc, R, uR, move

    def intercept(bc, R, uR, move):
      # The unpenalised intercept: an exact Newton step of the model (one
      # output at a time where the outputs are coupled).
      if not exact:
        g_int = loc.gb + jnp.sum(loc.H * R, axis=0)
        d_int = -g_int / h_int
        return bc + d_int, R + d_int, uR, jnp.maximum(move, jnp.max(jnp.abs(g_int)))

      def one(t, c):
        bc, R, uR, move = c
        g_t = loc.gb[t] + jnp.sum(column(t, R, uR))
        d_t = -g_t / h_int[t]
        return (bc.at[t].add(d_t), R.at[:, t].add(d_t), with_moved(uR, t, d_t),
                jnp.maximum(move, jnp.abs(g_t)))

      return lax.fori_loop(0, T, one, (bc, R, uR, move))

    def epoch(c):
      Wc, bc, R, uR, _, e = c
      Wc, bc, R, uR, move = lax.fori_loop(
          0, ws_size, update_entries if entrywise else update_block,
          (Wc, bc, R, uR, jnp.zeros((), dtype)))
      if fit_intercept:
        bc, R, uR, move = intercept(bc, R, uR, move)
      return Wc, bc, R, uR, move, e + 1

    def inner_running(c):
      return (c[5] < max_epochs) & (c[4] > tol_in)

    if coords.smooth:
      D, db, R = newton_cg_direction(s, loc, model_hvp)
    else:
      Wc, bc, R, _, _, _ = lax.while_loop(
          inner_running, epoch,
          (Wp, s.b, jnp.zeros((n, T), dtype), jnp.zeros((n,), dtype),
           jnp.asarray(jnp.inf, dtype), 0))
      D = Wc[:p] - s.W
      db = bc - s.b

    # Armijo backtracking on F along (D, db).
    f0 = datafit.value(Y, s.eta)
    P0 = penalty(s.W)
    F0 = f0 + P0
    decrease = jnp.sum(loc.G * R) + penalty(s.W + D) - P0
    # Near the solution the decrease is below the rounding of F: a full step
    # equal to F up to rounding is then taken (the violation, not the line
    # search, decides when to stop).
    level = 16.0 * eps * jnp.abs(F0)

    def F_at(t):
      return datafit.value(Y, s.eta + t * R) + penalty(s.W + t * D)

    def accepted(t, F_t):
      return (F_t <= F0 + _SIGMA * t * decrease) | ((t == 1.0) & (F_t <= F0 + level))

    def shorter(c):
      t, _, k = c
      t = 0.5 * t
      return t, F_at(t), k + 1

    def searching(c):
      t, F_t, k = c
      return ~accepted(t, F_t) & (k < max_backtrack)

    one = jnp.ones((), dtype)
    t, F_t, _ = lax.while_loop(searching, shorter, (one, F_at(one), 0))
    ok = accepted(t, F_t)
    t = jnp.where(ok, t, 0.0)
    W = s.W + t * D
    b = s.b + t * db
    eta = X @ W + b
    # No decrease found, or a step that moves nothing: more steps would
    # repeat it.
    stalled = ~ok | (jnp.all(W == s.W) & jnp.all(b == s.b))
    return W, b, eta, stalled

  def one_pass(s):
    # Measure at the current point, then step unless it is optimal or the
    # budget is spent: the last pass measures the final point, so the
    # gradient is computed once per step.
    loc = local(s.W, s.b, s.eta)
    stepping = ~_common.done(loc.violation, tol, loc.gap, gap_tol) & (s.it < max_iter)
    W, b, eta, stalled = lax.cond(
        stepping, lambda: newton_step(s, loc),
        lambda: (s.W, s.b, s.eta, jnp.zeros((), bool)))
    return _State(W, b, eta, s.it + stepping.astype(s.it.dtype), loc.violation,
                  stepping & ~stalled, loc.gap)

  inf = jnp.asarray(jnp.inf, dtype)
  state = _State(W0, b0, X @ W0 + b0, jnp.zeros((), jnp.int32), inf, jnp.ones((), bool),
                 None if gap_tol is None else inf)
  state = lax.while_loop(lambda s: s.active, one_pass, state)
  return SolverResult(state.W, state.b, state.it, state.violation,
                      _common.done(state.violation, tol, state.gap, gap_tol), state.gap)
