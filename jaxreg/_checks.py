"""Argument checks shared by penalties, constraints and transforms.

Checks run on concrete values only. Inside ``jax.jit`` or ``jax.vmap`` the
values are tracers whose numbers are unknown at trace time, so a negative α
passed as a traced argument cannot be caught there; shapes and dtypes still
are. This mirrors how optax and jax.numpy validate.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def is_concrete(x: Any) -> bool:
  """True when ``x`` holds known numbers (not a tracer inside jit/vmap/grad)."""
  leaves = jax.tree_util.tree_leaves(x)
  return not any(isinstance(leaf, jax.core.Tracer) for leaf in leaves)


def as_hyperparameter(value: Any, name: str, lower: float | None = None,
                      upper: float | None = None) -> Any:
  """Turns a number or array into a JAX array, checking it is real and finite.

  Tracers pass through unchanged (their values are not known yet). Anything
  else is checked in NumPy and turned into a concrete, strongly typed JAX
  array, even while a jitted function is being traced, so that a penalty
  built there from Python numbers is still validated, and so that a jitted
  function taking a penalty compiles once whatever kind of number α is.

  ``lower``/``upper`` bound the value as given, before it is rounded to the
  default float dtype (where -1e-100 would become -0.0 and pass); a value
  whose rounding is not finite (1e300 in float32) raises too.
  """
  if isinstance(value, jax.core.Tracer):
    return value
  if value is None:
    raise TypeError(f"{name} must be a number or an array of numbers, got None.")
  try:
    arr = np.asarray(value)
  except (TypeError, ValueError) as e:
    raise TypeError(
        f"{name} must be a number or an array of numbers, got {type(value).__name__}."
    ) from e
  if arr.dtype == np.bool_ or not (
      jnp.issubdtype(arr.dtype, jnp.floating) or jnp.issubdtype(arr.dtype, jnp.integer)):
    raise TypeError(
        f"{name} must be a real number or an array of them, got "
        f"{type(value).__name__} with dtype {arr.dtype}.")
  if jnp.issubdtype(arr.dtype, jnp.integer):
    arr = arr.astype(np.float64)  # canonicalised to the default float below.
  wide = arr.astype(np.float64)
  if not bool(np.all(np.isfinite(wide))):
    raise ValueError(f"{name} must be finite, got {arr!r}.")
  if lower is not None and np.any(wide < lower):
    raise ValueError(f"{name} must be >= {lower:g}, got {arr!r}.")
  if upper is not None and np.any(wide > upper):
    raise ValueError(f"{name} must be <= {upper:g}, got {arr!r}.")
  # An explicit transfer: building a penalty from numbers is the caller
  # placing an input, allowed under jax.transfer_guard("disallow").
  with jax.ensure_compile_time_eval(), np.errstate(over="ignore"):
    out = jax.device_put(arr)
  if not bool(np.all(np.isfinite(np.asarray(out)))):
    raise ValueError(f"{name} = {arr!r} overflows {out.dtype}; enable float64 or rescale.")
  return out


def check_at_least(value: Any, name: str, lower: float, strict: bool = False) -> None:
  """Raises ValueError if a concrete ``value`` has an entry below ``lower``."""
  if not is_concrete(value):
    return
  rel = ">" if strict else ">="
  # ``value`` may be a pytree (e.g. L1 weights given per leaf): check each leaf.
  for path, leaf in jax.tree_util.tree_flatten_with_path(value)[0]:
    arr = np.asarray(leaf)
    bad = arr <= lower if strict else arr < lower
    if np.any(bad):
      where = jax.tree_util.keystr(tuple(path))
      raise ValueError(f"{name}{where} must be {rel} {lower}, got {arr!r}.")


def check_in_unit_interval(value: Any, name: str) -> None:
  """Raises ValueError if a concrete ``value`` has an entry outside [0, 1]."""
  if not is_concrete(value):
    return
  arr = np.asarray(value)
  if np.any((arr < 0) | (arr > 1)):
    raise ValueError(f"{name} must lie in [0, 1], got {arr!r}.")


def path_str(path) -> str:
  """A readable pytree path such as ``['layer']['kernel']`` (or ``<root>``)."""
  s = jax.tree_util.keystr(tuple(path))
  return s if s else "<root>"


def check_float_leaves(tree: Any, name: str = "params") -> None:
  """Raises TypeError naming the first leaf of ``tree`` that is not floating.

  Penalties are defined on real-valued parameters; integer parameters would
  silently truncate every update.
  """
  for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
    dtype = getattr(leaf, "dtype", None)
    if dtype is None:
      dtype = jnp.asarray(leaf).dtype
    if not jnp.issubdtype(dtype, jnp.floating):
      raise TypeError(
          f"{name}{path_str(path)} has dtype {dtype}; penalties need floating "
          "point parameters (cast with .astype(jnp.float32) or float64)."
      )


def check_step(step: Any) -> None:
  """Raises ValueError for a concrete negative proximal step."""
  check_at_least(step, "step", 0.0)


# --- traced values -------------------------------------------------------------
#
# A hyperparameter that reaches the maths as a tracer (inside jit, vmap, grad,
# optax.inject_hyperparams) cannot be checked when it is built. Two things
# happen to it instead, both cheap (one comparison and one select on a
# scalar): a ``checkify.debug_check``, which is a no-op unless the caller runs
# the computation under ``jax.experimental.checkify`` (``jaxreg.checked``),
# and an invalid value is replaced by NaN, so that a negative step or α gives
# NaN on the affected leaves rather than a finite, wrong answer that grows
# the weights.


def _nan_unless(ok, value):
  return jnp.where(ok, value, jnp.asarray(jnp.nan, jnp.result_type(value)))


def guard(value: Any, name: str, lower: float = 0.0, upper: float | None = None,
          finite: bool = True) -> Any:
  """``value`` with entries outside [lower, upper], NaN or infinite made NaN if traced.

  Concrete values are returned unchanged: they were validated when built.
  For a tracer, emits a ``checkify.debug_check`` naming ``name`` and replaces
  invalid entries by NaN.
  """
  if value is None or is_concrete(value):
    return value
  from jax.experimental import checkify

  value = jnp.asarray(value)
  ok = value >= lower  # False for NaN.
  if finite:
    ok = ok & jnp.isfinite(value)
  if upper is not None:
    ok = ok & (value <= upper)
  rng = f"in [{lower:g}, {upper:g}]" if upper is not None else f">= {lower:g}"
  rng += " and finite" if finite else " and not NaN"
  checkify.debug_check(jnp.all(ok), f"{name} must be {rng}, got {{}}", value)
  return _nan_unless(ok, value)


def as_step(step: Any, name: str = "step") -> Any:
  """Validates a proximal step or learning rate: a real scalar ≥ 0, finite.

  Concrete values raise ``TypeError`` (not a real number) or ``ValueError``
  (negative, NaN, infinite, not a scalar) naming ``name``. A traced step must
  still be a scalar of real dtype (checked at trace time); its value goes
  through ``guard``.
  """
  if isinstance(step, jax.core.Tracer):
    dtype = step.dtype
    if not (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer)):
      raise TypeError(f"{name} must be a real number, got a traced value of dtype {dtype}.")
    if step.ndim != 0:
      raise ValueError(f"{name} must be a scalar, got shape {step.shape}.")
    return guard(step, name)
  arr = as_hyperparameter(step, name, lower=0.0)
  if arr.ndim != 0:
    raise ValueError(f"{name} must be a scalar, got shape {arr.shape}.")
  check_at_least(arr, name, 0.0)
  return arr


def check_scalar(value: Any, name: str, hint: str = "") -> None:
  """Raises ValueError if ``value`` (concrete or traced) is not a scalar."""
  shape = jnp.shape(value)
  if shape != ():
    raise ValueError(f"{name} must be a scalar here, got shape {shape}.{hint}")


def as_params(params: Any, name: str = "params") -> tuple[list, Any]:
  """Flattens a parameter pytree into floating JAX arrays, naming bad leaves.

  Python floats become arrays (of the default float dtype); ``None`` (no
  leaves at all), strings and other non-numeric leaves raise ``TypeError``,
  integer or boolean leaves too (penalties need floating parameters).

  Returns:
    (leaves as arrays, treedef).
  """
  if params is None:
    raise TypeError(f"{name} must be an array or a pytree of arrays, got None.")
  flat, treedef = jax.tree_util.tree_flatten_with_path(params)
  leaves = []
  for path, leaf in flat:
    dtype = getattr(leaf, "dtype", None)
    if dtype is None and isinstance(leaf, (float, int)) and not isinstance(leaf, bool):
      dtype = jnp.asarray(leaf).dtype
    try:
      floating = dtype is not None and jnp.issubdtype(dtype, jnp.floating)
    except TypeError:  # a dtype JAX does not know, e.g. strings or objects.
      floating = False
    if not floating:
      what = f"dtype {dtype}" if dtype is not None else type(leaf).__name__
      raise TypeError(
          f"{name}{path_str(path)} must be a floating point array, got {what}; penalties need "
          "floating point parameters (cast with .astype(jnp.float32) or float64).")
    leaves.append(leaf if isinstance(leaf, (jax.Array, jax.core.Tracer)) else jnp.asarray(leaf))
  return leaves, treedef


def check_same_shapes(tree: Any, name: str, ref: Any, ref_name: str) -> None:
  """Raises ValueError naming the first leaf path where ``tree`` and ``ref`` differ
  in structure or shape (e.g. updates vs params in an optax chain)."""
  t_flat, t_def = jax.tree_util.tree_flatten_with_path(tree)
  r_flat, r_def = jax.tree_util.tree_flatten_with_path(ref)
  if t_def != r_def:
    t_paths = [path_str(p) for p, _ in t_flat]
    r_paths = [path_str(p) for p, _ in r_flat]
    extra = [p for p in t_paths if p not in r_paths]
    missing = [p for p in r_paths if p not in t_paths]
    detail = (f"{name}{extra[0]} is not in {ref_name}" if extra else
              f"{ref_name}{missing[0]} has no entry in {name}" if missing else
              f"the containers differ ({t_def} vs {r_def})")
    raise ValueError(f"{name} and {ref_name} must have the same structure: {detail}.")
  for (path, a), (_, b) in zip(t_flat, r_flat):
    if jnp.shape(a) != jnp.shape(b):
      raise ValueError(
          f"{name}{path_str(path)} has shape {jnp.shape(a)} but "
          f"{ref_name}{path_str(path)} has shape {jnp.shape(b)}.")
