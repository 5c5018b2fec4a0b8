r"""Penalties: pure functions on parameter pytrees, with gradient and prox.

Every penalty is a pytree whose hyperparameters (α, and l1_ratio or weights
where present) are *leaves*. A batch of α values is therefore a batch of
penalties that ``jax.vmap`` maps over, and passing a penalty with a new α to
a jitted function reuses the compiled code. Structural settings (``p`` of
``Lp``, ``axis`` of ``GroupLasso``, the mask) are static metadata.

Conventions (see the README's conventions table), summed over the selected
leaves of the parameter pytree:

=====================  =========================================  ==============================
penalty                value                                      prox at step s
=====================  =========================================  ==============================
``L1(α, weights=v)``   α Σ vᵢ|xᵢ|                                 soft-threshold at s·α·vᵢ
``L2(α, weights=v)``   (α/2) Σ vᵢxᵢ²                              x / (1 + s·α·vᵢ)
``ElasticNet(α, r)``   α·r‖x‖₁ + α(1−r)/2 ‖x‖²                     soft-threshold at s·α·r, then / (1 + s·α(1−r))
``Lp(α, p)``           (α/p) Σ |xᵢ|ᵖ                              global minimiser of the scalar problem
``GroupLasso(α)``      α Σ_g √|g| ‖x_g‖₂                          block soft-threshold at s·α·√|g|
``MCP(α, γ)``          α|xᵢ| − xᵢ²/(2γ) to |xᵢ| = γα, then γα²/2  firm threshold (γ > s), else global
``SCAD(α, a)``         Fan & Li's, knots α and aα                 Fan & Li's rule (a−1 > s), else global
=====================  =========================================  ==============================

Each penalty has three methods: ``pen(params)`` (a scalar), ``pen.grad(params)``
(a pytree; the minimum-norm subgradient where the penalty is not
differentiable, so 0 at 0) and ``pen.prox(params, step)`` =
argmin_z ½‖z − params‖² + step·pen(z).

What is checked, and when. Built from concrete numbers, a penalty raises
``ValueError`` for α < 0, l1_ratio outside [0, 1], p ≤ 0, negative weights
or non-finite hyperparameters, and ``TypeError`` for non-numbers (strings,
None), each naming the argument. Applied to parameters, it raises at trace
time, naming the argument and the leaf path, for: non-floating or
non-numeric leaves (a Python float leaf is fine), a non-scalar α or
l1_ratio (a batch of K penalties is applied with ``jax.vmap`` or
``jr.sweep``, where each sees a scalar; called directly it would broadcast
against the parameters), weights that do not broadcast to their leaf
without changing its shape, and a ``step`` that is not a finite real scalar
≥ 0. A hyperparameter or step that is *traced* (inside ``jit``/``vmap``/
``grad``, or kept in ``optax.inject_hyperparams``' state) cannot be checked
when it is traced: if invalid it makes the leaves it touches NaN, never a
finite wrong answer, and under ``jaxreg.checked`` it raises instead.

Precision: half-precision leaves (float16, bfloat16) are computed in
float32 and rounded once to their dtype. Values, norms and block prox of
``L2``, ``ElasticNet`` and ``GroupLasso`` scale by a power of two near max|x|
first, so they do not overflow where the result is representable (``L2(1e-4)``
of a float16 leaf holding 300 is 4.5). The value is returned in the
parameters' dtype; one beyond that dtype's range is inf, as any result of
that dtype would be (cast the parameters up if that matters).
"""

from __future__ import annotations

import math
from typing import Any, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np

from jaxreg import _checks
from jaxreg import masks as _masks
from jaxreg.lp_prox import prox_lp

__all__ = ["Penalty", "L1", "L2", "ElasticNet", "Lp", "GroupLasso", "MCP", "SCAD"]


@jax.custom_jvp
def _abs_pow(x, p):
  """|x|ᵖ with derivative p·sign(x)|x|^(p−1), taken as 0 at x = 0.

  At 0 the true derivative is 0 for p > 1 and undefined (infinite) for
  p ≤ 1; 0 is the minimum-norm subgradient, the choice ``.grad`` makes too.
  """
  return jnp.abs(x) ** p


@_abs_pow.defjvp
def _abs_pow_jvp(primals, tangents):
  x, p = primals
  dx, dp = tangents
  a = jnp.abs(x)
  nz = a > 0
  a_safe = jnp.where(nz, a, 1.0)
  value = jnp.where(nz, a_safe ** p, jnp.where(p == 0, 1.0, 0.0).astype(x.dtype))
  dvalue_dx = jnp.where(nz, p * jnp.sign(x) * a_safe ** (p - 1), 0.0)
  dvalue_dp = jnp.where(nz, value * jnp.log(a_safe), 0.0)
  return value, dvalue_dx * dx + dvalue_dp * dp


def _pow2_scale(x, axis=None):
  """(1/s, s) for s = 2ᵉ ≈ max|x| over ``axis`` (kept); constants for autodiff.

  Multiplying by 1/s before squaring keeps sums of squares in range, as a
  robust ``hypot`` does; the results are invariant in s, so it needs no
  derivative. A power of two makes the scaling exact, and e is clipped so
  that both s and 1/s are normal numbers: CPUs flush subnormals to zero, and
  XLA divides by multiplying with the reciprocal, so x / max|x| itself is 0
  for max|x| ≈ 3e38 in float32. 1/s = s = 1 for x = 0.
  """
  info = jnp.finfo(x.dtype)
  m = jax.lax.stop_gradient(jnp.max(jnp.abs(x), axis=axis, keepdims=True))
  _, e = jnp.frexp(m)
  e = jnp.clip(e, info.minexp + 2, info.maxexp - 2)
  one = jnp.ones((), x.dtype)
  return jnp.ldexp(one, -e), jnp.ldexp(one, e)


def _safe_norm(x, axis):
  """‖x‖₂ over ``axis`` (kept), scaled so that it neither overflows nor
  underflows where the norm itself is representable, and whose gradient at 0
  is 0 rather than NaN."""
  inv, s = _pow2_scale(x, axis)
  y = x * inv
  sq = jnp.sum(y * y, axis=axis, keepdims=True)
  nz = sq > 0
  return jnp.where(nz, s * jnp.sqrt(jnp.where(nz, sq, 1.0)), 0.0)


def _half_sum_squares(coef, x, w=None):
  """coef/2 · Σ wᵢxᵢ², computed as ((coef/2·s)·s)·Σ wᵢ(xᵢ/s)² with s ≈ max|x|.

  Every intermediate stays below the result (up to the factor Σ wᵢ(xᵢ/s)²),
  so the value is finite whenever it is representable, where squaring first
  would overflow (x ≈ 1e20 in float32 with a small α, or 300 in float16).
  """
  inv, s = _pow2_scale(x)
  y = x * inv
  total = jnp.sum(y * y if w is None else w * y * y)
  return ((0.5 * coef * s) * s).reshape(()) * total


def _compute_dtype(dtype):
  """Half types (float16, bfloat16) are computed in float32, others as they are."""
  return jnp.promote_types(dtype, jnp.float32) if jnp.finfo(dtype).bits < 32 else jnp.dtype(dtype)


class Penalty:
  """Base class: a regularizer on a parameter pytree.

  Subclasses list their hyperparameter leaves in ``_leaf_fields`` and their
  static settings in ``_static_fields``, and implement the per-leaf
  ``_value_leaf``, ``_grad_leaf`` and ``_prox_leaf``. The base class applies
  them over the (masked) leaves, checks dtypes and registers the subclass as
  a pytree.
  """

  _leaf_fields: tuple[str, ...] = ("alpha",)
  _static_fields: tuple[str, ...] = ("mask",)

  def __init_subclass__(cls, **kwargs):
    super().__init_subclass__(**kwargs)

    def flatten_with_keys(pen):
      children = [(jax.tree_util.GetAttrKey(f), getattr(pen, f)) for f in cls._leaf_fields]
      aux = tuple(getattr(pen, f) for f in cls._static_fields)
      return children, aux

    def unflatten(aux, children):
      # Bypasses __init__: JAX rebuilds pytrees with tracers or placeholder
      # objects as leaves, which must not be validated or converted.
      pen = object.__new__(cls)
      for f, v in zip(cls._leaf_fields, children):
        object.__setattr__(pen, f, v)
      for f, v in zip(cls._static_fields, aux):
        object.__setattr__(pen, f, v)
      return pen

    jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten)

  def __setattr__(self, name, value):
    raise AttributeError(f"{type(self).__name__} is immutable; use .replace({name}=...).")

  def _set(self, **fields):
    for k, v in fields.items():
      object.__setattr__(self, k, v)

  def replace(self, **changes) -> "Penalty":
    """A copy with some fields changed (re-validated), like ``dataclasses.replace``."""
    kwargs = {f: getattr(self, f) for f in self._init_fields()}
    kwargs.update(changes)
    return type(self)(**kwargs)

  @classmethod
  def _init_fields(cls) -> Sequence[str]:
    return cls._leaf_fields + cls._static_fields

  def __repr__(self):
    fields = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._init_fields())
    return f"{type(self).__name__}({fields})"

  # --- per-leaf maths, written by subclasses -------------------------------
  def _value_leaf(self, x, leaf_hp):
    raise NotImplementedError

  def _grad_leaf(self, x, leaf_hp):
    raise NotImplementedError

  def _prox_leaf(self, x, step, leaf_hp):
    raise NotImplementedError

  def _leaf_hyperparams(self, params, leaves, flags) -> list:
    """Per-leaf hyperparameters (e.g. L1 weights); None where not used."""
    return [None] * len(leaves)

  # --- pytree plumbing --------------------------------------------------------
  _batch_hint = (" A penalty holding a batch of values is applied with jax.vmap (or "
                 "jr.sweep), which maps over their leading axis; called directly on "
                 "params it would broadcast them against the parameters.")

  def _scalar_fields(self) -> tuple[str, ...]:
    """Leaf fields that must be scalars where the penalty is applied."""
    return tuple(f for f in self._leaf_fields if f != "weights")

  def _guarded(self) -> "Penalty":
    """A copy whose traced hyperparameters are checked (see ``_checks.guard``)."""
    pen = object.__new__(type(self))
    for f in self._init_fields():
      object.__setattr__(pen, f, getattr(self, f))
    object.__setattr__(pen, "alpha", _checks.guard(self.alpha, "alpha"))
    return pen

  def _selected(self, params):
    leaves, treedef = _checks.as_params(params)
    for f in self._scalar_fields():
      _checks.check_scalar(getattr(self, f), f, self._batch_hint)
    flags = _masks.resolve(self.mask, params)
    pen = self._guarded()
    hps = pen._leaf_hyperparams(params, leaves, flags)
    return pen, leaves, treedef, flags, hps

  def __call__(self, params: Any) -> jax.Array:
    """The penalty's value: a scalar (summed over the selected leaves).

    Half-precision leaves (float16, bfloat16) are accumulated in float32 and
    the sum is rounded once to the parameters' dtype: a value beyond that
    dtype's range (65504 for float16) is inf there, as any float16 result
    would be. Norms and sums of squares are scaled by max|x| first, so they
    do not overflow where the value itself is representable.
    """
    pen, leaves, _, flags, hps = self._selected(params)
    chosen = [(x, hp) for x, f, hp in zip(leaves, flags, hps) if f]
    if not chosen:
      dtype = leaves[0].dtype if leaves else jnp.result_type(float)
      return jnp.zeros((), dtype)
    terms = [pen._value_leaf(x.astype(_compute_dtype(x.dtype)), hp) for x, hp in chosen]
    out_dtype = jnp.result_type(*[x.dtype for x, _ in chosen])
    return sum(terms[1:], terms[0]).astype(out_dtype)

  def grad(self, params: Any) -> Any:
    """∇ penalty(params), with the minimum-norm subgradient where it is not
    differentiable (0 at 0); zeros on leaves the mask leaves out."""
    pen, leaves, treedef, flags, hps = self._selected(params)
    out = [_in_compute_dtype(pen._grad_leaf, x, hp) if f else jnp.zeros_like(x)
           for x, f, hp in zip(leaves, flags, hps)]
    return jax.tree_util.tree_unflatten(treedef, out)

  def prox(self, params: Any, step: Union[float, jax.Array]) -> Any:
    """argmin_z ½‖z − params‖² + step·penalty(z); identity on unselected leaves.

    Args:
      params: the point, a parameter pytree.
      step: the step size s ≥ 0 (a learning rate), a real scalar; s = 0 gives
        ``params``. A concrete negative, NaN, infinite or non-scalar step
        raises ``ValueError`` (a string or None ``TypeError``). A traced step
        cannot be checked when traced: a negative or NaN one makes the
        selected leaves NaN, and raises under ``jaxreg.checked``.
    """
    step = _checks.as_step(step)
    pen, leaves, treedef, flags, hps = self._selected(params)
    out = [_in_compute_dtype(lambda x, hp: pen._prox_leaf(x, step, hp), x, hp) if f else x
           for x, f, hp in zip(leaves, flags, hps)]
    return jax.tree_util.tree_unflatten(treedef, out)

  def _alpha(self, x):
    return jnp.asarray(self.alpha, x.dtype)


def _in_compute_dtype(fn, x, hp):
  """fn(x, hp) computed in float32 for half-precision x, returned in x's dtype."""
  return fn(x.astype(_compute_dtype(x.dtype)), hp).astype(x.dtype)


def _init_alpha(alpha):
  alpha = _checks.as_hyperparameter(alpha, "alpha", lower=0.0)
  return alpha


def soft_threshold(x, t):
  r"""The soft-thresholding operator sign(x)·max(|x| − t, 0), elementwise.

  The prox of t‖·‖₁: argmin_z ½(z − x)² + t|z|. Every lasso solver in
  ``jaxreg.linear`` thresholds with this one function.

  Args:
    x: an array.
    t: the threshold(s) t ≥ 0, broadcastable to ``x``.

  Returns:
    An array of ``x``'s shape.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxreg.penalties import soft_threshold
    >>> soft_threshold(jnp.array([-3.0, 0.5, 2.0]), 1.0)
    Array([-2.,  0.,  1.], dtype=float32)
  """
  return jnp.sign(x) * jnp.maximum(jnp.abs(x) - t, 0.0)


_soft_threshold = soft_threshold


def _init_weights(weights, alpha):
  """Validates per-coordinate weights and broadcasts them to a batched α."""
  if weights is None:
    return None
  weights = jax.tree_util.tree_map_with_path(
      lambda path, w: _checks.as_hyperparameter(
          w, f"weights{jax.tree_util.keystr(path)}", lower=0.0),
      weights)
  batch = jnp.shape(alpha)
  if batch and _checks.is_concrete(weights):
    weights = jax.tree_util.tree_map(lambda w: jnp.broadcast_to(w, batch + jnp.shape(w)), weights)
  return weights


class _Weighted(Penalty):
  """Shared by penalties with per-coordinate weights vᵢ (``L1``, ``L2``)."""

  def _leaf_hyperparams(self, params, leaves, flags):
    n = len(leaves)
    if self.weights is None:
      return [None] * n
    wflat = jax.tree_util.tree_flatten_with_path(self.weights)[0]
    if len(wflat) == 1 and jnp.ndim(wflat[0][1]) == 0:
      return [wflat[0][1]] * n
    if len(wflat) == n:
      hps = [w for _, w in wflat]
      wpaths = [p for p, _ in wflat]
    elif len(wflat) == sum(flags):
      it = iter(wflat)
      pairs = [next(it) if f else (None, None) for f in flags]
      hps = [w for _, w in pairs]
      wpaths = [p for p, _ in pairs]
    else:
      raise ValueError(
          f"weights has {len(wflat)} leaves but params has {n} "
          f"({sum(flags)} selected by the mask); give one weight array per leaf.")
    ppaths = [p for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
    for x, f, w, wpath, ppath in zip(leaves, flags, hps, wpaths, ppaths):
      if not f or w is None:
        continue
      try:
        fits = jnp.broadcast_shapes(jnp.shape(w), x.shape) == x.shape
      except ValueError:
        fits = False
      if not fits:
        batch = (" With a batch of α the weights carry the batch axis first; apply the "
                 "penalty with jax.vmap." if jnp.ndim(self.alpha) else "")
        raise ValueError(
            f"weights{jax.tree_util.keystr(tuple(wpath))} has shape {jnp.shape(w)}, which does not "
            f"broadcast to params{_checks.path_str(ppath)} of shape {x.shape} without changing "
            f"that shape.{batch}")
    return hps

  def _guarded(self):
    pen = super()._guarded()
    if self.weights is not None:
      object.__setattr__(pen, "weights", jax.tree_util.tree_map(
          lambda w: _checks.guard(w, "weights"), self.weights))
    return pen

  def _w(self, x, hp):
    return 1.0 if hp is None else jnp.asarray(hp, x.dtype)


class L1(_Weighted):
  r"""The lasso penalty α Σᵢ vᵢ|xᵢ|.

  .. math::  \mathrm{pen}(x) = \alpha \sum_i v_i |x_i|, \qquad
             \mathrm{prox}_s(x)_i = \mathrm{sign}(x_i)\max(|x_i| - s\alpha v_i, 0)

  The gradient is the minimum-norm subgradient α vᵢ sign(xᵢ) (0 at 0).

  Args:
    alpha: strength α ≥ 0; a scalar, or an array of shape (K,) for a batch of
      K penalties to ``jax.vmap`` over.
    weights: per-coordinate weights vᵢ ≥ 0 (the adaptive lasso): None (all
      1), a scalar, or a pytree of arrays matching the masked parameters
      (one array per leaf, broadcastable to it). With batched α the weights
      are broadcast to the batch.
    mask: which leaves to penalize (see ``jaxreg.masks``).

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> jr.L1(0.5)({"w": jnp.array([1.0, -2.0])})
    Array(1.5, dtype=float32)

  References:
    Tibshirani (1996), "Regression shrinkage and selection via the lasso".
    Zou (2006), "The adaptive lasso and its oracle properties".
  """

  _leaf_fields = ("alpha", "weights")
  _static_fields = ("mask",)

  def __init__(self, alpha, weights=None, mask=None):
    alpha = _init_alpha(alpha)
    self._set(alpha=alpha, weights=_init_weights(weights, alpha), mask=_masks.normalize(mask))

  def _value_leaf(self, x, hp):
    # α inside the sum: a large sum times a small α is then not an overflow.
    return jnp.sum(self._alpha(x) * self._w(x, hp) * jnp.abs(x))

  def _grad_leaf(self, x, hp):
    return self._alpha(x) * self._w(x, hp) * jnp.sign(x)

  def _prox_leaf(self, x, step, hp):
    return _soft_threshold(x, jnp.asarray(step, x.dtype) * self._alpha(x) * self._w(x, hp))


class L2(_Weighted):
  r"""The ridge / weight-decay penalty (α/2) Σᵢ vᵢxᵢ² (vᵢ = 1 by default).

  .. math::  \mathrm{pen}(x) = \tfrac{\alpha}{2}\sum_i v_i x_i^2, \qquad
             \nabla\mathrm{pen}(x) = \alpha v \odot x, \qquad
             \mathrm{prox}_s(x)_i = \frac{x_i}{1 + s\alpha v_i}

  Per-coordinate weights give the generalized ridge (Tikhonov with a diagonal
  matrix), e.g. the penalty that dropout adds to linear regression in
  expectation, vⱼ = (XᵀX/n)ⱼⱼ.

  Args:
    alpha: strength α ≥ 0; scalar or a (K,) batch.
    mask: which leaves to penalize (see ``jaxreg.masks``).
    weights: keyword-only per-coordinate weights vᵢ ≥ 0, as for ``L1``.

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> jr.L2(1.0)(jnp.array([3.0, 4.0]))     # TF1 l2_regularizer(1.0) gives 12.5 too
    Array(12.5, dtype=float32)

  References:
    Hoerl & Kennard (1970), "Ridge regression". Krogh & Hertz (1991), "A
    simple weight decay can improve generalization".
  """

  _leaf_fields = ("alpha", "weights")
  _static_fields = ("mask",)

  def __init__(self, alpha, mask=None, *, weights=None):
    alpha = _init_alpha(alpha)
    self._set(alpha=alpha, weights=_init_weights(weights, alpha), mask=_masks.normalize(mask))

  def _value_leaf(self, x, hp):
    w = None if hp is None else self._w(x, hp)
    return _half_sum_squares(self._alpha(x), x, w)

  def _grad_leaf(self, x, hp):
    return self._alpha(x) * self._w(x, hp) * x

  def _prox_leaf(self, x, step, hp):
    return x / (1.0 + jnp.asarray(step, x.dtype) * self._alpha(x) * self._w(x, hp))


class ElasticNet(Penalty):
  r"""The elastic net α·r‖x‖₁ + α(1−r)/2 ‖x‖², scikit-learn's scaling.

  .. math::  \mathrm{pen}(x) = \alpha r\|x\|_1 + \tfrac{\alpha(1-r)}{2}\|x\|_2^2,
             \qquad \mathrm{prox}_s(x) =
             \frac{\mathrm{sign}(x)\max(|x| - s\alpha r, 0)}{1 + s\alpha(1-r)}

  r = 1 is ``L1(α)``, r = 0 is ``L2(α)``. α and r are both leaves and are
  broadcast together, so either may be batched.

  Args:
    alpha: strength α ≥ 0.
    l1_ratio: mixing r ∈ [0, 1].
    mask: which leaves to penalize.

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> jr.ElasticNet(1.0, 0.5)(jnp.array([2.0]))
    Array(2., dtype=float32)

  References:
    Zou & Hastie (2005), "Regularization and variable selection via the
    elastic net"; Friedman, Hastie & Tibshirani (2010), glmnet.
  """

  _leaf_fields = ("alpha", "l1_ratio")
  _static_fields = ("mask",)

  def __init__(self, alpha, l1_ratio=0.5, mask=None):
    alpha = _init_alpha(alpha)
    l1_ratio = _checks.as_hyperparameter(l1_ratio, "l1_ratio", lower=0.0, upper=1.0)
    if _checks.is_concrete((alpha, l1_ratio)):
      alpha, l1_ratio = jnp.broadcast_arrays(alpha, l1_ratio)
    self._set(alpha=alpha, l1_ratio=l1_ratio, mask=_masks.normalize(mask))

  def _parts(self, x):
    a = self._alpha(x)
    r = jnp.asarray(self.l1_ratio, x.dtype)
    return a * r, a * (1.0 - r)

  def _value_leaf(self, x, hp):
    a1, a2 = self._parts(x)
    return jnp.sum(a1 * jnp.abs(x)) + _half_sum_squares(a2, x)

  def _guarded(self):
    pen = super()._guarded()
    object.__setattr__(pen, "l1_ratio", _checks.guard(self.l1_ratio, "l1_ratio", 0.0, 1.0))
    return pen

  def _grad_leaf(self, x, hp):
    a1, a2 = self._parts(x)
    return a1 * jnp.sign(x) + a2 * x

  def _prox_leaf(self, x, step, hp):
    a1, a2 = self._parts(x)
    s = jnp.asarray(step, x.dtype)
    return _soft_threshold(x, s * a1) / (1.0 + s * a2)


class Lp(Penalty):
  r"""The Lp penalty (α/p) Σᵢ |xᵢ|ᵖ for any p > 0.

  .. math::  \mathrm{pen}(x) = \frac{\alpha}{p}\sum_i |x_i|^p

  p = 1 is ``L1(α)`` and p = 2 is ``L2(α)``. For p < 1 the penalty is
  non-convex: ``prox`` returns the *global* minimiser of the scalar problem
  (see ``jaxreg.lp_prox``), in closed form at p ∈ {½, 1, 2} and by a
  vectorised bracketed root solve otherwise. ``grad`` is α sign(x)|x|^(p−1),
  taken as 0 at x = 0 for every p (never inf or NaN).

  Args:
    alpha: strength α ≥ 0 (a leaf).
    p: the exponent, a Python number > 0 (static: it selects the algorithm).
    mask: which leaves to penalize.

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> jr.Lp(1.0, p=0.5).prox(jnp.array([0.5, 4.0]), 1.0)   # small entries go to exactly 0
    Array([0.      , 3.4...], dtype=float32)

  References:
    Frank & Friedman (1993), "A statistical view of some chemometrics
    regression tools" (bridge regression); Xu et al. (2012), L1/2.
  """

  _leaf_fields = ("alpha",)
  _static_fields = ("p", "mask")

  def __init__(self, alpha, p, mask=None):
    if isinstance(p, jax.core.Tracer):
      raise TypeError("p must be a Python number (it is static); got a traced value.")
    try:
      p = float(p)
    except (TypeError, ValueError) as e:
      raise TypeError(f"p must be a number > 0, got {p!r}.") from e
    if not (p > 0 and math.isfinite(p)):
      raise ValueError(f"p must be a finite number > 0, got {p!r}.")
    self._set(alpha=_init_alpha(alpha), p=p, mask=_masks.normalize(mask))

  def _value_leaf(self, x, hp):
    return self._alpha(x) / self.p * jnp.sum(_abs_pow(x, jnp.asarray(self.p, x.dtype)))

  def _grad_leaf(self, x, hp):
    a = jnp.abs(x)
    nz = a > 0
    mag = jnp.where(nz, jnp.where(nz, a, 1.0) ** (self.p - 1.0), 0.0)
    return self._alpha(x) * jnp.sign(x) * mag

  def _prox_leaf(self, x, step, hp):
    return prox_lp(x, jnp.asarray(step, x.dtype) * self._alpha(x), self.p)


class GroupLasso(Penalty):
  r"""The group lasso α Σ_g √|g| ‖x_g‖₂.

  .. math::  \mathrm{pen}(x) = \alpha\sum_g \sqrt{|g|}\,\|x_g\|_2, \qquad
             \mathrm{prox}_s(x)_g = x_g\max\Big(0, 1 - \frac{s\alpha\sqrt{|g|}}{\|x_g\|_2}\Big)

  Groups are slices of each selected leaf: ``axis`` names the axis (or
  axes) the ℓ2 norm is taken over, as in ``jnp.linalg.norm``, so every index
  of the remaining axes is one group of size |g| = the product of the reduced
  dimensions. ``axis=None`` makes each leaf one group. For a dense kernel of
  shape (in, out), ``axis=1`` groups each input feature's outgoing weights
  (feature selection); ``axis=0`` groups each output unit's incoming weights
  (unit pruning).

  The gradient is α√|g| x_g/‖x_g‖ (0 for a zero group).

  Args:
    alpha: strength α ≥ 0.
    axis: None, an int or a tuple of ints (negative counts from the end).
    mask: which leaves to penalize; leaves with too few dimensions for
      ``axis`` raise an error naming their path.

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> jr.GroupLasso(1.0, axis=1)(jnp.array([[3.0, 4.0], [0.0, 0.0]]))
    Array(7.071..., dtype=float32)

  References:
    Yuan & Lin (2006), "Model selection and estimation in regression with
    grouped variables".
  """

  _leaf_fields = ("alpha",)
  _static_fields = ("axis", "mask")

  def __init__(self, alpha, axis=None, mask=None):
    if axis is not None:
      if isinstance(axis, (list, tuple)):
        axis = tuple(int(a) for a in axis)
      elif isinstance(axis, (int, np.integer)):
        axis = int(axis)
      else:
        raise TypeError(f"axis must be None, an int or a tuple of ints, got {axis!r}.")
    self._set(alpha=_init_alpha(alpha), axis=axis, mask=_masks.normalize(mask))

  def _axes(self, x):
    if self.axis is None:
      return tuple(range(x.ndim))
    axes = self.axis if isinstance(self.axis, tuple) else (self.axis,)
    for a in axes:
      if not -x.ndim <= a < x.ndim:
        raise ValueError(f"axis {self.axis} is out of range for a leaf of shape {x.shape}.")
    return tuple(a % x.ndim for a in axes)

  def _selected(self, params):
    out = super()._selected(params)
    _, _, _, flags, _ = out
    for (path, x), f in zip(jax.tree_util.tree_flatten_with_path(params)[0], flags):
      if f:
        try:
          self._axes(jnp.asarray(x))
        except ValueError as e:
          raise ValueError(f"GroupLasso at params{_checks.path_str(path)}: {e}") from None
    return out

  def _weight(self, x):
    size = math.prod(x.shape[a] for a in self._axes(x)) if x.ndim else 1
    return self._alpha(x) * jnp.sqrt(jnp.asarray(size, x.dtype))

  def _value_leaf(self, x, hp):
    # The weight multiplies each group's norm before the sum over groups, and
    # the scale of the norm is applied last: α√|g|‖x_g‖ stays finite when
    # ‖x_g‖ alone would not be.
    axes = self._axes(x)
    inv, s = _pow2_scale(x, axes)
    return jnp.sum((self._weight(x) * _safe_norm(x * inv, axes)) * s)

  def _grad_leaf(self, x, hp):
    # x/‖x‖ as y/‖y‖ with y = x/s: finite when ‖x‖ itself would overflow.
    axes = self._axes(x)
    inv, _ = _pow2_scale(x, axes)
    y = x * inv
    norm = _safe_norm(y, axes)
    return self._weight(x) * y / jnp.where(norm > 0, norm, 1.0)

  def _prox_leaf(self, x, step, hp):
    # t/‖x‖ = (t/s)/‖x/s‖, for the same reason.
    axes = self._axes(x)
    inv, _ = _pow2_scale(x, axes)
    norm = _safe_norm(x * inv, axes)
    t = jnp.asarray(step, x.dtype) * self._weight(x) * inv
    scale = jnp.maximum(0.0, 1.0 - t / jnp.where(norm > 0, norm, 1.0))
    return x * jnp.where(norm > 0, scale, 0.0)



def _guard_above(value, name, bound):
  """Like ``_checks.guard`` with a strict lower bound: a traced ``value`` that
  is ≤ ``bound``, NaN or infinite is made NaN (an error under
  ``jaxreg.checked``); concrete values, validated when built, pass unchanged."""
  if _checks.is_concrete(value):
    return value
  from jax.experimental import checkify

  value = jnp.asarray(value)
  ok = (value > bound) & jnp.isfinite(value)
  checkify.debug_check(jnp.all(ok), f"{name} must be > {bound:g} and finite, got {{}}", value)
  return jnp.where(ok, value, jnp.asarray(jnp.nan, value.dtype))


def _init_shape_param(value, name, bound, alpha):
  """Validates a concavity parameter (MCP's γ, SCAD's a): real, finite, > bound,
  broadcast with α so that a batch of α is a batch of penalties."""
  value = _checks.as_hyperparameter(value, name, lower=bound)
  _checks.check_at_least(value, name, bound, strict=True)
  if _checks.is_concrete((alpha, value)):
    alpha, value = jnp.broadcast_arrays(alpha, value)
  return alpha, value


def _nan_if_invalid(out, *scalars):
  """``out`` made NaN where a (guarded, traced) hyperparameter is NaN, so that an
  invalid traced value never gives a finite answer from a branch it skipped."""
  bad = jnp.zeros((), bool)
  for v in scalars:
    bad = bad | jnp.isnan(v)
  return jnp.where(bad, jnp.asarray(jnp.nan, out.dtype), out)


class MCP(Penalty):
  r"""The minimax concave penalty (MCP) of Zhang (2010), with concavity γ > 1.

  .. math::  \mathrm{pen}(x) = \sum_i \begin{cases}
               \alpha|x_i| - \frac{x_i^2}{2\gamma} & |x_i| \le \gamma\alpha \\
               \frac{\gamma\alpha^2}{2} & |x_i| > \gamma\alpha
             \end{cases}
             \;=\; \sum_i \alpha\int_0^{|x_i|}\Big(1 - \frac{t}{\gamma\alpha}\Big)_+ dt

  It penalizes small coefficients like ``L1(α)`` and stops penalizing beyond
  |x| = γα, so large coefficients are not shrunk (nearly unbiased); γ → ∞
  gives ``L1(α)``. The penalty is non-convex. ``grad`` is
  sign(x)·max(α − |x|/γ, 0) (0 at 0, the minimum-norm subgradient).

  ``prox`` is the global minimiser of ½(z − x)² + s·pen(z) for every step
  s ≥ 0. For γ > s the scalar problem is strictly convex and the answer is
  the firm-thresholding operator

  .. math::  \mathrm{prox}_s(x) = \begin{cases}
               0 & |x| \le s\alpha \\
               \mathrm{sign}(x)\,\frac{|x| - s\alpha}{1 - s/\gamma} & s\alpha < |x| \le \gamma\alpha \\
               x & |x| > \gamma\alpha
             \end{cases}

  For γ ≤ s the candidates 0 and sign(x)·max(|x|, γα) are compared by
  objective value (the answer is then hard thresholding at α√(γs)); ties
  go to 0.

  Args:
    alpha: strength α ≥ 0 (a leaf); a scalar or a (K,) batch.
    gamma: concavity γ > 1 (a leaf, broadcast with α); 3 by default, as in
      ncvreg.
    mask: which leaves to penalize (see ``jaxreg.masks``).

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> jr.MCP(1.0, gamma=2.0)(jnp.array([1.0, 5.0]))   # 1 − 1/4 and γα²/2
    Array(1.75, dtype=float32)
    >>> jr.MCP(1.0, gamma=2.0).prox(jnp.array([0.5, 1.5, 3.0]), 1.0)
    Array([0., 1., 3.], dtype=float32)

  References:
    Zhang (2010), "Nearly unbiased variable selection under minimax concave
    penalty", Annals of Statistics. Breheny & Huang (2011), "Coordinate
    descent algorithms for nonconvex penalized regression, with applications
    to biological feature selection" (the firm-thresholding operator).
  """

  _leaf_fields = ("alpha", "gamma")
  _static_fields = ("mask",)

  def __init__(self, alpha, gamma=3.0, mask=None):
    alpha, gamma = _init_shape_param(gamma, "gamma", 1.0, _init_alpha(alpha))
    self._set(alpha=alpha, gamma=gamma, mask=_masks.normalize(mask))

  def _guarded(self):
    pen = super()._guarded()
    object.__setattr__(pen, "gamma", _guard_above(self.gamma, "gamma", 1.0))
    return pen

  def _parts(self, x):
    return self._alpha(x), jnp.asarray(self.gamma, x.dtype)

  def _value_leaf(self, x, hp):
    # With m = min(|x|, γα) both pieces are m(α − m/(2γ)), α m/2 ≤ that ≤ α m.
    a, g = self._parts(x)
    m = jnp.minimum(jnp.abs(x), g * a)
    return jnp.sum(m * (a - m / (2.0 * g)))

  def _grad_leaf(self, x, hp):
    a, g = self._parts(x)
    return jnp.sign(x) * jnp.maximum(a - jnp.abs(x) / g, 0.0)

  def _prox_leaf(self, x, step, hp):
    a, g = self._parts(x)
    s = jnp.asarray(step, x.dtype)
    t = jnp.abs(x)
    sign = jnp.sign(x)
    knot = g * a
    # γ > s: firm thresholding (the scalar problem is strictly convex).
    convex = g > s
    denom = jnp.where(convex, 1.0 - s / g, 1.0)
    firm = jnp.where(t <= s * a, 0.0,
                     jnp.where(t <= knot, jnp.minimum((t - s * a) / denom, t), t))
    # γ ≤ s: on [0, γα] the objective is concave, so its minimum there is at 0
    # or γα; beyond γα it is at max(|x|, γα). Compare with 0.
    z = jnp.maximum(t, knot)
    f_z = 0.5 * (z - t) ** 2 + s * (0.5 * knot * a)
    hard = jnp.where(f_z < 0.5 * t * t, z, 0.0)
    out = sign * jnp.where(convex, firm, hard)
    return _nan_if_invalid(out, a, g, s)


class SCAD(Penalty):
  r"""The smoothly clipped absolute deviation penalty (SCAD) of Fan & Li (2001).

  .. math::  \mathrm{pen}(x) = \sum_i \begin{cases}
               \alpha|x_i| & |x_i| \le \alpha \\
               \frac{2a\alpha|x_i| - x_i^2 - \alpha^2}{2(a-1)} & \alpha < |x_i| \le a\alpha \\
               \frac{(a+1)\alpha^2}{2} & |x_i| > a\alpha
             \end{cases}

  i.e. the integral from 0 to |x| of α{1(t ≤ α) + (aα − t)₊/((a − 1)α)·1(t > α)}.
  It equals ``L1(α)`` for |x| ≤ α, then tapers off and is constant beyond
  aα. The penalty is non-convex. ``grad`` is
  sign(x)·min(α, max(aα − |x|, 0)/(a − 1)) (0 at 0).

  ``prox`` is the global minimiser of ½(z − x)² + s·pen(z) for every step
  s ≥ 0. For a − 1 > s the scalar problem is strictly convex and the answer
  is Fan & Li's thresholding rule with step s

  .. math::  \mathrm{prox}_s(x) = \begin{cases}
               \mathrm{sign}(x)\max(|x| - s\alpha, 0) & |x| \le (1 + s)\alpha \\
               \mathrm{sign}(x)\,\frac{(a-1)|x| - s a\alpha}{a - 1 - s} & (1+s)\alpha < |x| \le a\alpha \\
               x & |x| > a\alpha
             \end{cases}

  For a − 1 ≤ s the objective is concave on [α, aα], and the candidates
  sign(x)·min(max(|x| − sα, 0), α) and sign(x)·max(|x|, aα) are compared by
  objective value; ties go to the first (smaller) one.

  Args:
    alpha: strength α ≥ 0 (a leaf); a scalar or a (K,) batch.
    a: the second knot's multiple a > 2 (a leaf, broadcast with α); 3.7 by
      default, Fan & Li's recommendation.
    mask: which leaves to penalize (see ``jaxreg.masks``).

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> jr.SCAD(1.0, a=3.0)(jnp.array([0.5, 2.0, 5.0]))   # 0.5 + 7/4 + 2
    Array(4.25, dtype=float32)
    >>> jr.SCAD(1.0, a=3.0).prox(jnp.array([1.5, 2.5, 4.0]), 1.0)
    Array([0.5, 2. , 4. ], dtype=float32)

  References:
    Fan & Li (2001), "Variable selection via nonconcave penalized likelihood
    and its oracle properties", JASA. Breheny & Huang (2011), "Coordinate
    descent algorithms for nonconvex penalized regression, with applications
    to biological feature selection" (the thresholding operators).
  """

  _leaf_fields = ("alpha", "a")
  _static_fields = ("mask",)

  def __init__(self, alpha, a=3.7, mask=None):
    alpha, a = _init_shape_param(a, "a", 2.0, _init_alpha(alpha))
    self._set(alpha=alpha, a=a, mask=_masks.normalize(mask))

  def _guarded(self):
    pen = super()._guarded()
    object.__setattr__(pen, "a", _guard_above(self.a, "a", 2.0))
    return pen

  def _parts(self, x):
    return self._alpha(x), jnp.asarray(self.a, x.dtype)

  def _value_leaf(self, x, hp):
    # α·min(|x|, α) plus the integral over [α, m], m = clip(|x|, α, aα); both
    # factors of the second term are ≥ 0.
    lam, a = self._parts(x)
    t = jnp.abs(x)
    m = jnp.clip(t, lam, a * lam)
    return jnp.sum(lam * jnp.minimum(t, lam)
                   + (m - lam) * (2.0 * a * lam - m - lam) / (2.0 * (a - 1.0)))

  def _grad_leaf(self, x, hp):
    lam, a = self._parts(x)
    t = jnp.abs(x)
    return jnp.sign(x) * jnp.minimum(lam, jnp.maximum(a * lam - t, 0.0) / (a - 1.0))

  def _prox_leaf(self, x, step, hp):
    lam, a = self._parts(x)
    s = jnp.asarray(step, x.dtype)
    t = jnp.abs(x)
    sign = jnp.sign(x)
    knot = a * lam
    soft = jnp.maximum(t - s * lam, 0.0)
    # a − 1 > s: Fan & Li's rule (the scalar problem is strictly convex).
    convex = a - 1.0 > s
    denom = jnp.where(convex, a - 1.0 - s, 1.0)
    middle = jnp.clip(((a - 1.0) * t - s * knot) / denom, lam, t)
    rule = jnp.where(t <= (1.0 + s) * lam, soft, jnp.where(t <= knot, middle, t))
    # a − 1 ≤ s: the minimum over [0, α] is min(soft, α), over [α, aα] at an
    # end (concave there), over [aα, ∞) at max(|x|, aα). Compare the two.
    z1 = jnp.minimum(soft, lam)
    z2 = jnp.maximum(t, knot)
    f1 = 0.5 * (z1 - t) ** 2 + s * (lam * z1)
    f2 = 0.5 * (z2 - t) ** 2 + s * (0.5 * (a + 1.0) * lam * lam)
    cmp = jnp.where(f2 < f1, z2, z1)
    out = sign * jnp.where(convex, rule, cmp)
    return _nan_if_invalid(out, lam, a, s)
