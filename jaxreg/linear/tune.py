r"""Gradient-based tuning of α: minimise a validation loss over log α.

The validation loss of a fitted model, V(α) = loss_val(w*(α), b*(α)), is
differentiable in α almost everywhere, and its gradient costs one linear solve
with the training Hessian restricted to the support (implicit
differentiation, see :mod:`jaxreg.linear.fit`). :func:`tune` minimises V over
log α on a held-out set; :func:`tune_cv` minimises the mean held-out mean
squared error of K-fold cross-validation. Each fit starts from the previous
step's solution.

The search does not depend on the start where it need not. For the lasso
and elastic net V is flat above α_max (every fit is 0 there), so the
minimum lies in [eps·α_max, α_max]: a scan from α_max down, warm-started
as a path, brackets the lowest minimum at the scan's resolution, and a
safeguarded cubic search with derivatives (Brent's ``dbrent``) refines it
(see :func:`_bracket`). Without an α_max (ridge) the search is a
safeguarded Newton-type method from the start (secant steps, then cubic
interpolation in a bracket, see :func:`_newton`). Any optax optimizer can
run instead (``learning_rate`` for Adam, or ``optimizer``). Every loop has
a cap, and ``TuneResult.converged`` says whether the search stopped by its
own rule and every fit met its tolerance.

For the lasso and elastic net, :func:`tune_cv` solves the K folds together
by a working-set method: coordinate descent on the Gram matrix of a small
working set (the support plus the worst violators of the optimality
conditions), a Newton step on the support, and a check of the optimality
conditions on all coordinates. The fold solutions, written as that Newton
step (a dense solve on the support, smooth in α), are then differentiated
directly, which gives the implicit hypergradient
dw_S/dα = −H_S⁻¹ ∂_α(a1 s + a2 w)_S without conjugate gradients. When a
fold fails the working-set solver's checks (a support near the number of
samples, p ≫ n), :func:`jaxreg.linear.fit`'s coordinate descent fits the
folds in turn for that step. The fit on all the data rides along as one
more problem at every step (without test rows), so the final fit is the
one measured at the best α, warm-started along the same path and checked
by the same solver.

Working in log α keeps α positive and makes the step size scale-free.
V is not convex in α: ``alphas`` and ``val_losses`` record every point
measured, and the α with the lowest validation loss measured is returned.

References:
  Bengio (2000), "Gradient-based optimization of hyperparameters".
  Pedregosa (2016), "Hyperparameter optimization with approximate gradient".
  Bertrand et al. (2020), "Implicit differentiation of lasso-type models for
  hyperparameter optimization".
  Johnson & Guestrin (2015), "Blitz: a principled meta-algorithm for scaling
  sparse optimization". Massias, Gramfort & Salmon (2018), "Celer: a fast
  solver for the lasso with dual extrapolation".
  Nocedal & Wright (2006), "Numerical Optimization", §3.5 (bracketing and
  cubic interpolation); Brent (1973), "Algorithms for minimization without
  derivatives" (the safeguards).
"""

from __future__ import annotations

import functools
import importlib
import warnings
from typing import Any, NamedTuple, Optional, Sequence, Union

import jax
import jax.numpy as jnp
import jax.scipy.linalg
import numpy as np
import optax

from jaxreg import _checks
from jaxreg.linear import _data, _engine, _sparse
from jaxreg.linear import _coordinate_descent
from jaxreg.linear._data import fold_masks

# The package re-exports the function ``fit`` under the module's name.
_fit = importlib.import_module("jaxreg.linear.fit")

__all__ = ["TuneResult", "tune", "tune_cv"]

# The folds as (K, n) masks: the one implementation is jaxreg.linear._data.fold_masks;
# the old name stays importable (tests use it).
kfold_masks = fold_masks


class TuneResult(NamedTuple):
  """The outcome of a tuning run.

  Attributes:
    alpha: the α with the lowest validation loss among those tried.
    val_loss: that validation loss (mean held-out MSE for ``tune_cv``).
    fit: ``FitResult`` at ``alpha`` (on the training set for ``tune``, on
      all the data for ``tune_cv``).
    alphas: (steps,) the α of every step.
    val_losses: (steps,) the validation loss at each of them.
    converged: whether the search met its stopping rule (bracket shorter
      than ``xtol``, or a flat cubic model) within ``steps`` fits AND every
      fit it made, the final one included, met its own tolerance within
      ``max_iter``. A :class:`~jaxreg.linear.fit.ConvergenceWarning` is
      issued when not.
  """

  alpha: Any
  val_loss: Any
  fit: Any
  alphas: Any
  val_losses: Any
  converged: Any


def _with_alpha(penalty, alpha):
  """The penalty with its α leaf replaced (other leaves, e.g. l1_ratio, kept)."""
  leaves, treedef = jax.tree_util.tree_flatten(penalty)
  return jax.tree_util.tree_unflatten(treedef, [alpha] + leaves[1:])


def _start(penalty):
  if not _checks.is_concrete(penalty.alpha):
    raise TypeError("tune needs a penalty built from concrete numbers (its α is the start).")
  a = np.asarray(penalty.alpha)
  if a.ndim != 0:
    raise ValueError(f"penalty.alpha must be a scalar starting value, got shape {a.shape}.")
  if not a > 0:
    raise ValueError(f"penalty.alpha must be > 0 to start tuning in log α, got {float(a)!r}.")
  return float(np.log(a))


@functools.lru_cache(maxsize=32)
def _adam(learning_rate):
  # The optimizer is a static argument of the jitted tuning loops, hashed by
  # identity: one object per learning rate lets a repeated call reuse the
  # compiled loop instead of tracing and compiling it again.
  return optax.adam(learning_rate)


def _search(steps, learning_rate, optimizer, max_step, xtol, ftol, scan_step=0.5, eps=1e-3):
  """The static description of the search on log α: Newton's or an optax optimizer's."""
  if isinstance(steps, bool) or int(steps) != steps or steps < 1:
    raise ValueError(f"steps must be a positive integer, got {steps!r}.")
  if optimizer is not None:
    if not isinstance(optimizer, optax.GradientTransformation):
      raise TypeError(f"optimizer must be an optax GradientTransformation, got "
                      f"{type(optimizer).__name__}.")
    return int(steps), optimizer
  if learning_rate is not None:
    if not learning_rate > 0:
      raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}.")
    return int(steps), _adam(float(learning_rate))
  if not max_step > 0:
    raise ValueError(f"max_step must be > 0, got {max_step!r}.")
  if not xtol >= 0:
    raise ValueError(f"xtol must be >= 0, got {xtol!r}.")
  if not ftol >= 0:
    raise ValueError(f"ftol must be >= 0, got {ftol!r}.")
  if not scan_step > 0:
    raise ValueError(f"scan_step must be > 0, got {scan_step!r}.")
  if not 0 < eps < 1:
    raise ValueError(f"eps must lie in (0, 1), got {eps!r}.")
  return int(steps), ("newton", float(max_step), float(xtol), float(ftol), float(scan_step))


def _fit_converged(out):
  """Whether a fit (``_fit_impl(..., with_converged=True)`` or a ``FitResult``,
  possibly a vmapped batch) met its tolerance."""
  return jnp.all(out[3])


def _run_search(search, objective, log_a0, w0, steps, t_lo, t_hi):
  """Runs the search; objective(t, warm) -> (V, (w, fit converged)).

  Returns (alphas, vals, count, w, search converged, every fit converged).
  """
  if isinstance(search, optax.GradientTransformation):
    return _descend(objective, log_a0, w0, search, steps)
  if search[0] == "bracket":
    return _bracket(objective, log_a0, w0, steps, t_lo, t_hi, *search[1:])
  return _newton(objective, log_a0, w0, steps, *search[1:4])


def _best(alphas, vals, count):
  """The path actually searched (host arrays trimmed to ``count``) and its best entry."""
  count = int(count)
  alphas, vals = alphas[:count], vals[:count]
  vals_np = np.asarray(vals)
  best = int(np.argmin(np.where(np.isfinite(vals_np), vals_np, np.inf)))
  return alphas, vals, best


def _descend(objective, log_a0, w0, optimizer, steps):
  """``steps`` optimizer steps on log α; objective(log α, warm) -> (loss, w).

  Returns (alphas, losses, count, w, converged, fits_ok) as :func:`_newton`,
  count = steps.
  """

  def step(carry, _):
    log_a, opt_state, warm, fits_ok, wb, vb = carry
    (val, (w, conv)), g = jax.value_and_grad(objective, has_aux=True)(log_a, warm)
    fits_ok = fits_ok & conv & jnp.isfinite(val)
    improved = jnp.isfinite(val) & (val < vb)
    wb = jax.tree_util.tree_map(lambda a, b: jnp.where(improved, a, b), w, wb)
    vb = jnp.where(improved, val, vb)
    # A non-finite hypergradient would poison the optimizer state for good.
    g = jnp.where(jnp.isfinite(g), g, 0.0)
    updates, opt_state = optimizer.update(g, opt_state, log_a)
    alpha = jnp.exp(log_a)
    log_a = optax.apply_updates(log_a, updates)
    w = jax.lax.stop_gradient(w)
    return (log_a, opt_state, w, fits_ok, jax.lax.stop_gradient(wb), vb), (alpha, val, updates)

  init = (log_a0, optimizer.init(log_a0), w0, jnp.ones((), bool), w0,
          jnp.asarray(jnp.inf, log_a0.dtype))
  (_, _, _, fits_ok, w, _), (alphas, vals, updates) = jax.lax.scan(step, init, None,
                                                                    length=steps)
  # A fixed number of optimizer steps: "converged" when the last one moved
  # log α by less than the tolerance a Newton search would use.
  return (alphas, vals, jnp.asarray(steps, jnp.int32), w,
          jnp.abs(updates[-1]) <= 0.05, fits_ok)


def _cubic_min(t0, v0, g0, t1, v1, g1):
  """Minimiser of the cubic matching V and V' at t0 < t1 with V'(t0) < 0 < V'(t1).

  Nocedal & Wright (2006), eq. (3.59).
  """
  d1 = g0 + g1 - 3.0 * (v0 - v1) / (t0 - t1)
  d2 = jnp.sqrt(jnp.maximum(d1 * d1 - g0 * g1, 0.0))
  return t1 - (t1 - t0) * (g1 + d2 - d1) / (g1 - g0 + 2.0 * d2)


def _hermite(t0, v0, g0, t1, v1, g1, t):
  """The cubic matching V and V' at t0 and t1, evaluated at t."""
  h = t1 - t0
  u = (t - t0) / h
  return ((2 * u ** 3 - 3 * u ** 2 + 1) * v0 + (u ** 3 - 2 * u ** 2 + u) * h * g0
          + (3 * u ** 2 - 2 * u ** 3) * v1 + (u ** 3 - u ** 2) * h * g1)


def _newton(objective, log_a0, w0, steps, max_step, xtol, ftol):
  """Safeguarded Newton-type search on t = log α; objective(t, warm) -> (loss, w).

  Each step fits once and gets V and V' (the implicit hypergradient).

  * Until a minimum is bracketed (a point with V' < 0, i.e. the minimum
    lies above it, and one with V' > 0), the step is the longer of two
    secant-Newton steps, one in log α and one in α, each from the slope of
    the derivative between the last two points: where the supports of the
    fits do not change the lasso's V is a quadratic in α; the step in log α
    suits stretches where V changes smoothly on a log scale (for instance
    from below, where the fits approach least squares). Without a positive
    slope (first step, or V concave there) the step is ``max_step``
    downhill. Steps are at
    most ``max_step`` long, and those towards smaller α (larger supports,
    costlier fits) are also capped by a gradient step on log V,
    |Δt| ≤ 2|V'|/V (not below max_step/4): far from the minimum V changes
    by a large factor per unit of log α and the cap is max_step; near it V
    flattens and the cap keeps a model fitted on far points from
    overshooting into small α.
  * Once bracketed, the step goes to the minimiser of the cubic that
    matches V and V' at both ends of the bracket, kept at least a tenth of
    the bracket away from its ends, or to its midpoint when the bracket has
    not halved over the last two steps (the supports change along the way
    and V' jumps there; as in Brent's method, never much slower than
    bisection).

  Stops when the bracket, or a secant step, is shorter than ``xtol``, when
  the cubic promises less than a fraction ``ftol`` below the lowest V seen,
  or after ``steps`` fits. Only first derivatives are taken, so the compiled
  program is that of a plain gradient step.

  Returns (alphas, losses, count, w, converged, fits_ok): buffers of length
  ``steps``, the first ``count`` entries filled, the fit at the lowest loss,
  whether a stopping rule (not the cap) ended the search, and whether
  every fit converged.
  """
  dtype = log_a0.dtype
  inf = jnp.asarray(jnp.inf, dtype)
  nan = jnp.asarray(jnp.nan, dtype)

  def cond(st):
    return (~st["done"]) & (st["k"] < steps)

  def body(st):
    t, k = st["t"], st["k"]
    (val, (w, conv)), g = jax.value_and_grad(objective, has_aux=True)(t, st["w"])
    w = jax.lax.stop_gradient(w)
    ok = jnp.isfinite(val) & jnp.isfinite(g)
    # The bracket's ends with their V and V'.
    new_lo = ok & (g < 0) & (t > st["lo"][0])
    new_hi = ok & (g > 0) & (t < st["hi"][0])
    here = jnp.stack([t, val, g])
    lo = jnp.where(new_lo, here, st["lo"])
    hi = jnp.where(new_hi, here, st["hi"])
    bracketed = jnp.isfinite(lo[0]) & jnp.isfinite(hi[0])

    # Secant-Newton steps (before a bracket), in α and in log α.
    a, a_prev = jnp.exp(t), jnp.exp(st["t_prev"])
    h_a = (g / a - st["g_prev"] / a_prev) / jnp.where(a != a_prev, a - a_prev, nan)
    a_new = a - (g / a) / jnp.where(h_a > 0, h_a, nan)
    # A model minimum at α ≤ 0 means: far down (the caps bound the step).
    step_a = jnp.where(a_new > 0, jnp.log(jnp.where(a_new > 0, a_new, 1.0)) - t,
                       jnp.where(jnp.isnan(a_new), nan, -jnp.inf))
    h_t = (g - st["g_prev"]) / jnp.where(t != st["t_prev"], t - st["t_prev"], nan)
    step_t = -g / jnp.where(h_t > 0, h_t, nan)
    # The longer of the two (the caps below bound it).
    step = jnp.where(jnp.isnan(step_t) | (jnp.abs(step_a) >= jnp.abs(step_t)), step_a, step_t)
    newton = ~jnp.isnan(step)
    step = jnp.where(newton, step, -jnp.sign(g) * max_step)
    rel = 2.0 * jnp.abs(g) / jnp.where(val > 0, val, jnp.inf)
    down = jnp.clip(rel, 0.25 * max_step, max_step)
    t_open = t + jnp.clip(jnp.where(ok, step, 0.0), -down, max_step)
    # A step that leaves the half-line the minimum is known to lie in
    # restarts from its end.
    t_open = jnp.where(jnp.isfinite(lo[0]) & (t_open <= lo[0]), lo[0] + max_step, t_open)
    t_open = jnp.where(jnp.isfinite(hi[0]) & (t_open >= hi[0]), hi[0] - max_step, t_open)

    # Cubic interpolation (in a bracket).
    width = hi[0] - lo[0]
    tc = _cubic_min(lo[0], lo[1], lo[2], hi[0], hi[1], hi[2])
    # What the cubic promises below the best V seen, for the ftol test.
    improved = ok & (val < st["best"])
    best = jnp.minimum(st["best"], jnp.where(ok, val, jnp.inf))
    gain = best - _hermite(*lo, *hi, jnp.clip(tc, lo[0], hi[0]))
    tc = jnp.clip(tc, lo[0] + 0.1 * width, hi[0] - 0.1 * width)
    halving = width <= 0.5 * st["widths"][1]
    t_br = jnp.where(jnp.isfinite(tc) & halving, tc, 0.5 * (lo[0] + hi[0]))

    t_new = jnp.where(bracketed, t_br, t_open)
    flat = gain <= ftol * jnp.abs(best)
    converged = jnp.where(bracketed, (width <= xtol) | flat,
                          newton & (jnp.abs(step) <= xtol))
    # A non-finite fit is recorded and ends the search.
    done = ~ok | (g == 0) | converged
    w = jax.tree_util.tree_map(lambda a, b: jnp.where(ok, a, b), w, st["w"])
    wb = jax.tree_util.tree_map(lambda a, b: jnp.where(improved, a, b), w, st["wb"])
    return dict(t=t_new, w=w, wb=wb, t_prev=t, g_prev=g,
                widths=jnp.stack([jnp.where(bracketed, width, inf), st["widths"][0]]),
                lo=lo, hi=hi, best=best, k=k + 1, done=done, conv=ok & (converged | (g == 0)),
                fits_ok=st["fits_ok"] & conv & ok,
                alphas=st["alphas"].at[k].set(jnp.exp(t)), vals=st["vals"].at[k].set(val))

  st = dict(t=log_a0, w=w0, wb=w0, t_prev=nan, g_prev=nan, widths=jnp.full((2,), jnp.inf, dtype),
            lo=jnp.array([-jnp.inf, jnp.nan, jnp.nan], dtype),
            hi=jnp.array([jnp.inf, jnp.nan, jnp.nan], dtype), best=inf,
            k=jnp.zeros((), jnp.int32), done=jnp.zeros((), bool), conv=jnp.zeros((), bool),
            fits_ok=jnp.ones((), bool),
            alphas=jnp.full((steps,), jnp.nan, dtype), vals=jnp.full((steps,), jnp.nan, dtype))
  st = jax.lax.while_loop(cond, body, st)
  return st["alphas"], st["vals"], st["k"], st["wb"], st["conv"], st["fits_ok"]


def _bracket(objective, log_a0, w0, steps, t_lo, t_hi, spacing, xtol, ftol):
  """Scan of [t_lo, t_hi] from the top, then a safeguarded bracket search.

  For the lasso and elastic net the minimum of V over t = log α lies in
  [log(eps·α_max), log α_max]: above α_max every fit is 0 and V is flat.

  1. Scan, from t_hi (where V is flat: a start there must move down) down
     to t_lo in steps of ``spacing``, on the grid through the start t0 (so
     t0 is measured): each fit is warm-started from the one above, as on a
     path. The best point b and its grid neighbours a < b < c bracket the
     lowest minimum the scan's resolution can see, whatever the start.
  2. Refine (Brent's method with derivatives, Press et al.'s ``dbrent``):
     the sign of V'(b) tells which side of b holds the minimum; the trial
     point is the minimiser of the cubic matching V and V' at that side's
     ends, kept a tenth of the side away from them, or its midpoint when
     the side has not halved over the last two steps. A trial better than
     b becomes b (its neighbours the bracket's new ends); a worse one
     becomes an end. V is never evaluated outside [t_lo, t_hi], and b is
     always the best point measured.

  Stops (converged) when the side of b that holds the minimum is shorter
  than ``xtol``, when the cubic promises less than a fraction ``ftol``
  below V(b), when V'(b) = 0 with b inside the bracket, or when b is at an
  end of the domain with V' pointing out of it; otherwise after ``steps``
  fits (not converged).

  Returns (alphas, losses, count, w, converged, fits_ok) as :func:`_newton`.
  """
  dtype = log_a0.dtype
  inf = jnp.asarray(jnp.inf, dtype)
  t0 = jnp.clip(log_a0, t_lo, t_hi)
  # The scan's points after t_hi: t0 + jΔ for j = j_top, j_top − 1, ...
  # (a quarter step clear of t_hi), then t_lo.
  j_top = jnp.floor((t_hi - 0.25 * spacing - t0) / spacing)

  def scan_point(i):
    t = t0 + (j_top - (i - 1)) * spacing
    t = jnp.where(t < t_lo + 0.25 * spacing, t_lo, t)
    return jnp.where(i == 0, t_hi, t)

  def refine(A, B, C, widths):
    """The next trial point, and whether the search has converged."""
    right = B[2] < 0
    left = (B[2] > 0) | ((B[2] == 0) & (C[0] <= B[0]))
    lo = jnp.where(right, B, A)
    hi = jnp.where(right, C, B)
    width = hi[0] - lo[0]
    tc = _cubic_min(*lo, *hi)
    inside = jnp.isfinite(tc) & (tc > lo[0]) & (tc < hi[0])
    # A cubic whose stationary point is not below V(b) (V' of one sign at
    # both ends: the formula's point is then a maximum) is no model of
    # the minimum: bisect instead, and do not let it end the search.
    gain = B[1] - _hermite(*lo, *hi, tc)
    inside = inside & (gain > 0)
    gain = jnp.where(inside, gain, inf)
    tc = jnp.clip(tc, lo[0] + 0.1 * width, hi[0] - 0.1 * width)
    halving = width <= 0.5 * widths[1]
    t_new = jnp.where(inside & halving, tc, 0.5 * (lo[0] + hi[0]))
    # An empty side: b is at an end of the domain (or of the bracket) with
    # V' pointing out of it, or a stationary point inside it.
    stop = (~right & ~left) | (width <= xtol) | (gain <= ftol * jnp.abs(B[1]))
    return t_new, width, stop

  def cond(st):
    return (~st["done"]) & (st["k"] < steps)

  def body(st):
    t, k = st["t"], st["k"]
    (val, (w, conv)), g = jax.value_and_grad(objective, has_aux=True)(t, st["warm"])
    w = jax.lax.stop_gradient(w)
    ok = jnp.isfinite(val) & jnp.isfinite(g)
    u = jnp.stack([t, jnp.where(ok, val, inf), jnp.where(ok, g, 0.0)])
    A, B, C = st["A"], st["B"], st["C"]
    better = u[1] < B[1]
    scanning = st["i"] >= 0
    # Scan: points come in decreasing t; the previous one is b's right
    # neighbour, the next one worse than b its left neighbour.
    prev = jnp.where(st["i"] == 0, u, st["prev"])
    sA = jnp.where(better, u, jnp.where(A[0] == B[0], u, A))
    sB = jnp.where(better, u, B)
    sC = jnp.where(better, prev, C)
    # Refine: the trial replaces an end, or becomes b.
    up = u[0] > B[0]
    rA = jnp.where(better, jnp.where(up, B, A), jnp.where(up, A, u))
    rB = jnp.where(better, u, B)
    rC = jnp.where(better, jnp.where(up, C, B), jnp.where(up, u, C))
    A = jnp.where(scanning, sA, rA)
    B = jnp.where(scanning, sB, rB)
    C = jnp.where(scanning, sC, rC)
    wb = jax.tree_util.tree_map(lambda a, b: jnp.where(better, a, b), w, st["wb"])
    scan_over = scanning & (t <= t_lo)
    widths = st["widths"]
    t_ref, width, stop = refine(A, B, C, widths)
    refining = ~scanning | scan_over
    widths = jnp.where(refining, jnp.stack([width, widths[0]]), widths)
    i_next = jnp.where(scanning & ~scan_over, st["i"] + 1, -1)
    t_next = jnp.where(refining, t_ref, scan_point(st["i"] + 1))
    # The scan warm-starts from the fit above; refinement from b's fit,
    # the nearest measured.
    warm = jax.tree_util.tree_map(lambda a, b: jnp.where(refining, a, b), wb, w)
    return dict(t=t_next, i=i_next, warm=warm, wb=wb, prev=u, A=A, B=B, C=C, widths=widths,
                k=k + 1, done=refining & stop, fits_ok=st["fits_ok"] & conv & ok,
                alphas=st["alphas"].at[k].set(jnp.exp(t)), vals=st["vals"].at[k].set(val))

  none = jnp.array([jnp.nan, jnp.inf, 0.0], dtype)
  st = dict(t=t_hi, i=jnp.zeros((), jnp.int32), warm=w0, wb=w0, prev=none, A=none, B=none,
            C=none, widths=jnp.full((2,), jnp.inf, dtype), k=jnp.zeros((), jnp.int32),
            done=jnp.zeros((), bool), fits_ok=jnp.ones((), bool),
            alphas=jnp.full((steps,), jnp.nan, dtype), vals=jnp.full((steps,), jnp.nan, dtype))
  st = jax.lax.while_loop(cond, body, st)
  return st["alphas"], st["vals"], st["k"], st["wb"], st["done"], st["fits_ok"]


def _alpha_max(X, y, trains, penalty, loss, fit_intercept):
  """The smallest α at which every training set's fit is 0, or None.

  For an ℓ1 part α·r·Σvⱼ|wⱼ| (r > 0) that is max over training sets and
  over j with vⱼ > 0 of |∇ⱼ|/(r·vⱼ), ∇ the data term's gradient at w = 0
  (with the intercept fitted): Xᵀ(y − ȳ)/n for both the squared loss and
  the log-loss. None when it does not exist in closed form (ridge,
  l1_ratio 0, unpenalized coefficients, non-concrete arguments).
  """
  if not isinstance(penalty, (_fit.L1, _fit.ElasticNet)):
    return None
  if not _checks.is_concrete((X, y, penalty)):
    return None
  r = 1.0 if isinstance(penalty, _fit.L1) else float(np.asarray(penalty.l1_ratio))
  v = getattr(penalty, "weights", None)
  p = X.shape[1]
  v = np.ones(p) if v is None else np.broadcast_to(np.asarray(v, np.float64), (p,))
  if not r > 0 or np.any(v <= 0):
    return None
  Xn = np.asarray(X, np.float64)
  yn = np.asarray(y, np.float64)
  out = 0.0
  for m in np.asarray(trains, np.float64):
    nk = m.sum()
    if fit_intercept:
      res = m * (yn - (m @ yn) / nk)
    else:
      res = m * (yn - 0.5) if loss == "logistic" else m * yn
    out = max(out, float(np.max(np.abs(Xn.T @ res) / v)) / (nk * r))
  return out if out > 0 else None


def _ridge_domain(X, trains, penalty, loss, fit_intercept, search, steps):
  """(α_top, α_bottom / α_top, search) for ridge, or None.

  A ridge's validation loss V is flat at both ends of α: above
  α_top = 10³·λ_max every penalized direction is shrunk a thousandfold (the fit
  is 0 to three digits), below α_bottom = 10⁻³·λ_min⁺ none is shrunk by more
  than 10⁻³ (the fit is the minimum-norm least-squares one). λ_max and λ_min⁺
  are the largest and the smallest non-zero eigenvalue, over the training
  sets, of X_cᵀX_c/n. (Squared loss only; logistic-L2 keeps the search from
  the start.) The scan
  spacing is widened if needed so that the scan takes at most half of
  ``steps`` (V is smooth in log α; the refinement uses its derivative).
  """
  # Squared loss only: with the log-loss V need not be flat at small α (on
  # separable data the fit grows without bound as α → 0).
  if not isinstance(penalty, _fit.L2) or not isinstance(search, tuple) or loss != "squared":
    return None
  if not _checks.is_concrete((X, penalty)):
    return None
  Xn = np.asarray(X, np.float64)
  hi, lo = 0.0, np.inf
  for m in np.asarray(trains, np.float64):
    nk = m.sum()
    Xm = Xn * np.sqrt(m)[:, None]
    if fit_intercept:
      Xm = Xm - np.sqrt(m)[:, None] * ((m @ Xn) / nk)[None, :]
    sv2 = np.linalg.svd(Xm, compute_uv=False) ** 2 / nk
    if sv2.size == 0 or not sv2[0] > 0:
      return None
    hi = max(hi, sv2[0])
    lo = min(lo, sv2[sv2 > sv2[0] * max(Xm.shape) * np.finfo(X.dtype).eps].min())
  top, bottom = 1e3 * hi, 1e-3 * lo
  spacing = max(search[4], float(np.log(top / bottom)) / max(steps // 2, 1))
  return top, bottom / top, search[:4] + (spacing,)


def _search_domain(search, alpha_max, eps, dtype):
  """The search and its log-α domain: the bracket search when α_max exists."""
  if isinstance(search, optax.GradientTransformation) or alpha_max is None:
    return search, jnp.asarray(-jnp.inf, dtype), jnp.asarray(jnp.inf, dtype)
  _, max_step, xtol, ftol, spacing = search
  t_hi = float(np.log(alpha_max))
  return (("bracket", spacing, xtol, ftol), jnp.asarray(t_hi + float(np.log(eps)), dtype),
          jnp.asarray(t_hi, dtype))


def _warn_at_floor(name, search, alpha, t_lo):
  """Warns when the best α is the bottom of the searched interval: the
  minimum over the interval is found, but V may fall further below it."""
  if isinstance(search, tuple) and search[0] == "bracket" and (
      float(np.log(float(alpha))) <= float(t_lo) + 1e-5 * (1.0 + abs(float(t_lo)))):
    warnings.warn(f"{name}: the best α ({float(alpha):.4g}) is the bottom of the searched "
                  "interval [eps·α_max, α_max]; the validation loss may fall further below "
                  "it: pass a smaller eps.", UserWarning, stacklevel=3)


def _warn_unconverged(name, search_ok, fits_ok, steps, max_iter):
  if search_ok and fits_ok:
    return
  why = []
  if not search_ok:
    why.append(f"the search on log α used all steps={steps} fits before its bracket "
               "fell below xtol")
  if not fits_ok:
    why.append(f"some fit stopped at max_iter={max_iter} (or gave a non-finite loss) "
               "before meeting its tolerance")
  warnings.warn(f"{name}: {'; '.join(why)}. TuneResult.converged is False; raise steps or "
                "max_iter.", _fit.ConvergenceWarning, stacklevel=3)


def tune(X, y, X_val, y_val, penalty, loss: str = "squared", fit_intercept: bool = True,
         steps: int = 50, learning_rate: Optional[float] = None,
         optimizer: Optional[optax.GradientTransformation] = None, max_step: float = 1.5,
         xtol: float = 0.05, ftol: float = 1e-3, tol: Optional[float] = None,
         max_iter: Optional[int] = None, scan_step: float = 0.5, eps: float = 1e-3) -> TuneResult:
  r"""Tunes α on a validation loss by hypergradient steps, starting at ``penalty.alpha``.

  .. math::  \min_{\log\alpha}\ V(\alpha) = \ell_{\rm val}\big(w^*(\alpha), b^*(\alpha)\big),
             \qquad (w^*, b^*) = \text{fit}(X, y, \text{penalty}(\alpha))

  with ℓ_val the mean squared error (``loss="squared"``) or the mean
  log-loss (``loss="logistic"``) on (X_val, y_val). V'(α) comes from
  implicit differentiation of the fit (one linear solve).

  For ``jr.L1`` and ``jr.ElasticNet`` (l1_ratio > 0, every L1 weight > 0)
  every fit is 0 for α ≥ α_max = max_j |X_jᵀ(y − ȳ)|/(n·r·v_j), so V is
  flat there and the search runs on t = log α in [log(eps·α_max),
  log α_max], whatever the start: a scan from α_max down in steps of
  ``scan_step`` (on the grid through the start, which a start outside the
  interval is clamped into), each fit warm-started from the one above, then
  a bracket search around the best point (the minimiser of the cubic
  through V and V' at the ends of the side of the best point that V' points
  to, bisection as the safeguard; ``jaxreg.linear.tune._bracket``). It
  stops when that side is shorter than ``xtol`` or the cubic promises less
  than ``ftol`` (relative). For ``jr.L2`` (no α_max) it is a safeguarded
  Newton-type search from the start (``jaxreg.linear.tune._newton``):
  secant steps of at most ``max_step``, then the same cubic in a bracket.
  With ``learning_rate`` or ``optimizer`` it runs exactly ``steps``
  first-order steps of that optax optimizer (Adam at ``learning_rate``)
  instead. Other penalty leaves (l1_ratio, L1 weights) stay fixed.

  Args:
    X, y: training data, (n, p) and (n,).
    X_val, y_val: validation data, (m, p) and (m,).
    penalty: ``jr.L1``, ``jr.L2`` or ``jr.ElasticNet`` whose α (> 0) is the
      starting point.
    loss, fit_intercept, tol, max_iter: as in :func:`jaxreg.linear.fit`.
    steps: the most fits (scan and refinement, or Newton), or the number of
      optimizer steps; a search cut short by it is not converged.
    learning_rate: Adam's step on log α; selects Adam instead of the
      bracket / Newton search (ignored when ``optimizer`` is given).
    optimizer: any optax ``GradientTransformation`` acting on log α;
      selects it instead of the bracket / Newton search.
    max_step: longest step of the Newton search in log α (1.5: a factor
      4.5 in α).
    xtol: the search stops once its bracket (or Newton step) in log α is
      shorter than this; 0.05 is finer than scikit-learn's default grid of
      100 α over 3 decades (0.07).
    ftol: the search also stops once the cubic model of V in its bracket
      promises less than this fraction below the lowest V seen (0.1%, far
      below the statistical noise of a validation loss; 0 to rely on
      ``xtol`` alone).
    scan_step: spacing in log α of the scan from α_max (0.5: a factor 1.65).
    eps: the bottom of the searched interval, eps·α_max (scikit-learn's
      default grid ends there too); a warning says when the best α is
      that bottom. Ridge (squared loss) has no α_max: its interval runs
      from 10⁻³·λ_min⁺ to 10³·λ_max of X_cᵀX_c/n, where V is flat at both
      ends, whatever the start (``eps`` does not apply).

  Returns:
    ``TuneResult(alpha, val_loss, fit, alphas, val_losses, converged)``;
    ``alpha`` is the best α measured and ``val_loss`` its loss, ``alphas``
    and ``val_losses`` every point measured (at most ``steps``). A
    :class:`~jaxreg.linear.fit.ConvergenceWarning` is issued when
    ``converged`` is False.

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> from sklearn.datasets import make_regression
    >>> X, y = make_regression(80, 20, noise=10.0, random_state=0)
    >>> res = jr.linear.tune(X[:60], y[:60], X[60:], y[60:], jr.L1(10.0))
    >>> bool(res.converged), bool(res.val_loss == res.val_losses.min()), len(res.alphas) <= 50
    (True, True, True)

  References:
    Bengio (2000); Pedregosa (2016), "Hyperparameter optimization with
    approximate gradient"; Bertrand et al. (2020), "Implicit differentiation
    of lasso-type models for hyperparameter optimization"; Press et al.,
    Numerical Recipes, ``rtsafe`` and ``dbrent`` (Newton and Brent's
    method with derivatives, safeguarded by bisection).
  """
  if not _fit._classic(penalty, loss, "auto") or _sparse.is_sparse(X):
    return _tune_generic(X, y, [(X_val, y_val)], penalty, loss, fit_intercept, steps,
                         learning_rate, optimizer, max_step, xtol, ftol, tol, max_iter, "auto",
                         scan_step, eps, "tune")
  X, y, tol, max_iter, solver = _fit._prepare(X, y, penalty, loss, tol, max_iter, "auto")
  X_val, y_val = _fit._check_data(X_val, y_val, loss, "X_val", "y_val")
  if X_val.shape[1] != X.shape[1]:
    raise ValueError(f"X_val has {X_val.shape[1]} features, X has {X.shape[1]}.")
  X_val = X_val.astype(X.dtype)
  y_val = y_val.astype(X.dtype)
  log_a0 = jnp.asarray(_start(penalty), X.dtype)
  steps, search = _search(steps, learning_rate, optimizer, max_step, xtol, ftol, scan_step, eps)
  penalty = jax.tree_util.tree_map(lambda a: jnp.asarray(a, X.dtype), penalty)
  alpha_max = _alpha_max(X, y, np.ones((1, X.shape[0])), penalty, loss, fit_intercept)
  ridge = _ridge_domain(X, np.ones((1, X.shape[0])), penalty, loss, fit_intercept, search, steps)
  if ridge is not None:
    alpha_max, eps, search = ridge
  search, t_lo, t_hi = _search_domain(search, alpha_max, eps, X.dtype)
  out = _tune_impl(X, y, X_val, y_val, penalty, log_a0, t_lo, t_hi, search=search, steps=steps,
                   loss=loss, fit_intercept=bool(fit_intercept), tol=tol, max_iter=max_iter,
                   solver=solver)
  alphas, vals, best = _best(*out[:3])
  alpha = alphas[best]
  res = _fit.fit(X, y, _with_alpha(penalty, alpha), loss=loss, fit_intercept=fit_intercept,
                 tol=tol, max_iter=max_iter)
  search_ok, fits_ok = bool(out[4]), bool(out[5]) and bool(_fit_converged(res))
  _warn_unconverged("tune", search_ok, fits_ok, steps, max_iter)
  if ridge is None:  # a ridge's V is flat below its interval
    _warn_at_floor("tune", search, alpha, t_lo)
  return TuneResult(alpha, vals[best], res, alphas, vals, jnp.asarray(search_ok and fits_ok))


def _val_loss(X_val, y_val, w, b, loss):
  z = X_val @ w + b
  if loss == "squared":
    return jnp.mean((y_val - z) ** 2)
  return jnp.mean(jax.nn.softplus(z) - y_val * z)


@functools.partial(jax.jit, static_argnames=("search", "steps", "loss", "fit_intercept",
                                             "tol", "max_iter", "solver"))
def _tune_impl(X, y, X_val, y_val, penalty, log_a0, t_lo, t_hi, *, search, steps, loss,
               fit_intercept, tol, max_iter, solver):
  n, p = X.shape
  m = jnp.ones(n, X.dtype)

  def objective(log_a, warm):
    pen = _with_alpha(penalty, jnp.exp(log_a))
    a1, a2 = _fit._penalty_parts(pen, p, X.dtype)
    out = _fit._fit_impl(X, y, m, a1, a2, warm, loss=loss, fit_intercept=fit_intercept,
                         tol=tol, max_iter=max_iter, solver=solver, with_converged=True)
    w, b = out[0], out[1]
    conv = jax.lax.stop_gradient(_fit_converged(out))
    return _val_loss(X_val, y_val, w, b, loss), ((w if loss == "squared" else (w, b)), conv)

  w0 = jnp.zeros(p, X.dtype) if loss == "squared" else (jnp.zeros(p, X.dtype),
                                                         jnp.zeros((), X.dtype))
  return _run_search(search, objective, log_a0, w0, steps, t_lo, t_hi)


def tune_cv(X, y, penalty, cv: Union[int, Sequence, Any, None] = 5, fit_intercept: bool = True,
            steps: int = 40, learning_rate: Optional[float] = None,
            optimizer: Optional[optax.GradientTransformation] = None, max_step: float = 1.5,
            xtol: float = 0.05, ftol: float = 1e-3, tol: Optional[float] = None,
            max_iter: Optional[int] = None, solver: str = "auto", scan_step: float = 0.5,
            eps: float = 1e-3, loss="squared") -> TuneResult:
  r"""Tunes α by hypergradient steps on the K-fold cross-validated squared error.

  .. math::  \min_{\log\alpha}\ \frac{1}{K}\sum_{k=1}^K \frac{1}{|T_k|}
             \sum_{i\in T_k}\big(y_i - x_i^\top w_k^*(\alpha) - b_k^*(\alpha)\big)^2

  where (w_k*, b_k*) is the fit on fold k's training rows and T_k its test
  rows. The K fits run together (each fold is the full X with the rows
  outside its training set given zero weight), each warm-started from the
  previous step: for the lasso and elastic net by the working-set solver
  described in the module docstring, whose hypergradient is a dense solve
  on each fold's support; otherwise, or when a fold fails that solver's
  checks, by :func:`jaxreg.linear.fit`'s solver with one
  implicit-differentiation solve per fold. The search on log α is that of
  :func:`tune`: for the lasso and elastic net a scan from α_max (the
  largest of the folds' α_max) down to eps·α_max, then a bracket search,
  whatever the start.

  Args:
    X, y: (n, p) and (n,) data.
    penalty: ``jr.L1``, ``jr.L2`` or ``jr.ElasticNet`` whose α (> 0) is the
      start.
    cv: as ``LassoCV(cv=...)``: None or K (K contiguous folds as
      scikit-learn's ``KFold(K)``; None is 5), a splitter with a
      ``split(X, y)`` method (``KFold(shuffle=True)``, ``TimeSeriesSplit``,
      ``ShuffleSplit``...), or an iterable of (train_indices, test_indices)
      pairs; rows may be left out of both sets. A fold's training indices
      must not repeat.
    fit_intercept, tol, max_iter, solver: as in :func:`jaxreg.linear.fit`.
    steps, learning_rate, optimizer, max_step, xtol, ftol, scan_step, eps:
      as in :func:`tune`.

  Returns:
    ``TuneResult``: the best α measured, its mean held-out MSE, the fit on
    all the data at that α, every α and CV loss measured, and
    ``converged`` (a :class:`~jaxreg.linear.fit.ConvergenceWarning` when
    False).

  Example:
    >>> import jaxreg as jr
    >>> from jaxreg.linear.tune import tune_cv
    >>> from sklearn.datasets import make_regression
    >>> X, y = make_regression(100, 30, noise=10.0, random_state=0)
    >>> res = tune_cv(X, y, jr.L1(1.0), cv=5)
    >>> bool(res.converged), bool(res.val_loss == res.val_losses.min()), len(res.alphas) <= 40
    (True, True, True)

  References:
    Bertrand et al. (2020), "Implicit differentiation of lasso-type models
    for hyperparameter optimization"; Pedregosa (2016); scikit-learn's
    ``LassoCV`` (the folds).
  """
  # Where the working-set path does not apply or fails (supports near the
  # number of samples, p ≫ n), the folds are fitted in turn by fit's own
  # coordinate descent, whose sweeps are bounded by max_iter and whose
  # working sets keep a sweep cheap.
  if not _fit._classic(penalty, loss, solver) or _sparse.is_sparse(X):
    n = np.shape(X)[0]
    train, test = fold_masks(n, cv, X if _sparse.is_sparse(X) else np.asarray(X), np.asarray(y))
    folds = [(np.flatnonzero(tr), np.flatnonzero(te)) for tr, te in zip(train, test)]
    return _tune_generic(X, y, folds, penalty, loss, fit_intercept, steps, learning_rate,
                         optimizer, max_step, xtol, ftol, tol, max_iter, solver, scan_step, eps,
                         "tune_cv")
  solver = _fit._choose_solver(penalty, "squared", solver, batched=False)
  X, y, tol, max_iter, solver = _fit._prepare(X, y, penalty, "squared", tol, max_iter, solver)
  n, p = X.shape
  train, test = fold_masks(n, cv, np.asarray(X), np.asarray(y))
  alpha_max = _alpha_max(X, y, train, penalty, "squared", fit_intercept)
  train = jnp.asarray(train, X.dtype)
  test = jnp.asarray(test, X.dtype)
  log_a0 = jnp.asarray(_start(penalty), X.dtype)
  steps, search = _search(steps, learning_rate, optimizer, max_step, xtol, ftol, scan_step, eps)
  ridge = _ridge_domain(X, np.asarray(train), penalty, "squared", fit_intercept, search, steps)
  if ridge is not None:
    alpha_max, eps, search = ridge
  search, t_lo, t_hi = _search_domain(search, alpha_max, eps, X.dtype)
  penalty = jax.tree_util.tree_map(lambda a: jnp.asarray(a, X.dtype), penalty)
  # All the rows ride along as one more "fold" without test rows: the
  # search's fit at its best α on it is the final fit, warm-started along
  # the same path and checked by the same solver.
  train = jnp.concatenate([train, jnp.ones((1, n), X.dtype)])
  test = jnp.concatenate([test, jnp.zeros((1, n), X.dtype)])
  out = _tune_cv_impl(X, y, train, test, penalty, log_a0, t_lo, t_hi, search=search,
                      steps=steps, fit_intercept=bool(fit_intercept), tol=tol,
                      max_iter=max_iter, solver=solver)
  alphas, vals, best = _best(*out[:3])
  alpha = alphas[best]
  search_ok, fits_ok = bool(out[4]), bool(out[5])
  coef = out[3][-1]
  intercept = (jnp.mean(y) - jnp.mean(X, axis=0) @ coef) if fit_intercept else jnp.zeros((),
                                                                                       X.dtype)
  # n_iter: the fits made along the search, each warm-started from the last.
  parts = dict(coef=coef, intercept=intercept, n_iter=out[2], converged=jnp.asarray(fits_ok))
  res = _fit.FitResult(**{f: parts[f] for f in _fit.FitResult._fields})
  _warn_unconverged("tune_cv", search_ok, fits_ok, steps, max_iter)
  if ridge is None:
    _warn_at_floor("tune_cv", search, alpha, t_lo)
  return TuneResult(alpha, vals[best], res, alphas, vals, jnp.asarray(search_ok and fits_ok))


def _cv_fits(X, y, train, a1, a2, warm, fit_intercept, tol, max_iter, solver):
  def one(args):
    m, w0 = args
    return _fit._fit_impl(X, y, m, a1, a2, w0, loss="squared", fit_intercept=fit_intercept,
                          tol=tol, max_iter=max_iter, solver=solver, with_converged=True)

  if solver == "cd":
    # Coordinate descent's working sets are data-dependent control flow,
    # which vmap would turn into every branch at once: the folds run in turn.
    return jax.lax.map(one, (train, warm))
  return jax.vmap(lambda m, w0: one((m, w0)))(train, warm)


def _spd_solve(H, b):
  # H is the Hessian on the support (identity off it): symmetric positive
  # definite, so Cholesky, about twice as fast as LU here. A singular H_S
  # gives NaNs, which fail the sign checks and send the caller to its fallback.
  return jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(H), b)


class _Folds(NamedTuple):
  """Per-fold statistics of the training rows (train is (F, n) 0/1)."""
  nk: Any  # (F,) training samples
  xm: Any  # (F, p) column means
  ym: Any  # (F,) mean of y
  c: Any   # (F, p) Xᵀy / n_k on centred data

  @staticmethod
  def of(X, y, train):
    nk = jnp.sum(train, axis=1)
    xm = train @ X / nk[:, None]
    ym = train @ y / nk
    yc = (y[None, :] - ym[:, None]) * train
    c = (yc @ X - xm * jnp.sum(yc, axis=1, keepdims=True)) / nk[:, None]
    return _Folds(nk, xm, ym, c)

  def neg_grad(self, X, train, a2, w):
    """−∇ of each fold's (1/2n_k)‖y − Xw‖² + (a2/2)‖w‖² at w (F, p)."""
    u = (w @ X.T - jnp.sum(self.xm * w, axis=1, keepdims=True)) * train
    return self.c - (u @ X - self.xm * jnp.sum(u, axis=1, keepdims=True)) / self.nk[:, None] - a2 * w

  def slack(self, tol):
    return 10.0 * tol * (1.0 + jnp.max(jnp.abs(self.c), axis=1, keepdims=True))


def _fold_gram(X, m, xm, nk, idx):
  """One fold's Gram matrix of the centred columns idx over its rows m: (k, k)."""
  XW = (X[:, idx] - xm[idx]) * m[:, None]
  return XW.T @ XW / nk


def _violators(w, g, a1, tol, slack):
  """Zero coefficients that violate |∇_j| ≤ a1_j (with the check's tolerance)."""
  return (w == 0) & (jnp.abs(g) > a1 * (1.0 + 10.0 * tol) + slack)


def _ws_folds(X, train, folds, a1, a2, w, k, tol, max_outer):
  """Working-set solves of the F folds' lasso / elastic net (training rows train[f]).

  Outer iterations (Johnson & Guestrin 2015; Massias et al. 2018): each
  fold's working set is its current support plus the coordinates that
  violate the optimality conditions the most (largest |∇_j|/a1_j), k in
  all; the problems restricted to them are solved on their k×k Gram
  matrices by coordinate descent (``_coordinate_descent.gram_solve``, the
  engine's cyclic CD on a Gram block, vmapped over the folds),
  then made exact by one Newton step on the support (signs fixed, a dense
  k×k solve); the full gradient then checks the optimality conditions of
  every coordinate left out. The support of a tuned lasso is small, so all
  of this costs a few products with X and O(k²n) per fold for the Gram.

  Returns ``(w, ok, it)``: the solutions (F, p), whether each fold passed
  the optimality checks (when not, e.g. because a support outgrew k, the
  caller falls back), and the number of outer iterations.
  The solve is given up on (ok False) as soon as a fold needs more than k
  coordinates (its support plus its violators) after an outer iteration:
  cycling a working set that is too small would only add a few of them per
  outer iteration.
  """
  n, p = X.shape
  F = train.shape[0]
  dtype = X.dtype
  a1 = jnp.broadcast_to(a1, (F, p))
  nk, xm, _, c = folds
  tiny = jnp.finfo(dtype).tiny
  # Coordinate descent only has to find the support and signs: the Newton
  # step that follows makes the solution exact.
  cd_tol = jnp.maximum(jnp.asarray(tol, dtype), 1e-3)
  slack = folds.slack(tol)
  neg_grad = lambda w: folds.neg_grad(X, train, a2, w)

  def need_of(w, g):
    return jnp.max(jnp.sum(w != 0, axis=1) + jnp.sum(_violators(w, g, a1, tol, slack), axis=1))

  def newton(G, cW, a1W, wW):
    # Coordinates whose sign the Newton step flips leave the support and the
    # step is redone (a primal active-set update): an inexact coordinate
    # descent leaves small spurious coefficients that only many more sweeps
    # would drive exactly to 0. The full optimality check validates the result.
    s = jnp.sign(wW)

    def solve(d):
      H = G * d[:, None] * d[None, :] + jnp.diag(d * a2 + (1.0 - d))
      wP = d * _spd_solve(H, d * (cW - a1W * s))
      flip = (d > 0) & (a1W > 0) & (jnp.sign(wP) != s)
      return wP, flip

    def cond(st):
      return jnp.any(st[2]) & (st[3] < 5)

    def body(st):
      d, _, flip, it = st
      d = jnp.where(flip, 0.0, d)
      wP, flip = solve(d)
      return d, wP, flip, it + 1

    d0 = ((wW != 0) | (a1W == 0)).astype(dtype)
    wP, flip = solve(d0)
    d, wP, flip, _ = jax.lax.while_loop(cond, body, (d0, wP, flip, 0))
    signs = ~jnp.any(flip)
    return jnp.where(signs, wP, wW), signs

  def cond(st):
    _, ok, it, need = st
    return (~jnp.all(ok)) & (need <= k) & (it < max_outer)

  def body(st):
    w, _, it, _ = st
    g = neg_grad(w)
    score = jnp.where((w != 0) | (a1 == 0), jnp.inf, jnp.abs(g) / jnp.maximum(a1, tiny))
    _, idx = jax.lax.top_k(score, k)
    G = jax.vmap(functools.partial(_fold_gram, X))(train, xm, nk, idx)
    cW = jnp.take_along_axis(c, idx, axis=1)
    a1W = jnp.take_along_axis(a1, idx, axis=1)
    wW = jax.vmap(_coordinate_descent.gram_solve, in_axes=(0, 0, 0, None, 0, None, None))(
        G, cW, a1W, a2, jnp.take_along_axis(w, idx, axis=1), cd_tol, 50)
    wW, signs = jax.vmap(newton)(G, cW, a1W, wW)
    w = jax.vmap(lambda i, v: jnp.zeros(p, dtype).at[i].set(v))(idx, wW)
    g = neg_grad(w)
    ok = signs & ~jnp.any(_violators(w, g, a1, tol, slack), axis=1)
    return w, ok, it + 1, need_of(w, g)

  st = (w, jnp.zeros((F,), bool), 0, jnp.max(jnp.sum(w != 0, axis=1)))
  w, ok, it, _ = jax.lax.while_loop(cond, body, st)
  return w, ok, it


def _ws_ladder(X, train, folds, a1, a2, warm, sizes, tol):
  """:func:`_ws_folds` at the working-set sizes in turn until every fold passes.

  Starts at the smallest size with room for the largest warm support and
  some growth (violators at the warm start would be a poor guess: after a
  long step in α far more coordinates violate the optimality conditions
  than enter the support); a size that fails hands its iterate to the
  next. A ``lax.while_loop`` over a ``lax.switch``, so each size is
  compiled once.

  Returns (w, ok, it): the solutions (F, p), whether each fold passed the
  optimality checks (all False if no size sufficed), and the outer
  iterations of the last size tried.
  """
  F = warm.shape[0]
  need = jnp.max(jnp.sum(warm != 0, axis=1)) * 1.15
  level0 = jnp.minimum(jnp.sum(need > jnp.asarray(sizes)), len(sizes) - 1)
  def attempt(k, w):
    w, ok, it = _ws_folds(X, train, folds, a1, a2, w, k, tol, 10)
    return w, ok, jnp.asarray(it, jnp.int32)

  def cond(st):
    level, _, ok, _ = st
    return ~jnp.all(ok) & (level < len(sizes))

  def body(st):
    level, w, _, _ = st
    w, ok, it = jax.lax.switch(level, [functools.partial(attempt, k) for k in sizes], w)
    return level + 1, w, ok, it

  st = (level0, warm, jnp.zeros((F,), bool), jnp.zeros((), jnp.int32))
  _, w, ok, it = jax.lax.while_loop(cond, body, st)
  return w, ok, it


@functools.partial(jax.jit, static_argnames=("search", "steps", "fit_intercept", "tol",
                                             "max_iter", "solver"))
def _tune_cv_impl(X, y, train, test, penalty, log_a0, t_lo, t_hi, *, search, steps,
                  fit_intercept, tol, max_iter, solver):
  # train and test hold the K folds, then all rows (train) with no test rows.
  K = train.shape[0]
  n, p = X.shape
  sg = jax.lax.stop_gradient
  # Working sets of a few fixed sizes (shapes are static under jit): the
  # smallest that holds the support keeps the Gram matrices cheap.
  # A lasso's support has at most n elements, hence the largest size.
  sizes = tuple(sorted({min(p, 128), min(p, max(256, n))}))
  ws = isinstance(penalty, (_fit.L1, _fit.ElasticNet)) and fit_intercept

  def full_objective(log_a, warm):
    pen = _with_alpha(penalty, jnp.exp(log_a))
    a1, a2 = _fit._penalty_parts(pen, p, X.dtype)
    out = _cv_fits(X, y, train, a1, a2, warm, fit_intercept, tol, max_iter, solver)
    w, b = out[0], out[1]
    conv = jax.lax.stop_gradient(_fit_converged(out))
    resid = (y[None, :] - w @ X.T - b[:, None])
    mse = jnp.sum(test * resid ** 2, axis=1) / jnp.maximum(jnp.sum(test, axis=1), 1.0)
    # The last problem is the fit on all rows, which has no test rows.
    return jnp.mean(mse[:-1]), (w, conv)

  def ws_folds(k, a1, a2, w):
    # The fold solutions as smooth functions of α on their supports (found
    # by the ladder, fixed here), compacted into k slots: the Newton step of
    # _ws_folds, differentiated through the dense solve, gives the implicit
    # hypergradient dw_S/dα = −H_S⁻¹ ∂_α(a1 s + a2 w)_S.
    a1 = jnp.broadcast_to(a1, (p,))

    def one(m, t, xm, ym, c, nk, w):
      on = (w != 0) | (a1 == 0)
      idx = jnp.nonzero(on, size=k, fill_value=0)[0]
      d = (jnp.arange(k) < jnp.sum(on)).astype(X.dtype)
      G = _fold_gram(X, m, xm, nk, idx)
      H = G * d[:, None] * d[None, :] + jnp.diag(d * a2 + (1.0 - d))
      wW = d * _spd_solve(H, d * (c[idx] - a1[idx] * jnp.sign(w[idx])))
      b = ym - xm[idx] @ wW
      resid = y - X[:, idx] @ wW - b
      mse = jnp.sum(t * resid ** 2) / jnp.maximum(jnp.sum(t), 1.0)
      return mse, jnp.zeros(p, X.dtype).at[idx].add(wW)

    return jax.vmap(one)(train, test, folds.xm, folds.ym, folds.c, folds.nk, w)

  def ws_objective(k, log_a, w, ok, warm):
    del ok, warm
    a1, a2 = _fit._penalty_parts(_with_alpha(penalty, jnp.exp(log_a)), p, X.dtype)
    mse, w = ws_folds(k, a1, a2, w)
    # Every fold passed the working-set solver's optimality checks.
    return jnp.mean(mse[:-1]), (w, jnp.ones((), bool))

  def mixed_objective(log_a, w, ok, warm):
    # Folds that passed keep the working-set solution; only those that
    # failed (supports near the number of samples) are refitted, one at a
    # time, by fit's coordinate descent from their warm start.
    a1, a2 = _fit._penalty_parts(_with_alpha(penalty, jnp.exp(log_a)), p, X.dtype)
    # A failed fold's iterate may be anything: an empty support keeps its
    # (unused) dense solve finite, and so the gradient of the mix.
    mse_ws, w_ws = ws_folds(sizes[-1], a1, a2, jnp.where(ok[:, None], w, 0.0))

    def refit(args):
      m, t, w0, passed = args

      def cd(w0):
        out = _fit._fit_impl(X, y, m, a1, a2, w0, loss="squared", fit_intercept=fit_intercept,
                             tol=tol, max_iter=max_iter, solver=solver, with_converged=True)
        resid = y - X @ out[0] - out[1]
        mse = jnp.sum(t * resid ** 2) / jnp.maximum(jnp.sum(t), 1.0)
        return mse, out[0], jnp.all(out[3])

      skip = lambda w0: (jnp.zeros((), X.dtype), jnp.zeros_like(w0), jnp.ones((), bool))
      return jax.lax.cond(passed, skip, cd, w0)

    mse_cd, w_cd, conv = jax.lax.map(refit, (train, test, warm, ok))
    mse = jnp.where(ok, mse_ws, mse_cd)
    w = jnp.where(ok[:, None], w_ws, w_cd)
    return jnp.mean(mse[:-1]), (w, jax.lax.stop_gradient(jnp.all(conv)))

  def objective(log_a, warm):
    if not ws:
      return full_objective(log_a, warm)
    pen = _with_alpha(penalty, jnp.exp(sg(log_a)))
    a1, a2 = _fit._penalty_parts(pen, p, X.dtype)
    w, ok, _ = _ws_ladder(X, train, folds, sg(a1), sg(a2), warm, sizes, tol)
    # The smallest slot count that holds every fold's support; the mixed
    # objective when some fold failed the working-set solver.
    support = jnp.max(jnp.sum((w != 0) | (sg(a1) == 0), axis=1))
    level = jnp.where(jnp.all(ok), jnp.sum(support > jnp.asarray(sizes)), len(sizes))
    branches = [functools.partial(ws_objective, k) for k in sizes] + [mixed_objective]
    return jax.lax.switch(level, branches, log_a, w, ok, warm)

  folds = _Folds.of(X, y, train) if ws else None
  w0 = jnp.zeros((K, p), X.dtype)
  return _run_search(search, objective, log_a0, w0, steps, t_lo, t_hi)


# --- any datafit × any penalty --------------------------------------------------


def _held_out_loss(datafit, X_val, Y_val, W, b):
  """Mean squared error (over all entries) for the squared loss, else the datafit's mean loss."""
  eta = X_val @ W + b
  if datafit.name == "squared":
    return jnp.mean((Y_val - eta) ** 2)
  return datafit.value(Y_val, eta)


@functools.partial(jax.jit, static_argnames=("search", "steps", "fit_intercept", "tol",
                                             "max_iter", "solver"))
def _tune_generic_impl(parts, datafit, coords, log_a0, t_lo, t_hi, *, search, steps,
                       fit_intercept, tol, max_iter, solver):
  """The search over log α of the mean held-out loss of the (train, validation) parts."""

  def objective(log_a, warm):
    c = coords.with_alpha(jnp.exp(log_a))
    vals, fits, oks = [], [], []
    for (Xt, Yt, Xv, Yv), (W0, b0) in zip(parts, warm):
      W, b, _, ok = _fit._generic_solve(Xt, Yt, datafit, c, tol, fit_intercept, max_iter,
                                        solver, W0, b0)
      vals.append(_held_out_loss(datafit, Xv, Yv, W, b))
      fits.append((W, b))
      oks.append(ok)
    conv = jax.lax.stop_gradient(jnp.all(jnp.stack(oks)))
    return sum(vals) / len(vals), (tuple(fits), conv)

  w0 = tuple((jnp.zeros((Xt.shape[1], Yt.shape[1]), Xt.dtype), jnp.zeros((Yt.shape[1],), Xt.dtype))
             for Xt, Yt, _, _ in parts)
  return _run_search(search, objective, log_a0, w0, steps, t_lo, t_hi)


def _tune_generic(X, y, splits, penalty, loss, fit_intercept, steps, learning_rate, optimizer,
                  max_step, xtol, ftol, tol, max_iter, solver, scan_step, eps, name):
  """tune / tune_cv for the pairs the specialised solvers do not cover.

  ``splits`` is [(X_val, y_val)] for :func:`tune` (training on X, y) or a
  list of (train, test) row indices for :func:`tune_cv`. The search is the
  same; the domain's top is the penalty's α_max on the training data (the
  L1-like value for penalties without one), and the loss is the held-out
  mean squared error (squared loss) or mean datafit loss.
  """
  sparse = _sparse.is_sparse(X)
  if sparse:
    # FISTA on BCOO designs (products only, never densified); the
    # hypergradient is the same implicit one.
    prob = _engine.prepare_sparse(X, y, penalty, loss)
    tol, max_iter = _fit._sparse_settings(tol, max_iter, solver, prob.Y.dtype)
    solver_name = "fista"
    Xn = _data.check_sparse_X(X)[0].tocsr()
    prepare = lambda X_, y_, *names: _engine.prepare_sparse(X_, y_, penalty, df) if \
        _sparse.is_sparse(X_) else _engine.prepare(X_, y_, penalty, df, *names)
    rows = lambda idx: _engine.bcoo(Xn[idx])
  else:
    prob, tol, max_iter, solver_name = _fit._generic_args(X, y, penalty, loss, tol, max_iter,
                                                          solver)
    Xn = np.asarray(prob.X)
    prepare = lambda X_, y_, *names: _engine.prepare(X_, y_, penalty, df, *names)
    rows = lambda idx: jnp.asarray(Xn[idx])
  df, dtype = prob.datafit, prob.Y.dtype
  log_a0 = jnp.asarray(_start(penalty), dtype)
  Yn = np.asarray(prob.Y)
  if name == "tune":
    (X_val, y_val), = splits
    val = prepare(X_val, y_val, "X_val", "y_val")
    if val.X.shape[1] != prob.X.shape[1]:
      raise ValueError(f"X_val has {val.X.shape[1]} features, X has {prob.X.shape[1]}.")
    if val.Y.shape[1] != prob.Y.shape[1]:
      raise ValueError(f"y_val has {val.Y.shape[1]} outputs or classes, y has {prob.Y.shape[1]}.")
    parts = [(prob.X, prob.Y, val.X.astype(dtype), val.Y.astype(dtype))]
  else:
    parts = [(rows(tr), jnp.asarray(Yn[tr]), rows(te), jnp.asarray(Yn[te])) for tr, te in splits]
  alpha_max = 0.0
  for Xt, Yt, _, _ in parts:
    sub = _engine.Problem(Xt, Yt, df, prob.coords, False)
    _, G0 = _engine.null_gradient(sub, bool(fit_intercept))
    alpha_max = max(alpha_max, float(_engine.alpha_max(sub, G0)))
  steps, search = _search(steps, learning_rate, optimizer, max_step, xtol, ftol, scan_step, eps)
  search, t_lo, t_hi = _search_domain(search, alpha_max if alpha_max > 0 else None, eps, dtype)
  out = _tune_generic_impl(tuple(parts), df, prob.coords, log_a0, t_lo, t_hi, search=search,
                           steps=steps, fit_intercept=bool(fit_intercept), tol=tol,
                           max_iter=max_iter, solver=solver_name)
  alphas, vals, best = _best(*out[:3])
  alpha = alphas[best]
  res = _fit.fit(X, y, _with_alpha(penalty, alpha), loss=loss, fit_intercept=fit_intercept,
                 tol=tol, max_iter=max_iter, solver=solver)
  search_ok, fits_ok = bool(out[4]), bool(out[5]) and bool(_fit_converged(res))
  _warn_unconverged(name, search_ok, fits_ok, steps, max_iter)
  _warn_at_floor(name, search, alpha, t_lo)
  return TuneResult(alpha, vals[best], res, alphas, vals, jnp.asarray(search_ok and fits_ok))
