"""Chunks of a batch, cut on the device: one padded copy, then one slice per chunk.

Used by :func:`jaxreg.sweep` and :func:`jaxreg.linear.fit_batch`, which run a
batch through one compiled program per chunk *size*, whatever the batch
size: a new batch size then compiles nothing. The slices are taken by one
compiled program with the start on the device, so cutting a chunk costs no
host work and no implicit transfer.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["chunk_starts", "pad_to", "take"]


@functools.partial(jax.jit, static_argnums=1)
def pad_to(leaves, length):
  """Pads every leaf to ``length`` rows by repeating its last row."""
  return [jnp.concatenate([x, jnp.repeat(x[-1:], length - x.shape[0], axis=0)])
          for x in leaves]


@functools.partial(jax.jit, static_argnums=2)
def take(leaves, start, size):
  """Rows ``start .. start + size`` of every leaf: one chunk's input."""
  return [jax.lax.dynamic_slice_in_dim(x, start, size) for x in leaves]


def chunk_starts(n_chunks, chunk):
  """The chunks' first rows as device scalars (one explicit transfer each)."""
  return [jax.device_put(np.int32(i * chunk)) for i in range(n_chunks)]
