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
``Box(l, u, pen)``     pen(x), +inf outside [l, u]                clip(prox of pen, l, u)
=====================  =========================================  ==============================

``NonNegative(pen)`` is ``Box(0, inf, pen)``. Linear-model solvers see a
penalty on the (p, T) coefficient matrix through ``coordinates(penalty, p,
T)``: blocks of rows with their prox, optimality violation and α_max.

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
from jaxreg._placement import on_device
from jaxreg import masks as _masks
from jaxreg.lp_prox import prox_lp

__all__ = ["Penalty", "L1", "L2", "ElasticNet", "Lp", "GroupLasso", "MCP", "SCAD", "Box",
           "NonNegative", "Coordinates", "coordinates", "soft_threshold"]


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


class _RowMask(tuple):
  """A mask given as a bool array over the rows (features) of a linear model's
  coefficients: static and hashable, read by ``coordinates``."""


def _normalize_mask(mask):
  """``masks.normalize``, plus 1-D bool arrays kept as a row mask for ``coordinates``."""
  if isinstance(mask, _RowMask):
    return mask
  if isinstance(mask, (np.ndarray, jax.Array)) and not isinstance(mask, jax.core.Tracer):
    arr = np.asarray(mask)
    if arr.ndim == 1:
      if arr.dtype != np.bool_:
        raise TypeError(f"mask must be a bool array (True = penalized), got dtype {arr.dtype}.")
      return _RowMask(bool(b) for b in arr)
  return _masks.normalize(mask)


def _normalize_groups(groups):
  """``GroupLasso``'s groups as a hashable tuple of tuples of row indices.

  Accepts a sequence of index sequences or a 1-D int array of group ids per
  row (rows with a negative id belong to no group). Checks what can be
  checked without the parameters: integer, non-negative, non-empty, disjoint.
  """
  if groups is None:
    return None
  if isinstance(groups, jax.core.Tracer):
    raise TypeError("groups must be concrete (they are static), got a traced value.")
  if isinstance(groups, (np.ndarray, jax.Array)) or (
      isinstance(groups, (list, tuple)) and groups
      and all(isinstance(g, (int, np.integer)) and not isinstance(g, bool) for g in groups)):
    ids = np.asarray(groups)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
      raise ValueError(f"groups given as an array must be a 1-D int array of group ids per row, "
                       f"got shape {ids.shape} and dtype {ids.dtype}.")
    out = tuple(tuple(int(i) for i in np.flatnonzero(ids == g)) for g in np.unique(ids[ids >= 0]))
  else:
    try:
      out = tuple(tuple(g) for g in groups)
    except TypeError as e:
      raise TypeError("groups must be a sequence of index sequences or a 1-D int array of "
                      f"group ids, got {type(groups).__name__}.") from e
    for k, g in enumerate(out):
      if not g:
        raise ValueError(f"groups[{k}] is empty; every group needs at least one row.")
      for i in g:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
          raise TypeError(f"groups[{k}] must hold int row indices, got {i!r}.")
        if i < 0:
          raise ValueError(f"groups[{k}] holds a negative row index {i}.")
    out = tuple(tuple(int(i) for i in g) for g in out)
  if not out:
    raise ValueError("groups is empty; give at least one group.")
  seen = {}
  for k, g in enumerate(out):
    for i in g:
      if i in seen:
        raise ValueError(f"groups overlap: row {i} is in groups[{seen[i]}] and groups[{k}].")
      seen[i] = k
  return out


def _check_groups_rows(groups, shape, where):
  """ValueError naming ``groups`` and ``where`` when a row index is out of range."""
  if len(shape) == 0:
    raise ValueError(f"groups group the rows (axis 0) of a leaf, but {where} is a scalar.")
  top = max(max(g) for g in groups)
  if top >= shape[0]:
    raise ValueError(f"groups refers to row {top}, out of range for {where} with {shape[0]} rows.")


def _group_ids(groups, rows):
  """(ids (rows,), counts (G,)): each row's group (G for none) and the group sizes."""
  ids = np.full(rows, len(groups), np.int32)
  for k, g in enumerate(groups):
    ids[list(g)] = k
  return ids, np.array([len(g) for g in groups], np.float64)


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
    if isinstance(self.mask, _RowMask):
      raise TypeError(
          "mask is a bool array over rows, which selects the features of a linear model "
          "(jaxreg.penalties.coordinates); on a parameter pytree give a bool per leaf or a "
          "callable.")
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
    self._set(alpha=alpha, weights=_init_weights(weights, alpha), mask=_normalize_mask(mask))

  def _value_leaf(self, x, hp):
    # α inside the sum: a large sum times a small α is then not an overflow.
    return jnp.sum(self._alpha(x) * self._w(x, hp) * jnp.abs(x))

  def _grad_leaf(self, x, hp):
    return self._alpha(x) * self._w(x, hp) * jnp.sign(x)

  def _prox_leaf(self, x, step, hp):
    return _soft_threshold(x, jnp.asarray(step, x.dtype) * self._alpha(x) * self._w(x, hp))

  # --- the linear-model view (see ``coordinates``): elementwise, weights v ---
  _convex = True

  def _elem_value(self, x, v, m=None):
    return self._alpha(x) * v * jnp.abs(x)

  def _elem_prox(self, x, step, v, m=None):
    return _soft_threshold(x, step * self._alpha(x) * v)

  def _elem_subdiff(self, x, v, m=None):
    a = self._alpha(x) * v
    return _l1_interval(x, a, 0.0)

  def _elem_alpha_max(self, g, v, m=None):
    return _safe_ratio(jnp.abs(g), v)

  def _elem_norm_parts(self, x, v):
    return self._alpha(x) * v, jnp.zeros_like(v)


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
    self._set(alpha=alpha, weights=_init_weights(weights, alpha), mask=_normalize_mask(mask))

  def _value_leaf(self, x, hp):
    w = None if hp is None else self._w(x, hp)
    return _half_sum_squares(self._alpha(x), x, w)

  def _grad_leaf(self, x, hp):
    return self._alpha(x) * self._w(x, hp) * x

  def _prox_leaf(self, x, step, hp):
    return x / (1.0 + jnp.asarray(step, x.dtype) * self._alpha(x) * self._w(x, hp))

  # --- the linear-model view (see ``coordinates``) ---------------------------
  _convex = True
  _smooth = True      # twice differentiable: Newton steps need no prox

  def _elem_value(self, x, v, m=None):
    return 0.5 * self._alpha(x) * v * x * x

  def _elem_prox(self, x, step, v, m=None):
    return x / (1.0 + step * self._alpha(x) * v)

  def _elem_subdiff(self, x, v, m=None):
    d = self._alpha(x) * v * x
    return d, d

  def _elem_alpha_max(self, g, v, m=None):
    # x = 0 is optimal only where g = 0; the L1 value sets the scale of a grid.
    return _safe_ratio(jnp.abs(g), v)

  def _elem_norm_parts(self, x, v):
    return jnp.zeros_like(v), self._alpha(x) * v


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
    self._set(alpha=alpha, l1_ratio=l1_ratio, mask=_normalize_mask(mask))

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

  # --- the linear-model view (see ``coordinates``) ---------------------------
  _convex = True

  def _elem_value(self, x, v, m=None):
    a1, a2 = self._parts(x)
    return v * (a1 * jnp.abs(x) + 0.5 * a2 * x * x)

  def _elem_prox(self, x, step, v, m=None):
    a1, a2 = self._parts(x)
    return _soft_threshold(x, step * a1 * v) / (1.0 + step * a2 * v)

  def _elem_subdiff(self, x, v, m=None):
    a1, a2 = self._parts(x)
    return _l1_interval(x, a1 * v, a2 * v * x)

  def _elem_alpha_max(self, g, v, m=None):
    r = jnp.asarray(self.l1_ratio, g.dtype)
    scaled = jnp.where(r > 0, jnp.abs(g) / jnp.where(r > 0, r, 1.0), jnp.inf)
    return jnp.where(v > 0, scaled / jnp.where(v > 0, v, 1.0), 0.0)

  def _elem_norm_parts(self, x, v):
    a1, a2 = self._parts(x)
    return a1 * v, a2 * v


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
    self._set(alpha=_init_alpha(alpha), p=p, mask=_normalize_mask(mask))

  def _value_leaf(self, x, hp):
    return self._alpha(x) / self.p * jnp.sum(_abs_pow(x, jnp.asarray(self.p, x.dtype)))

  def _grad_leaf(self, x, hp):
    a = jnp.abs(x)
    nz = a > 0
    mag = jnp.where(nz, jnp.where(nz, a, 1.0) ** (self.p - 1.0), 0.0)
    return self._alpha(x) * jnp.sign(x) * mag

  def _prox_leaf(self, x, step, hp):
    return prox_lp(x, jnp.asarray(step, x.dtype) * self._alpha(x), self.p)

  # --- the linear-model view (see ``coordinates``) ---------------------------
  @property
  def _convex(self):
    return self.p >= 1.0

  def _elem_value(self, x, v, m=None):
    return self._alpha(x) * v / self.p * _abs_pow(x, jnp.asarray(self.p, x.dtype))

  def _elem_prox(self, x, step, v, m=None):
    return prox_lp(x, step * self._alpha(x) * v, self.p)

  def _elem_subdiff(self, x, v, m=None):
    # None for p < 1: every point with a zero is Clarke-stationary there, so the
    # solvers use the prox-gradient mapping instead.
    if self.p < 1.0:
      return None
    a = self._alpha(x) * v
    if self.p == 1.0:
      return _l1_interval(x, a, 0.0)
    d = self._grad_leaf(x, None) * v
    return d, d

  def _elem_alpha_max(self, g, v, m=None):
    # Exact for p = 1; for p ≠ 1 the L1 value, which sets the scale of a grid.
    return _safe_ratio(jnp.abs(g), v)


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

  ``groups`` groups the *rows* (axis 0) of each selected leaf instead: a
  sequence of disjoint, non-empty index sequences (``[[0, 3], [1, 2]]``) or a
  1-D int array of group ids per row (a negative id: the row is in no
  group). |g| is then the number of entries of the group (rows × the size of
  the other axes), and rows in no group are not penalized. This is the
  grouping of features in a linear model (see ``coordinates``).

  The gradient is α√|g| x_g/‖x_g‖ (0 for a zero group).

  Args:
    alpha: strength α ≥ 0.
    axis: None, an int or a tuple of ints (negative counts from the end).
    groups: None, or row groups as above (static, stored as a tuple of
      tuples). Giving both ``axis`` and ``groups`` raises ``ValueError``, and
      so do empty or overlapping groups, or (when applied) a row index out
      of range for a leaf, naming ``groups`` and the leaf's path.
    mask: which leaves to penalize; leaves with too few dimensions for
      ``axis`` raise an error naming their path. For a linear model
      (``coordinates``) a bool array of shape (p,) selects rows instead.

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> jr.GroupLasso(1.0, axis=1)(jnp.array([[3.0, 4.0], [0.0, 0.0]]))
    Array(7.071..., dtype=float32)
    >>> jr.GroupLasso(1.0, groups=[[0, 1]])(jnp.array([[3.0], [4.0], [9.0]]))   # row 2 is free
    Array(7.071..., dtype=float32)

  References:
    Yuan & Lin (2006), "Model selection and estimation in regression with
    grouped variables".
  """

  _leaf_fields = ("alpha",)
  _static_fields = ("axis", "groups", "mask")

  def __init__(self, alpha, axis=None, groups=None, mask=None):
    if axis is not None:
      if isinstance(axis, (list, tuple)):
        axis = tuple(int(a) for a in axis)
      elif isinstance(axis, (int, np.integer)):
        axis = int(axis)
      else:
        raise TypeError(f"axis must be None, an int or a tuple of ints, got {axis!r}.")
    if groups is not None and axis is not None:
      raise ValueError("give either axis or groups to GroupLasso, not both (groups group "
                       "the rows, axis 0, of each leaf).")
    self._set(alpha=_init_alpha(alpha), axis=axis, groups=_normalize_groups(groups),
              mask=_normalize_mask(mask))

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
        if self.groups is not None:
          _check_groups_rows(self.groups, jnp.shape(x), f"params{_checks.path_str(path)}")
          continue
        try:
          self._axes(jnp.asarray(x))
        except ValueError as e:
          raise ValueError(f"GroupLasso at params{_checks.path_str(path)}: {e}") from None
    return out

  def _row_groups(self, x):
    """(ids (rows,), √|g| (G,)) for ``groups``: a row's group id, G for no group."""
    ids, counts = _group_ids(self.groups, x.shape[0])
    trailing = math.prod(x.shape[1:])
    return ids, np.sqrt(counts * float(trailing))

  def _row_group_norms(self, x):
    """Per-group ‖y_g‖ of y = x/s (s ≈ max|x|), the ids and √|g|."""
    ids, root = self._row_groups(x)
    inv, s = _pow2_scale(x)
    y = x * inv
    sq = jnp.sum((y * y).reshape(x.shape[0], -1), axis=1)
    gsq = jax.ops.segment_sum(sq, jnp.asarray(ids), num_segments=len(root) + 1)[:len(root)]
    nz = gsq > 0
    return jnp.where(nz, jnp.sqrt(jnp.where(nz, gsq, 1.0)), 0.0), ids, root, y, inv, s

  def _per_row(self, per_group, ids, fill, x):
    """Spreads a per-group array to the rows (``fill`` for rows in no group), shaped to
    broadcast against x."""
    full = jnp.concatenate([per_group, jnp.full((1,), fill, per_group.dtype)])
    return full[jnp.asarray(ids)].reshape((x.shape[0],) + (1,) * (x.ndim - 1))

  def _weight(self, x):
    size = math.prod(x.shape[a] for a in self._axes(x)) if x.ndim else 1
    return self._alpha(x) * jnp.sqrt(jnp.asarray(size, x.dtype))

  def _value_leaf(self, x, hp):
    # The weight multiplies each group's norm before the sum over groups, and
    # the scale of the norm is applied last: α√|g|‖x_g‖ stays finite when
    # ‖x_g‖ alone would not be.
    if self.groups is not None:
      norms, _, root, _, _, s = self._row_group_norms(x)
      return jnp.sum(self._alpha(x) * jnp.asarray(root, x.dtype) * norms) * s.reshape(())
    axes = self._axes(x)
    inv, s = _pow2_scale(x, axes)
    return jnp.sum((self._weight(x) * _safe_norm(x * inv, axes)) * s)

  def _grad_leaf(self, x, hp):
    # x/‖x‖ as y/‖y‖ with y = x/s: finite when ‖x‖ itself would overflow.
    if self.groups is not None:
      norms, ids, root, y, _, _ = self._row_group_norms(x)
      w = self._alpha(x) * jnp.asarray(root, x.dtype) / jnp.where(norms > 0, norms, 1.0)
      return self._per_row(jnp.where(norms > 0, w, 0.0), ids, 0.0, x) * y
    axes = self._axes(x)
    inv, _ = _pow2_scale(x, axes)
    y = x * inv
    norm = _safe_norm(y, axes)
    return self._weight(x) * y / jnp.where(norm > 0, norm, 1.0)

  def _prox_leaf(self, x, step, hp):
    # t/‖x‖ = (t/s)/‖x/s‖, for the same reason.
    if self.groups is not None:
      norms, ids, root, _, inv, _ = self._row_group_norms(x)
      t = jnp.asarray(step, x.dtype) * self._alpha(x) * jnp.asarray(root, x.dtype) * inv.reshape(())
      scale = jnp.maximum(0.0, 1.0 - t / jnp.where(norms > 0, norms, 1.0))
      return x * self._per_row(jnp.where(norms > 0, scale, 0.0), ids, 1.0, x)
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
    self._set(alpha=alpha, gamma=gamma, mask=_normalize_mask(mask))

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

  # --- the linear-model view (see ``coordinates``): α scaled by v per row ----
  _convex = False

  def _elem_value(self, x, v, m=None):
    a, g = self._parts(x)
    a = a * v
    t = jnp.minimum(jnp.abs(x), g * a)
    return t * (a - t / (2.0 * g))

  def _elem_prox(self, x, step, v, m=None):
    return _with_fields(self, alpha=self._alpha(x) * v)._prox_leaf(x, step, None)

  def _elem_subdiff(self, x, v, m=None):
    # Clarke subdifferential: [−α, α] at 0, the derivative elsewhere (as skglm).
    a, g = self._parts(x)
    a = a * v
    return _l1_interval(x, a, jnp.sign(x) * (jnp.maximum(a - jnp.abs(x) / g, 0.0) - a))

  def _elem_alpha_max(self, g, v, m=None):
    return _safe_ratio(jnp.abs(g), v)

  def _elem_candidates(self, x, v):
    a, g = self._parts(x)
    return [jnp.sign(x) * g * a * v]


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
    self._set(alpha=alpha, a=a, mask=_normalize_mask(mask))

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

  # --- the linear-model view (see ``coordinates``): α scaled by v per row ----
  _convex = False

  def _elem_value(self, x, v, m=None):
    lam, a = self._parts(x)
    lam = lam * v
    t = jnp.abs(x)
    mid = jnp.clip(t, lam, a * lam)
    return lam * jnp.minimum(t, lam) + (mid - lam) * (2.0 * a * lam - mid - lam) / (2.0 * (a - 1.0))

  def _elem_prox(self, x, step, v, m=None):
    return _with_fields(self, alpha=self._alpha(x) * v)._prox_leaf(x, step, None)

  def _elem_subdiff(self, x, v, m=None):
    lam, a = self._parts(x)
    lam = lam * v
    d = jnp.sign(x) * jnp.minimum(lam, jnp.maximum(a * lam - jnp.abs(x), 0.0) / (a - 1.0))
    return _l1_interval(x, lam, d - lam * jnp.sign(x))

  def _elem_alpha_max(self, g, v, m=None):
    return _safe_ratio(jnp.abs(g), v)

  def _elem_candidates(self, x, v):
    lam, a = self._parts(x)
    lam = lam * v
    return [jnp.sign(x) * lam, jnp.sign(x) * a * lam]


# --- shared pieces of the linear-model view ----------------------------------

def _safe_ratio(num, den):
  """num / den, and 0 where den = 0 (an unpenalized coordinate needs no α)."""
  return jnp.where(den > 0, num / jnp.where(den > 0, den, 1.0), 0.0)


def _l1_interval(x, a, extra):
  """The interval a·∂|x| + extra: [−a, a] + extra at 0, a·sign(x) + extra elsewhere."""
  d = a * jnp.sign(x)
  zero = x == 0
  return jnp.where(zero, -a, d) + extra, jnp.where(zero, a, d) + extra


def _with_fields(pen, **fields):
  """A copy of ``pen`` with some fields swapped, without re-validation (for
  per-row α arrays inside the linear-model view)."""
  out = object.__new__(type(pen))
  for f in pen._init_fields():
    object.__setattr__(out, f, fields.get(f, getattr(pen, f)))
  return out


_SEPARABLE = (L1, L2, ElasticNet, Lp, MCP, SCAD)


def _init_bound(value, name):
  """A scalar bound of ``Box``: real, not NaN (±inf allowed); tracers pass."""
  if isinstance(value, jax.core.Tracer):
    return value
  if value is None or isinstance(value, (str, bool, np.bool_)):
    raise TypeError(f"{name} must be a real number (±inf allowed), got {value!r}.")
  try:
    arr = np.asarray(value, dtype=np.float64)
  except (TypeError, ValueError) as e:
    raise TypeError(f"{name} must be a real number (±inf allowed), got {type(value).__name__}.") from e
  if arr.ndim != 0:
    raise ValueError(f"{name} must be a scalar, got shape {arr.shape}.")
  if np.isnan(arr):
    raise ValueError(f"{name} must not be NaN.")
  with jax.ensure_compile_time_eval():
    return jnp.asarray(float(arr), dtype=jnp.result_type(float))


class Box(Penalty):
  r"""The constraint lower ≤ xᵢ ≤ upper (elementwise), plus an optional separable penalty.

  .. math::  \mathrm{pen}(x) = \mathrm{inner}(x) + \iota_{[l, u]}(x), \qquad
             \mathrm{prox}_s(x) = \mathrm{clip}(\mathrm{prox}_{s\,\mathrm{inner}}(x), l, u)

  The value is the inner penalty's, and +inf when a selected coordinate lies
  outside the box. For a convex inner penalty the scalar problem is convex
  and its minimiser over [l, u] is the clipped unconstrained one, so the
  prox above is exact. For a non-convex inner penalty (``MCP``, ``SCAD``,
  ``Lp`` with p < 1) the prox is the best, by objective value, of the clipped
  candidates: the inner prox, 0, x and the inner penalty's knots (γα for MCP;
  α and aα for SCAD). This is the global minimiser over the box for MCP and
  SCAD, and for Lp whenever the box contains 0; for an Lp box that excludes 0
  the interior local minimiser the inner prox passed over is not a candidate.

  ``grad`` is the inner penalty's gradient (meaningful on the interior of the
  box; the normal cone at a bound is not added). The inner penalty's α is a
  leaf of this pytree, and ``alpha`` / ``replace(alpha=...)`` forward to it,
  so a batch of α is mapped over with ``jax.vmap`` as for any penalty; with
  no inner penalty, ``alpha`` is 0 and a replaced α is ignored.

  Args:
    lower: the lower bound, a real scalar (−inf allowed); a leaf.
    upper: the upper bound ≥ lower, a real scalar (+inf allowed); a leaf.
    penalty: None or a separable penalty (``L1``, ``L2``, ``ElasticNet``,
      ``Lp``, ``MCP``, ``SCAD``) added to the constraint.
    mask: which leaves the constraint applies to (the inner penalty keeps its own).

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> jr.Box(-1.0, 1.0, jr.L1(0.5)).prox(jnp.array([-3.0, 0.25, 1.25]), 1.0)
    Array([-1.  ,  0.  ,  0.75], dtype=float32)

  References:
    Parikh & Boyd (2014), "Proximal algorithms" (projection and separable sums).
  """

  _leaf_fields = ("penalty", "lower", "upper")
  _static_fields = ("mask",)

  def __init__(self, lower=-math.inf, upper=math.inf, penalty=None, mask=None):
    if penalty is not None and not isinstance(penalty, _SEPARABLE):
      raise TypeError(
          f"penalty must be None or a separable penalty (L1, L2, ElasticNet, Lp, MCP, SCAD) "
          f"inside Box, got {type(penalty).__name__}.")
    lower, upper = _init_bound(lower, "lower"), _init_bound(upper, "upper")
    if _checks.is_concrete((lower, upper)) and float(lower) > float(upper):
      raise ValueError(f"lower must be <= upper, got lower={float(lower)} > upper={float(upper)}.")
    self._set(penalty=penalty, lower=lower, upper=upper, mask=_normalize_mask(mask))

  @property
  def alpha(self):
    """The inner penalty's α (0 without one)."""
    return 0.0 if self.penalty is None else self.penalty.alpha

  def replace(self, **changes) -> "Box":
    """A copy with some fields changed; ``alpha=`` goes to the inner penalty."""
    if "alpha" in changes:
      a = changes.pop("alpha")
      inner = changes.get("penalty", self.penalty)
      if inner is not None:
        changes["penalty"] = inner.replace(alpha=a)
    return super().replace(**changes)

  @property
  def _convex(self):
    return self.penalty is None or self.penalty._convex

  def _scalar_fields(self):
    return ("lower", "upper")

  def _guarded(self):
    return self

  def _bounds(self, x):
    return jnp.asarray(self.lower, x.dtype), jnp.asarray(self.upper, x.dtype)

  # --- on parameter pytrees --------------------------------------------------
  def __call__(self, params: Any) -> jax.Array:
    """The inner penalty's value, +inf if a selected entry is outside [lower, upper]."""
    _, leaves, _, flags, _ = self._selected(params)
    dtype = jnp.result_type(*[x.dtype for x in leaves]) if leaves else jnp.result_type(float)
    out = jnp.zeros((), dtype) if self.penalty is None else self.penalty(params).astype(dtype)
    for x, f in zip(leaves, flags):
      if f:
        lo, up = self._bounds(x)
        out = jnp.where(jnp.any((x < lo) | (x > up)), jnp.asarray(jnp.inf, dtype), out)
    return out

  def grad(self, params: Any) -> Any:
    """The inner penalty's gradient (zeros without one); valid inside the box."""
    if self.penalty is None:
      leaves, treedef = _checks.as_params(params)
      return jax.tree_util.tree_unflatten(treedef, [jnp.zeros_like(x) for x in leaves])
    return self.penalty.grad(params)

  def prox(self, params: Any, step: Union[float, jax.Array]) -> Any:
    """argmin over the box of ½‖z − params‖² + step·inner(z) (see the class docstring)."""
    step = _checks.as_step(step)
    _, leaves, treedef, flags, _ = self._selected(params)
    if self.penalty is None:
      inner = leaves
    else:
      inner = jax.tree_util.tree_leaves(self.penalty.prox(params, step))
    if self.penalty is None or self._convex:
      out = [jnp.clip(z, *self._bounds(z)) if f else z for z, f in zip(inner, flags)]
    else:
      ipen, _, _, iflags, ihps = self.penalty._selected(params)
      out = []
      for x, z, f, fi, hp in zip(leaves, inner, flags, iflags, ihps):
        if not f:
          out.append(z)
          continue
        v = (1.0 if hp is None else jnp.asarray(hp, x.dtype)) if fi else 0.0
        out.append(self._elem_prox(x, jnp.asarray(step, x.dtype), jnp.asarray(v, x.dtype)))
    return jax.tree_util.tree_unflatten(treedef, out)

  # --- the linear-model view (see ``coordinates``): m = 1 where the box applies
  def _elem_value(self, x, v, m=1.0):
    lo, up = self._bounds(x)
    base = jnp.zeros_like(x) if self.penalty is None else self.penalty._elem_value(x, v)
    return jnp.where(((x < lo) | (x > up)) & (m > 0), jnp.inf, base)

  def _elem_prox(self, x, step, v, m=1.0):
    lo, up = self._bounds(x)
    if self.penalty is None:
      return jnp.where(m > 0, jnp.clip(x, lo, up), x)
    z = self.penalty._elem_prox(x, step, v)
    if self._convex:
      return jnp.where(m > 0, jnp.clip(z, lo, up), z)
    # Non-convex inner term: the scalar objective over [l, u] is minimised at
    # the clipped global minimiser, at a bound, at 0 or at a knot; compare them.
    extra = getattr(self.penalty, "_elem_candidates", lambda x, v: [])(x, v)
    cands = [jnp.clip(c, lo, up) for c in [z, jnp.zeros_like(x), x] + list(extra)]
    objs = []
    for c in cands:
      h = 0.5 * (c - x) ** 2 + step * self.penalty._elem_value(c, v)
      objs.append(jnp.where(jnp.isnan(h), jnp.inf, h))
    best, best_h = cands[0], objs[0]
    for c, h in zip(cands[1:], objs[1:]):
      better = h < best_h
      best = jnp.where(better, c, best)
      best_h = jnp.where(better, h, best_h)
    return jnp.where(m > 0, best, z)

  def _elem_subdiff(self, x, v, m=1.0):
    lo, up = self._bounds(x)
    if self.penalty is None:
      base = (jnp.zeros_like(x), jnp.zeros_like(x))
    else:
      base = self.penalty._elem_subdiff(x, v)
      if base is None:
        return None
    # The normal cone of [l, u]: (−∞, 0] at l, [0, ∞) at u.
    s_lo = jnp.where((x <= lo) & (m > 0), -jnp.inf, base[0])
    s_hi = jnp.where((x >= up) & (m > 0), jnp.inf, base[1])
    return s_lo, s_hi

  def _elem_alpha_max(self, g, v, m=1.0):
    if self.penalty is None:
      return jnp.zeros_like(g)
    lo, up = self._bounds(g)
    # Only the part of −g pointing into the box has to be held by the penalty.
    into = jnp.where(lo < 0, jnp.maximum(g, 0.0), 0.0) + jnp.where(up > 0, jnp.maximum(-g, 0.0), 0.0)
    g_eff = jnp.where(m > 0, jnp.where((lo <= 0) & (up >= 0), into, 0.0), jnp.abs(g))
    return self.penalty._elem_alpha_max(g_eff, v)


def NonNegative(penalty=None, mask=None) -> Box:
  """The constraint x ≥ 0, plus an optional separable penalty: ``Box(0, inf, penalty)``.

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> jr.NonNegative(jr.L1(1.0)).prox(jnp.array([-2.0, 3.0]), 1.0)
    Array([0., 2.], dtype=float32)
  """
  return Box(0.0, math.inf, penalty, mask)


# --- the solver view: a penalty on the (p, T) coefficients of a linear model --

class Coordinates:
  r"""A penalty seen by the linear-model solvers: blocks of rows of W (p, T).

  Built by :func:`coordinates`, which validates everything once; the methods
  are cheap, jit-able and do no checking. The penalty (so its α and weights)
  and the per-row weights are pytree leaves: ``jax.vmap`` maps over a batch
  of α, and a new α reuses compiled code. The block structure is static.

  Attributes:
    blocks: int array (n_blocks, B), the rows of W in each block, padded with
      the index p (solvers append a zero row p to W, so padding is inert).
      Separable penalties have B = 1 and block j = row j.
    n_blocks: the number of blocks.
    convex: whether every block's penalty is convex.
    separable: whether the penalty acts on each entry of W separately.

  Methods (x and g are a block's rows, shape (B, T), zero on padded rows; b
  is a block index, possibly traced):
    value(W): Σ over blocks of the block penalty.
    prox(W, step): argmin_Z ½‖Z − W‖² + step·value(Z), step a scalar.
    block_prox(x, step, b): the same for block b alone.
    block_violation(x, g, b, L=1): 0 iff x is optimal for block b given the
      datafit gradient g: the distance from −g to ∂P_b(x) (the Clarke
      subdifferential for MCP and SCAD, as skglm), or for ``Lp`` with p < 1
      (where 0 is always Clarke-stationary) L·‖x − block_prox(x − g/L, 1/L, b)‖,
      L the block's Lipschitz constant.
    block_alpha_max(g, b): the smallest α making x = 0 optimal for block b
      given the gradient g at 0 (0 for unpenalized blocks); the L1 value for
      ``L2`` and ``Lp`` with p ≠ 1, where 0 is not optimal for any α.
    entry_value(x, rows): a separable view's penalty entry by entry.
    norm_parts, dual_norms, conjugate: where ``has_dual``, the penalty as
      block norms and ridges, its dual norms and its conjugate (the duality
      gap the solvers stop on).
  """

  def __init__(self, penalty, v, m, *, kind, n_features, n_outputs, blocks=None, group_w=None):
    self.penalty, self.v, self.m = penalty, v, m
    self.kind, self.n_features, self.n_outputs = kind, n_features, n_outputs
    self._blocks, self._group_w = blocks, group_w

  def _aux(self):
    return (self.kind, self.n_features, self.n_outputs, self._blocks, self._group_w)

  @property
  def alpha(self):
    return self.penalty.alpha

  @property
  def blocks(self) -> np.ndarray:
    if self._blocks is None:
      return np.arange(self.n_features, dtype=np.int32)[:, None]
    return np.asarray(self._blocks, np.int32)

  @property
  def n_blocks(self) -> int:
    return self.n_features if self._blocks is None else len(self._blocks)

  @property
  def convex(self) -> bool:
    return True if self.kind == "group" else bool(self.penalty._convex)

  @property
  def separable(self) -> bool:
    return self.kind == "separable"

  @property
  def smooth(self) -> bool:
    """Whether the penalty is twice differentiable everywhere (``L2``): a
    Newton step then solves a linear system, no proximal problem."""
    return self.kind == "separable" and bool(getattr(self.penalty, "_smooth", False))

  def __repr__(self):
    return (f"Coordinates({self.penalty!r}, n_features={self.n_features}, "
            f"n_outputs={self.n_outputs}, n_blocks={self.n_blocks})")

  def with_alpha(self, alpha) -> "Coordinates":
    """The same view with the penalty's α replaced (unchecked: α may be traced).

    Paths and sweeps call this inside jitted code, once per α; the structure
    (blocks, weights, mask) is the one validated when the view was built.
    """
    return Coordinates(_with_alpha(self.penalty, alpha), self.v, self.m, kind=self.kind,
                       n_features=self.n_features, n_outputs=self.n_outputs,
                       blocks=self._blocks, group_w=self._group_w)

  # --- helpers ------------------------------------------------------------------
  def _rows(self, b):
    return jnp.asarray(self.blocks)[b]

  def _vm(self, rows, dtype):
    return (jnp.asarray(self.v, dtype)[rows][:, None], jnp.asarray(self.m, dtype)[rows][:, None])

  def _gw(self, dtype):
    return self.penalty._alpha(jnp.zeros((), dtype)) * jnp.asarray(np.asarray(self._group_w), dtype)

  # --- the interface --------------------------------------------------------
  def gather(self, W):
    """The rows of W (p, T) block by block: (n_blocks, B, T), padding rows 0."""
    Wp = jnp.concatenate([W, jnp.zeros((1,) + W.shape[1:], W.dtype)])
    return Wp[self.blocks]

  def value(self, W):
    """Σ over blocks of the block penalty at W (p, T)."""
    if self.kind == "group":
      norms = _safe_norm(self.gather(W), (1, 2))[:, 0, 0]
      return jnp.sum(self._gw(W.dtype) * norms)
    v, m = self._vm(jnp.arange(self.n_features), W.dtype)
    return jnp.sum(self.penalty._elem_value(W, v, m))

  def prox(self, W, step):
    """argmin_Z ½‖Z − W‖² + step·value(Z), a scalar step."""
    step = jnp.asarray(step, W.dtype)
    if self.kind == "group":
      blocks = self.blocks
      xb = self.gather(W)
      t = (step * self._gw(W.dtype))[:, None, None]
      xb = xb * _block_shrink(xb, t, (1, 2))
      return W.at[blocks.reshape(-1)].set(xb.reshape((-1,) + W.shape[1:]), mode="drop")
    v, m = self._vm(jnp.arange(self.n_features), W.dtype)
    return self.penalty._elem_prox(W, step, v, m)

  def block_prox(self, x, step, b):
    """The prox of block b's term at step ``step``; x has shape (B, T)."""
    step = jnp.asarray(step, x.dtype)
    if self.kind == "group":
      return x * _block_shrink(x, step * self._gw(x.dtype)[b], (0, 1))
    v, m = self._vm(self._rows(b), x.dtype)
    return self.penalty._elem_prox(x, step, v, m)

  def block_violation(self, x, g, b, L=1.0):
    """0 iff x is optimal for block b given the datafit gradient g (see the class)."""
    if self.kind == "group":
      w = self._gw(x.dtype)[b]
      nx = _safe_norm(x, (0, 1))
      at_zero = jnp.maximum(_safe_norm(g, (0, 1)) - w, 0.0)
      off = _safe_norm(g + w * x / jnp.where(nx > 0, nx, 1.0), (0, 1))
      return jnp.where(nx > 0, off, at_zero).reshape(())
    v, m = self._vm(self._rows(b), x.dtype)
    interval = self.penalty._elem_subdiff(x, v, m)
    if interval is None:
      L = jnp.asarray(L, x.dtype)
      z = self.penalty._elem_prox(x - g / L, 1.0 / L, v, m)
      return L * _safe_norm(x - z, (0, 1)).reshape(())
    lo, hi = interval
    d = jnp.maximum(jnp.maximum(lo + g, -g - hi), 0.0)
    return _safe_norm(d, (0, 1)).reshape(())

  def entry_value(self, x, rows):
    """A separable view's penalty entry by entry, for some rows of W.

    Args:
      x: (K, T), the values of rows ``rows`` of W.
      rows: (K,) int row indices; the index p marks padding, valued 0.

    Returns:
      (K, T): the penalty of each entry (so ``value(W)`` is the sum over all
      rows). Solvers differentiate it to take Newton steps on a support.
    """
    real = (rows < self.n_features)[:, None]
    v, m = self._vm(jnp.where(rows < self.n_features, rows, 0), x.dtype)
    # Padding is evaluated at 1, not 0, so that its derivatives stay finite
    # (|x|^p at 0) before being masked out.
    xs = jnp.where(real, x, jnp.ones_like(x))
    return jnp.where(real, self.penalty._elem_value(xs, v, m), 0.0)

  # --- the dual side (convex "norm + ridge" penalties, in a box) --------------
  def _inner(self):
    """The "norm + ridge" part: the penalty itself, or a Box's inner one."""
    return self.penalty.penalty if isinstance(self.penalty, Box) else self.penalty

  @property
  def has_dual(self) -> bool:
    """Whether the penalty is Σ_b l1_b‖W_b‖ + ½Σ_b l2_b‖W_b‖² (``L1`` with
    weights, ``L2``, ``ElasticNet``, ``GroupLasso``), possibly with a box
    constraint (``Box`` / ``NonNegative`` around one of the separable ones,
    or around none), so that its conjugate, hence a duality gap, is known
    (see :meth:`norm_parts`)."""
    if self.kind == "group":
      return True
    inner = self._inner()
    if isinstance(self.penalty, Box) and inner is None:
      return True
    return hasattr(inner, "_elem_norm_parts")

  def _box(self, dtype):
    """Per-row bounds (lo, hi), each (p, 1), ±inf where no box applies; None
    without a box."""
    if not isinstance(self.penalty, Box):
      return None
    lo, hi = self.penalty._bounds(jnp.zeros((), dtype))
    on = (jnp.asarray(self.m, dtype)[: self.n_features] > 0)[:, None]
    return jnp.where(on, lo, -jnp.inf), jnp.where(on, hi, jnp.inf)

  def _open(self, V):
    """The parts of V (p, T) along the directions a box leaves unbounded:
    max(V, 0) where the upper bound is +inf, max(−V, 0) where the lower one
    is −inf (all of |V|'s without a box). Along them a conjugate without a
    norm term is infinite."""
    box = self._box(V.dtype)
    if box is None:
      return jnp.maximum(V, 0.0), jnp.maximum(-V, 0.0)
    lo, hi = box
    return (jnp.where(jnp.isinf(hi), jnp.maximum(V, 0.0), 0.0),
            jnp.where(jnp.isinf(lo), jnp.maximum(-V, 0.0), 0.0))

  def norm_parts(self, dtype):
    r"""The penalty as Σ_b l1_b‖W_b‖ + ½ Σ_b l2_b‖W_b‖²_F (needs :attr:`has_dual`).

    The norm of a block is ‖·‖_F for a group, and the ℓ1 norm of the row's
    entries for a separable view (whose blocks are rows: its penalty acts
    on each entry). l1_b = l2_b = 0 marks an unpenalized block. A box, if
    any, is not part of it (see :meth:`dual_norms`, :meth:`conjugate`).

    Returns:
      (l1, l2), each of shape (n_blocks,).
    """
    if self.kind == "group":
      l1 = self._gw(dtype)
      return l1, jnp.zeros_like(l1)
    v = jnp.asarray(self.v, dtype)[: self.n_features]
    inner = self._inner()
    if inner is None:
      return jnp.zeros_like(v), jnp.zeros_like(v)
    return inner._elem_norm_parts(jnp.zeros((), dtype), v)

  def dual_norms(self, V):
    """Each block's dual norm of V (p, T): ‖V_b‖_F for groups, max|V_jt| over
    a row otherwise. In a box only the directions the box leaves unbounded
    count (V_jt > 0 when the upper bound is +inf, V_jt < 0 when the lower
    one is −inf): the conjugate is finite, whatever V is, along a bounded
    one."""
    if self.kind == "group":
      return _safe_norm(self.gather(V), (1, 2))[:, 0, 0]
    up, down = self._open(V)
    return jnp.max(jnp.maximum(up, down), axis=1)

  def free_excess(self, V):
    """Per block, ‖V_b‖² over the directions an unpenalized block cannot
    hold (all of them without a box; the unbounded ones in a box): where
    the dual point is infeasible however it is scaled. :func:`duality_gap`
    adds the first-order decrease it leaves instead."""
    if self.kind == "group":
      return jnp.sum(self.gather(V) ** 2, axis=(1, 2))
    up, down = self._open(V)
    return jnp.sum(up * up + down * down, axis=1)

  def conjugate(self, V):
    r"""The penalty's conjugate P*(V) = sup_W ⟨V, W⟩ − P(W), for V scaled into its domain.

    Without a box that is Σ_{j,t} max(|V_jt| − l1_j, 0)² / (2 l2_j) over the
    rows with a ridge (groups carry none); the blocks with l2_b = 0
    contribute 0 where their dual norm is at most l1_b, and +∞ elsewhere:
    callers scale V into that set first. In a box [lo, hi] each entry's
    term is max over w ∈ [lo, hi] of V w − l1|w| − ½ l2 w², attained at
    clip(soft(V, l1)/l2, lo, hi) with a ridge, else at lo, hi or
    clip(0, lo, hi) (a concave piecewise-linear function); unpenalized
    entries count only the directions the box bounds (:meth:`free_excess`
    takes the others).
    """
    l1, l2 = self.norm_parts(V.dtype)
    if self.kind == "group":
      return jnp.zeros((), V.dtype)
    box = self._box(V.dtype)
    l1, l2 = l1[:, None], l2[:, None]
    ridge = l2 > 0
    if box is None:
      excess = jnp.maximum(jnp.abs(V) - l1, 0.0)
      return jnp.sum(jnp.where(ridge, excess * excess / (2.0 * jnp.where(ridge, l2, 1.0)),
                               0.0))
    lo, hi = box
    up, down = self._open(V)
    V = jnp.where((l1 == 0) & ~ridge, V - up + down, V)

    def at(w):
      finite = jnp.isfinite(w)
      w = jnp.where(finite, w, 0.0)
      return jnp.where(finite, V * w - l1 * jnp.abs(w) - 0.5 * l2 * w * w, -jnp.inf)

    w_ridge = jnp.clip(_soft_threshold(V, l1) / jnp.where(ridge, l2, 1.0), lo, hi)
    linear = jnp.maximum(jnp.maximum(at(lo), at(hi)), at(jnp.clip(0.0, lo, hi)))
    return jnp.sum(jnp.where(ridge, at(w_ridge), linear))

  def block_alpha_max(self, g, b):
    """The smallest α making 0 optimal for block b given the gradient g at 0."""
    if self.kind == "group":
      w = jnp.asarray(np.asarray(self._group_w), g.dtype)[b]
      return _safe_ratio(_safe_norm(g, (0, 1)).reshape(()), w)
    v, m = self._vm(self._rows(b), g.dtype)
    return jnp.max(self.penalty._elem_alpha_max(g, v, m))


def _with_alpha(pen, alpha):
  """A copy of ``pen`` with α set, bypassing validation (for traced α)."""
  if isinstance(pen, Box):
    if pen.penalty is None:
      return pen
    out = object.__new__(Box)
    for f in pen._init_fields():
      object.__setattr__(out, f, getattr(pen, f))
    object.__setattr__(out, "penalty", _with_alpha(pen.penalty, alpha))
    return out
  out = object.__new__(type(pen))
  for f in pen._init_fields():
    object.__setattr__(out, f, getattr(pen, f))
  object.__setattr__(out, "alpha", alpha)
  return out


def _coords_flatten(c):
  keys = jax.tree_util.GetAttrKey
  return [(keys("penalty"), c.penalty), (keys("v"), c.v), (keys("m"), c.m)], c._aux()


def _coords_unflatten(aux, children):
  kind, p, T, blocks, group_w = aux
  return Coordinates(*children, kind=kind, n_features=p, n_outputs=T, blocks=blocks,
                     group_w=group_w)


jax.tree_util.register_pytree_with_keys(Coordinates, _coords_flatten, _coords_unflatten)


def _block_shrink(x, t, axes):
  """The block soft-threshold factor max(0, 1 − t/‖x‖) (0 where x = 0)."""
  norm = _safe_norm(x, axes)
  scale = jnp.maximum(0.0, 1.0 - t / jnp.where(norm > 0, norm, 1.0))
  return jnp.where(norm > 0, scale, 0.0)


def _row_mask(mask, p, T, name="mask"):
  """A 0/1 float array (p,) from a penalty's mask, for a (p, T) coefficient matrix."""
  if mask is None:
    return np.ones(p)
  if isinstance(mask, _RowMask):
    arr = np.asarray(mask, bool)
  elif callable(mask):
    arr = mask(np.zeros((p, T)))
    arr = np.asarray(arr)
  else:
    arr = np.asarray(mask.tree(), dtype=object)
  if arr.shape == () and isinstance(arr.item(), (bool, np.bool_)):
    return np.full(p, float(bool(arr.item())))
  if arr.shape != (p,) or arr.dtype != np.bool_:
    raise ValueError(f"{name} must be a bool, a bool array of shape (n_features,) = ({p},) or a "
                     f"callable returning one, got shape {arr.shape} and dtype {arr.dtype}.")
  return arr.astype(np.float64)


def _row_weights(pen, p):
  """L1/L2 weights, checked: None (all 1), a scalar or an array of shape (p,)."""
  w = getattr(pen, "weights", None)
  if w is None:
    return None
  if not isinstance(w, (jax.Array, np.ndarray)) and jax.tree_util.tree_leaves(w) != [w]:
    raise ValueError(f"weights must be a scalar or an array of shape (n_features,) = ({p},) "
                     f"for a linear model, got a {type(w).__name__}.")
  if jnp.shape(w) not in ((), (p,)):
    raise ValueError(f"weights must be a scalar or have shape (n_features,) = ({p},), got shape "
                     f"{jnp.shape(w)}.")
  return w


def _linear_groups(pen, mask, p, T):
  """The row blocks and √|g| of a GroupLasso on a (p, T) coefficient matrix."""
  keep = [i for i in range(p) if mask[i] > 0]
  if pen.groups is not None:
    _check_groups_rows(pen.groups, (p,), f"the coefficients (n_features = {p})")
    groups = [tuple(i for i in g if mask[i] > 0) for g in pen.groups]
  elif pen.axis is None:
    groups = [tuple(keep)]
  elif pen.axis in (1, -1, (1,), (-1,)):
    groups = [(i,) for i in keep]
  else:
    raise ValueError(
        f"axis={pen.axis!r} has no view on the (p, T) coefficients of a linear model: use "
        "groups=... (rows), axis=1 (each row one group) or axis=None (one group).")
  groups = [g for g in groups if g]
  covered = {i for g in groups for i in g}
  free = [(i,) for i in range(p) if i not in covered]
  width = max(len(g) for g in groups + free)
  blocks = tuple(tuple(g) + (p,) * (width - len(g)) for g in groups + free)
  group_w = tuple(math.sqrt(len(g) * T) for g in groups) + (0.0,) * len(free)
  return blocks, group_w


def coordinates(penalty: Penalty, n_features: int, n_outputs: int = 1) -> Coordinates:
  r"""The solver view of a penalty on the coefficients W (p, T) of a linear model.

  Validates once (weights, mask, groups) and returns a :class:`Coordinates`
  whose methods the linear-model solvers call in their inner loops.

  Supported penalties: ``L1`` (weights None, a scalar or shape (p,); weight 0 =
  unpenalized), ``L2`` (weights), ``ElasticNet``, ``Lp``, ``MCP``, ``SCAD``,
  ``Box`` / ``NonNegative`` with any of these inside (all separable: one block
  per row), and ``GroupLasso`` with ``groups`` (row groups; rows in no group
  are unpenalized), ``axis=1`` (each row one group of size T, the multitask
  lasso) or ``axis=None`` (all of W one group). A group's size |g| counts
  entries: rows × T. A mask (None, a bool, a bool array of shape (p,) with
  True = penalized, or a callable given a (p, T) array) leaves the other rows
  unpenalized; for a group lasso they leave their group, which shrinks.

  Args:
    penalty: the penalty; α must be a scalar (map over a batch with ``jax.vmap``).
    n_features: p, the number of rows of W.
    n_outputs: T, its number of columns.

  Returns:
    A :class:`Coordinates`.

  Raises:
    TypeError: ``penalty`` is not a penalty with a linear-model view.
    ValueError: bad ``n_features``/``n_outputs``, non-scalar ``alpha``, ``weights``
      of the wrong shape, a ``mask`` of the wrong shape, ``groups`` out of range
      or a GroupLasso ``axis`` with no row view; each names the argument.

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> from jaxreg.penalties import coordinates
    >>> c = coordinates(jr.L1(1.0, weights=jnp.array([1.0, 0.0])), 2)
    >>> c.prox(jnp.array([[3.0], [3.0]]), 1.0)[:, 0]
    Array([2., 3.], dtype=float32)
  """
  for name, value in (("n_features", n_features), ("n_outputs", n_outputs)):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
      raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
  p, T = int(n_features), int(n_outputs)
  if not isinstance(penalty, (GroupLasso, Box) + _SEPARABLE):
    raise TypeError(
        f"penalty must be L1, L2, ElasticNet, Lp, MCP, SCAD, GroupLasso, Box or NonNegative "
        f"for a linear model, got {type(penalty).__name__}.")
  if jnp.ndim(penalty.alpha) != 0:
    raise ValueError(f"alpha must be a scalar here, got shape {jnp.shape(penalty.alpha)}; map "
                     "over a batch of α with jax.vmap.")
  # Built on the host and sent once, explicitly (see jaxreg._placement).
  ones = on_device(np.append(np.ones(p), 0.0), jnp.result_type(float))
  if isinstance(penalty, GroupLasso):
    mask = _row_mask(penalty.mask, p, T)
    blocks, group_w = _linear_groups(penalty, mask, p, T)
    return Coordinates(penalty, ones, ones, kind="group", n_features=p, n_outputs=T,
                       blocks=blocks, group_w=group_w)
  if isinstance(penalty, Box):
    m = _row_mask(penalty.mask, p, T)
    inner = penalty.penalty
  else:
    m, inner = np.ones(p), penalty
  # Host-made vectors go to the device by one explicit transfer each; user
  # weights already on a device are combined there.
  dtype = jnp.result_type(float)
  if inner is None:
    v = on_device(np.append(np.ones(p), 0.0), dtype)
  else:
    rows = on_device(np.append(_row_mask(inner.mask, p, T), 0.0), dtype)
    w = _row_weights(inner, p)
    v = rows if w is None else _weighted_rows(w, rows)
  m = on_device(np.append(m, 0.0), dtype)
  return Coordinates(penalty, v, m, kind="separable", n_features=p, n_outputs=T)


@jax.jit
def _weighted_rows(w, rows):
  p = rows.shape[0] - 1
  return jnp.append(jnp.broadcast_to(w, (p,)), 0.0) * rows
