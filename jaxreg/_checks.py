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


def as_hyperparameter(value: Any, name: str) -> Any:
  """Turns a number or array into a JAX array, checking it is real and finite.

  Tracers pass through unchanged (their values are not known yet). Anything
  else is checked in NumPy and turned into a concrete, strongly typed JAX
  array, even while a jitted function is being traced, so that a penalty
  built there from Python numbers is still validated, and so that a jitted
  function taking a penalty compiles once whatever kind of number α is.
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
  if not bool(np.all(np.isfinite(arr.astype(np.float64)))):
    raise ValueError(f"{name} must be finite, got {arr!r}.")
  with jax.ensure_compile_time_eval():
    return jnp.asarray(arr)


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
