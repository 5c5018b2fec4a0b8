"""Masks: which leaves of a parameter pytree a penalty or transform touches.

A mask is either a pytree of booleans with the structure of the parameters
(or a prefix of it: one boolean covering a whole sub-tree), or a callable
``params -> bool pytree`` evaluated on the parameters at trace time. ``True``
means "penalize / transform this leaf".

Callables are the robust choice: they see the parameters they are applied
to, so the same mask works on a plain dict, flax linen ``params``, a flax nnx
``State`` holding ``Variable`` s (whose leaf paths end in ``.value``) and the
pure arrays ``nnx.Optimizer`` hands to optax.

Example:
  >>> import jax.numpy as jnp, jaxreg as jr
  >>> params = {"kernel": jnp.ones((2, 3)), "bias": jnp.ones(3)}
  >>> jr.masks.weights_only(params)
  {'bias': False, 'kernel': True}
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable

import jax
import numpy as np

from jaxreg._checks import path_str

__all__ = ["weights_only", "path_matches", "invert", "both", "restrict", "resolve", "normalize"]


def weights_only(params: Any) -> Any:
  """Selects kernels: leaves with ``ndim >= 2``; not biases or norm scales.

  Decides by shape, never by name, so it behaves the same on plain dicts,
  flax linen params and flax nnx ``State`` (where every path ends in
  ``.value`` and a name-based rule would see no ``kernel`` at all).

  Args:
    params: a parameter pytree.

  Returns:
    A pytree of Python bools with the structure of ``params``.
  """
  return jax.tree_util.tree_map(lambda x: bool(np.ndim(x) >= 2), params)


def _clean_path(path) -> str:
  """Joins the keys of a path with '/', dropping flax nnx's trailing ``.value``."""
  parts = []
  for key in path:
    if isinstance(key, jax.tree_util.DictKey):
      parts.append(str(key.key))
    elif isinstance(key, jax.tree_util.SequenceKey):
      parts.append(str(key.idx))
    elif isinstance(key, jax.tree_util.GetAttrKey):
      if key.name == "value":
        continue  # nnx.Variable stores its array under .value; not part of the name.
      parts.append(key.name)
    elif isinstance(key, jax.tree_util.FlattenedIndexKey):
      parts.append(str(key.key))
    else:
      parts.append(str(key))
  return "/".join(parts)


def path_matches(pattern: str) -> Callable[[Any], Any]:
  """A mask selecting leaves whose path matches a regular expression.

  Paths are written ``'layer/sub/kernel'`` (dict keys, sequence indices and
  attribute names joined by ``/``), with flax nnx's trailing ``.value``
  removed so the same pattern works on nnx ``State`` and on plain dicts.

  Args:
    pattern: a regular expression, searched with ``re.search``.

  Returns:
    A callable ``params -> bool pytree``.

  Example:
    >>> mask = path_matches(r"kernel$")
    >>> mask({"dense": {"kernel": 1.0, "bias": 0.0}})
    {'dense': {'bias': False, 'kernel': True}}
  """
  regex = re.compile(pattern)

  def mask(params):
    return jax.tree_util.tree_map_with_path(
        lambda path, _: regex.search(_clean_path(path)) is not None, params)

  return mask


def invert(mask: Any) -> Callable[[Any], Any]:
  """The complement of a mask (a bool pytree or a callable)."""
  norm = normalize(mask, "mask")

  def inverted(params):
    flags = resolve(norm, params)
    treedef = jax.tree_util.tree_structure(params)
    return jax.tree_util.tree_unflatten(treedef, [not f for f in flags])

  return inverted


def both(first: Any, second: Any) -> Any:
  """The intersection of two masks (None means "every leaf")."""
  if first is None:
    return second
  if second is None:
    return first
  a, b = normalize(first), normalize(second)

  def intersection(params):
    flags = [x and y for x, y in zip(resolve(a, params), resolve(b, params))]
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(params), flags)

  return intersection


@dataclasses.dataclass(frozen=True)
class _TreeMask:
  """A bool pytree stored hashably, so a penalty holding it can be jitted.

  Penalties keep their mask as static pytree metadata; JAX compares static
  metadata to reuse compiled code, which needs hashing and equality.
  """

  treedef: Any
  flags: tuple

  def tree(self):
    return jax.tree_util.tree_unflatten(self.treedef, list(self.flags))


def _as_flag(value: Any, where: str) -> bool:
  if isinstance(value, (bool, np.bool_)):
    return bool(value)
  if isinstance(value, jax.core.Tracer):
    raise TypeError(
        f"mask{where} is a traced value; masks must be concrete Python bools "
        "(they decide the program's structure, not its numbers).")
  arr = np.asarray(value)
  if arr.shape == () and arr.dtype == np.bool_:
    return bool(arr)
  raise TypeError(
      f"mask{where} must be a bool, got {type(value).__name__} "
      f"with shape {arr.shape} and dtype {arr.dtype}. Per-coordinate weighting "
      "is done with L1(weights=...), not with a mask.")


def normalize(mask: Any, name: str = "mask") -> Any:
  """Validates a user mask and returns a hashable form (None, callable or tree)."""
  if mask is None or isinstance(mask, _TreeMask):
    return mask
  if callable(mask):
    return mask
  leaves, treedef = jax.tree_util.tree_flatten_with_path(mask)
  flags = tuple(_as_flag(v, path_str(p)) for p, v in leaves)
  return _TreeMask(jax.tree_util.tree_structure(mask), flags)


def _structure_mismatch(mask_tree: Any, params: Any) -> str:
  mpaths = [path_str(p) for p, _ in jax.tree_util.tree_flatten_with_path(mask_tree)[0]]
  ppaths = [path_str(p) for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
  only_params = [p for p in ppaths if not any(p.startswith(m) for m in mpaths)]
  only_mask = [m for m in mpaths if not any(p.startswith(m) for p in ppaths)]
  detail = []
  if only_params:
    detail.append(f"params leaf {only_params[0]} has no entry in the mask")
  if only_mask:
    detail.append(f"mask entry {only_mask[0]} is not in params")
  if not detail:
    detail.append(
        f"the containers differ (mask {jax.tree_util.tree_structure(mask_tree)} vs "
        f"params {jax.tree_util.tree_structure(params)})")
  return "; ".join(detail)


def resolve(mask: Any, params: Any) -> list[bool]:
  """One bool per leaf of ``params`` (in flattening order).

  Args:
    mask: None (every leaf), a callable, or a bool pytree (or its normalized
      form) whose structure is ``params``'s or a prefix of it.
    params: the parameter pytree.

  Returns:
    A list of Python bools aligned with ``jax.tree_util.tree_leaves(params)``.

  Raises:
    ValueError: the mask's structure does not match ``params``; the message
      names the first leaf path that differs.
    TypeError: a mask entry is not a concrete bool.
  """
  n_leaves = len(jax.tree_util.tree_leaves(params))
  if mask is None:
    return [True] * n_leaves
  mask = normalize(mask)
  tree = mask.tree() if isinstance(mask, _TreeMask) else mask(params)
  try:
    expanded = jax.tree_util.tree_map(
        lambda flag, sub: jax.tree_util.tree_map(lambda _: flag, sub), tree, params)
  except (ValueError, TypeError) as e:
    raise ValueError(
        "mask structure does not match params: " + _structure_mismatch(tree, params)
    ) from e
  flat = jax.tree_util.tree_flatten_with_path(expanded)[0]
  flags = [_as_flag(v, path_str(p)) for p, v in flat]
  if len(flags) != n_leaves:  # a None in params is a leafless sub-tree in one and not the other.
    raise ValueError(
        "mask structure does not match params: " + _structure_mismatch(tree, params))
  return flags


def restrict(obj: Any, mask: Any) -> Any:
  """A copy of a penalty or constraint restricted further by ``mask``.

  Leaves (α, radius, …) are copied as they are, so this works on traced
  penalties (e.g. built inside ``optax.inject_hyperparams``) without
  re-validating them.
  """
  if mask is None:
    return obj
  leaves, treedef = jax.tree_util.tree_flatten(obj)
  copy = jax.tree_util.tree_unflatten(treedef, leaves)
  object.__setattr__(copy, "mask", normalize(both(obj.mask, mask)))
  return copy
