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

import jax
import jax.numpy as jnp

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
  """|prox| for general p, by bracketing the root of h then Newton."""
  tiny = jnp.finfo(a.dtype).tiny
  if p > 1:
    lo = jnp.zeros_like(a)
    h = lambda u: u - a + c * jnp.maximum(u, tiny) ** (p - 1)
    u = _bisect(h, lo, a)
    u = _newton_polish(u, a, c, p, lo, a)
    return jnp.where(a > 0, u, 0.0)
  # 0 < p < 1.
  c_safe = jnp.maximum(c, tiny)
  u0 = (c_safe * (1.0 - p)) ** (1.0 / (2.0 - p))
  u0_safe = jnp.maximum(u0, tiny)
  h = lambda u: u - a + c_safe * jnp.maximum(u, tiny) ** (p - 1)
  has_root = (u0 < a) & (h(u0_safe) <= 0)
  lo = jnp.minimum(u0, a)
  u = _bisect(h, lo, a)
  u = _newton_polish(u, a, c_safe, p, lo, a)
  better = _objective(u, a, c_safe, p) < 0.5 * a ** 2
  return jnp.where(has_root & better, u, 0.0)


def _magnitude_half(a, c):
  """|prox| for p = ½: the largest root s of s³ − a·s + c = 0 gives u = s²."""
  tiny = jnp.finfo(a.dtype).tiny
  a_safe = jnp.maximum(a, tiny)
  # Three real roots exist iff a ≥ 3(c/2)^(2/3); otherwise no stationary point.
  arg = -(3.0 * jnp.sqrt(3.0) / 2.0) * c * a_safe ** (-1.5)
  exists = arg >= -1.0
  phi = jnp.arccos(jnp.clip(arg, -1.0, 1.0))
  s = 2.0 * jnp.sqrt(a_safe / 3.0) * jnp.cos(phi / 3.0)
  u = s * s
  better = _objective(u, a, c, 0.5) < 0.5 * a ** 2
  return jnp.where(exists & better & (a > 0), u, 0.0)


def prox_lp(x: jax.Array, c: jax.Array, p: float) -> jax.Array:
  """Elementwise prox of z ↦ (c/p)|z|ᵖ: argmin_z ½(z − x)² + (c/p)|z|ᵖ.

  Args:
    x: the point, any shape, floating dtype.
    c: the product step·α (≥ 0), broadcastable to ``x``.
    p: the exponent, a Python number > 0 (static: it selects the algorithm).

  Returns:
    The global minimiser, same shape and dtype as ``x``. Exactly 0 where the
    minimiser is 0; ``x`` itself where c = 0.

  Example:
    >>> import jax.numpy as jnp
    >>> prox_lp(jnp.array([3.0, 0.5]), 1.0, 1.0)   # soft-thresholding
    Array([2., 0.], dtype=float32)
  """
  x = jnp.asarray(x)
  c = jnp.asarray(c, x.dtype)
  a = jnp.abs(x)
  sign = jnp.sign(x)
  if p == 1:
    return sign * jnp.maximum(a - c, 0.0)
  if p == 2:
    return x / (1.0 + c)
  if p == 0.5:
    mag = _magnitude_half(a, c)
  else:
    mag = _magnitude_general(a, c, float(p))
  return jnp.where(c > 0, sign * mag, x).astype(x.dtype)
