"""Explicit host-to-device transfers of small inputs and constants.

Entry points send what they build on the host (a tolerance, a ratio, a mask
of ones) and the caller's host arrays to the device with these, never with
``jnp.asarray``: every host-to-device copy is then a stated one, and under
``jax.transfer_guard("disallow")`` a call whose inputs are already on the
device makes no implicit transfer.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["on_device", "to_device"]


def on_device(x, dtype=None):
  """A host value (number or NumPy array) as a device array, by an explicit transfer.

  Example:
    >>> from jaxreg._placement import on_device
    >>> on_device(0.5, "float32").dtype
    dtype('float32')
  """
  return jax.device_put(np.asarray(x, dtype=None if dtype is None else jnp.dtype(dtype)))


def to_device(tree):
  """A pytree with its host leaves (Python or NumPy numbers) sent to the device explicitly;
  device arrays stay where they are."""
  return jax.tree_util.tree_map(
      lambda x: x if isinstance(x, jax.Array) else jax.device_put(x), tree)
