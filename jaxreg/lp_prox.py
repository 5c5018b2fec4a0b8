"""The proximal operator of the scalar Lp penalty, for every p > 0.

For c = step·α ≥ 0 the operator solves, element by element,

    prox(x) = argmin_z ½(z − x)² + (c/p)|z|ᵖ.

The minimiser has the sign of x and magnitude u ∈ [0, |x|]. A non-zero u is
a root of the stationarity condition

    h(u) = u − |x| + c·u^(p−1) = 0.

* p ≥ 1: the problem is convex, h is increasing on (0, |x|], and its root is
  the unique minimiser (closed forms at p = 1 and p = 2).
* 0 < p < 1: the problem is non-convex. h is convex on (0, ∞) with its
  minimum at u₀ = (c(1−p))^(1/(2−p)); when h(u₀) > 0 there is no stationary
  point and the answer is 0, otherwise the larger root (in [u₀, |x|]) is the
  only local minimiser away from 0 and is compared with z = 0 by objective
  value, so the operator returns the *global* minimiser. At p = ½ the
  stationarity condition is a cubic in √u, solved in closed form
  (the "half-thresholding" operator of Xu et al.).

References:
  Xu, Chang, Xu, Zhang (2012), "L1/2 regularization: a thresholding
  representation theory and a fast solver", IEEE TNNLS.
  Parikh & Boyd (2014), "Proximal Algorithms", §6.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np

from jaxreg import _checks

__all__ = ["prox_lp"]

_BISECTION_STEPS = 64  # halves the bracket below float64 resolution of any |x|.
_NEWTON_STEPS = 2


def _objective(u, a, c, p):
  return 0.5 * (u - a) ** 2 + (c / p) * u ** p


def _bisect(h, lo, hi):
  """Root of an increasing function h on [lo, hi] with h(lo) ≤ 0 ≤ h(hi)."""

  def body(_, bracket):
    lo, hi = bracket
    mid = 0.5 * (lo + hi)
    up = h(mid) > 0
    return jnp.where(up, lo, mid), jnp.where(up, mid, hi)

  lo, hi = jax.lax.fori_loop(0, _BISECTION_STEPS, body, (lo, hi))
  return 0.5 * (lo + hi)


def _newton_polish(u, a, c, p, lo, hi):
  """A few safeguarded Newton steps: bisection gets close, Newton gets exact."""
  for _ in range(_NEWTON_STEPS):
    safe = jnp.maximum(u, jnp.finfo(u.dtype).tiny)
    h = safe - a + c * safe ** (p - 1)
    dh = 1.0 + c * (p - 1) * safe ** (p - 2)
    step = jnp.where(dh != 0, h / jnp.where(dh != 0, dh, 1.0), 0.0)
    cand = safe - step
    u = jnp.where((cand >= lo) & (cand <= hi) & jnp.isfinite(cand), cand, u)
  return u


def _magnitude_general(a, c, p):
  """|prox| for general p, by bracketing the root of h then Newton.

  Entries whose answer is 0 (a = 0, or no stationary point) run the root
  solve on a stand-in problem (a = 1 with a small c) and are discarded by the
  final ``jnp.where``: solving at u = 0 itself would put infinite powers
  u^(p−2) in the reverse-mode derivative, and 0·∞ = NaN leaks through where.
  """
  tiny = jnp.finfo(a.dtype).tiny
  if p > 1:
    nz = a > 0
    a_s = jnp.where(nz, a, 1.0)
    lo = jnp.zeros_like(a)
    h = lambda u: u - a_s + c * jnp.maximum(u, tiny) ** (p - 1)
    u = _bisect(h, lo, a_s)
    u = _newton_polish(u, a_s, c, p, lo, a_s)
    return jnp.where(nz, u, 0.0)
  # 0 < p < 1.
  c_safe = jnp.maximum(c, tiny)
  u0 = (c_safe * (1.0 - p)) ** (1.0 / (2.0 - p))
  u0_safe = jnp.maximum(u0, tiny)
  has_root = (u0 < a) & (u0_safe - a + c_safe * u0_safe ** (p - 1) <= 0)
  a_s = jnp.where(has_root, a, 1.0)
  c_s = jnp.where(has_root, c_safe, 0.01)
  lo = (c_s * (1.0 - p)) ** (1.0 / (2.0 - p))
  h = lambda u: u - a_s + c_s * jnp.maximum(u, tiny) ** (p - 1)
  u = _bisect(h, lo, a_s)
  u = _newton_polish(u, a_s, c_s, p, lo, a_s)
  better = _objective(u, a_s, c_s, p) < 0.5 * a_s ** 2
  return jnp.where(has_root & better, u, 0.0)


def _magnitude_half(a, c):
  """|prox| for p = ½: the largest root s of s³ − a·s + c = 0 gives u = s²."""
  # Where a = 0 or no root exists, the formulas below are evaluated at a
  # harmless stand-in (a = 1, arg = 0) so that reverse-mode derivatives,
  # which flow through both branches of jnp.where, stay finite.
  nz = a > 0
  a_safe = jnp.where(nz, a, 1.0)
  # Three real roots exist iff a ≥ 3(c/2)^(2/3); otherwise no stationary point.
  arg = -(3.0 * jnp.sqrt(3.0) / 2.0) * c * a_safe ** (-1.5)
  exists = arg >= -1.0
  phi = jnp.arccos(jnp.clip(jnp.where(exists, arg, 0.0), -1.0, 1.0))
  s = 2.0 * jnp.sqrt(a_safe / 3.0) * jnp.cos(phi / 3.0)
  u = s * s
  better = _objective(u, a, c, 0.5) < 0.5 * a ** 2
  return jnp.where(exists & better & nz, u, 0.0)


def prox_lp(x: jax.Array, c: jax.Array, p: float) -> jax.Array:
  """Elementwise prox of z ↦ (c/p)|z|ᵖ: argmin_z ½(z − x)² + (c/p)|z|ᵖ.

  Args:
    x: the point, any shape, floating dtype.
    c: the product step·α (≥ 0), broadcastable to ``x``.
    p: the exponent, a Python number > 0 (static: it selects the algorithm).

  Raises:
    TypeError: ``x`` is not a floating array, or ``p`` not a Python number.
    ValueError: ``p`` ≤ 0, a concrete ``c`` negative or NaN (+inf is allowed:
      the answer is then 0), or ``c`` does not
      broadcast to ``x``'s shape. A traced negative or NaN ``c`` gives NaN
      (an error under ``jaxreg.checked``).

  Returns:
    The global minimiser, same shape and dtype as ``x``. Exactly 0 where the
    minimiser is 0; ``x`` itself where c = 0.

  Example:
    >>> import jax.numpy as jnp
    >>> prox_lp(jnp.array([3.0, 0.5]), 1.0, 1.0)   # soft-thresholding
    Array([2., 0.], dtype=float32)
  """
  if isinstance(p, jax.core.Tracer) or not isinstance(p, numbers.Real) or isinstance(p, bool):
    raise TypeError(f"p must be a Python number > 0 (it is static), got {type(p).__name__}.")
  if not (p > 0 and p < float("inf")):
    raise ValueError(f"p must be a finite number > 0, got {p!r}.")
  p = float(p)
  if x is None or isinstance(x, str):
    raise TypeError(f"x must be a floating point array, got {type(x).__name__}.")
  x = jnp.asarray(x)
  if not jnp.issubdtype(x.dtype, jnp.floating):
    raise TypeError(f"x must be a floating point array, got dtype {x.dtype}.")
  # c = step·α may overflow to +inf for valid step and α; the prox is then 0.
  if isinstance(c, str) or c is None:
    raise TypeError(f"c must be a number or an array of numbers, got {type(c).__name__}.")
  if _checks.is_concrete(c):
    c_np = np.asarray(c, np.float64)
    if np.any(np.isnan(c_np)) or np.any(c_np < 0):
      raise ValueError(f"c must be >= 0 and not NaN, got {c_np!r}.")
  c = _checks.guard(c, "c", finite=False)
  if jnp.broadcast_shapes(jnp.shape(c), x.shape) != x.shape:
    raise ValueError(f"c of shape {jnp.shape(c)} does not broadcast to x of shape {x.shape}.")
  dtype = x.dtype
  # Half types are solved in float32 (the bisection's bracket and the cubic's
  # constants need more than float16's 11 bits), then rounded once.
  x = x.astype(jnp.promote_types(dtype, jnp.float32))
  c = jnp.asarray(c, x.dtype)
  a = jnp.abs(x)
  sign = jnp.sign(x)
  if p == 1:
    return (sign * jnp.maximum(a - c, 0.0)).astype(dtype)
  if p == 2:
    return (x / (1.0 + c)).astype(dtype)
  if p == 0.5:
    mag = _magnitude_half(a, c)
  else:
    mag = _magnitude_general(a, c, float(p))
  # The minimiser lies in [0, |x|]; the cubic's rounding can overshoot |x| by an ulp.
  # An infinite c (an overflowed step·α) pins it to 0, which the root solve,
  # seeing inf·0, would not find.
  mag = jnp.where(jnp.isposinf(c), 0.0, jnp.minimum(mag, a))
  # c = 0 returns x itself; a NaN c (an invalid traced step or α) stays NaN
  # rather than falling through to x.
  out = jnp.where(c > 0, sign * mag, jnp.where(c == 0, x, jnp.nan))
  return out.astype(dtype)
