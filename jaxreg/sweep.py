r"""Sweeps: train many regularization strengths at once.

``sweep(fn, batch, *args)`` evaluates ``fn(item, *args)`` for every item along
the leading axis of ``batch`` and stacks the outputs:

.. math::  \mathrm{sweep}(f, b, a)_k = f(b_k, a), \qquad k = 0, \dots, K - 1,

as one vectorised program (``jax.vmap``, compiled once with ``jax.jit``). A
batch is an array of α values, a batched penalty such as
``jr.L2(jnp.logspace(-5, -1, 64))`` (a penalty is a pytree whose α is a
leaf), or any pytree whose leaves share a leading axis, e.g.
``{"alpha": alphas, "lr": lrs}``. The outputs can be any pytree: final
parameters, metrics, loss curves.

On top of ``jax.jit(jax.vmap(fn))`` a sweep adds what long sweeps need:

* ``chunk_size``: the batch runs in chunks of at most that many items, so
  memory grows with the chunk, not with K. Every chunk runs the same
  compiled program; the last, shorter chunk is padded by repeating its last
  item and the padding is dropped from the output. ``chunk_size="auto"``
  picks the largest chunk whose compiled program fits the devices' free
  memory, or ``memory_budget`` bytes (:func:`plan_sweep`).
* ``devices``: the α axis of each chunk is sharded over several devices with
  ``jax.sharding`` (a 1-D mesh axis), so each device trains its own share.
* ``checkpoint_dir``: each finished chunk is written to disk atomically and
  a rerun skips finished chunks, so an interrupted sweep resumes where it
  stopped and returns bit-identical results. The sweep is identified by
  its traced program, data and arguments, so a changed function never gets
  an earlier sweep's rows; one sweep owns a directory at a time.
* ``progress``: a ``tqdm`` bar over chunks showing the α range in flight.

The jitted, vmapped function is cached on ``fn`` and the static structure
of the arguments, so calling ``sweep`` again with the same function object
and shapes compiles nothing (a new ``lambda`` on every call is a new
function, and compiles again).

Example:
  >>> import jax, jax.numpy as jnp, jaxreg as jr
  >>> X = jnp.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
  >>> y = jnp.array([1.0, 2.0, 2.0])
  >>> def ridge(pen, X, y):   # closed form of (1/(2n))‖y − Xw‖² + (α/2)‖w‖²
  ...   n, p = X.shape
  ...   return jnp.linalg.solve(X.T @ X / n + pen.alpha * jnp.eye(p), X.T @ y / n)
  >>> coefs = jr.sweep(ridge, jr.L2(jnp.array([0.0, 0.1, 1.0])), X, y)
  >>> coefs.shape
  (3, 2)
  >>> coefs[0].round(4)     # α = 0: least squares, an exact fit here
  Array([1., 1.], dtype=float32)
"""

from __future__ import annotations

import collections
import collections.abc
import functools
import hashlib
import json
import numbers
import os
import re
import secrets
import socket
import threading
import time
import warnings
from typing import Any, Callable, NamedTuple, Optional, Sequence, Union

import jax
import jax.numpy as jnp
import jax.extend.core as jax_core
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxreg import _chunks
from jaxreg._placement import to_device

try:
  import fcntl
except ImportError:  # Windows: no flock
  fcntl = None

__all__ = ["sweep", "plan_sweep", "SweepPlan"]

_MESH_AXIS = "sweep"
_MANIFEST = "manifest.json"
_LOCK = ".lock"
_META = "meta"
_FORMAT = "jaxreg.sweep/2"
_CACHE_SIZE = 64

# Jitted vmapped functions, keyed on the user's function and the static
# structure of the call. jax.jit caches compiled programs on the function
# *object*, and jax.vmap(fn) is a new object on every call, so without this
# cache every sweep would trace and compile again.
_cache: "collections.OrderedDict[Any, Callable]" = collections.OrderedDict()
_cache_lock = threading.Lock()


def sweep(fn: Callable[..., Any],
          batch: Any,
          *args: Any,
          chunk_size: Union[None, int, str] = None,
          devices: Union[None, Sequence[jax.Device], Mesh] = None,
          checkpoint_dir: Union[None, str, os.PathLike] = None,
          progress: bool = False,
          checkpoint_key: Optional[str] = None,
          memory_budget: Optional[int] = None) -> Any:
  r"""Maps ``fn(item, *args)`` over the leading axis of ``batch``, vectorised.

  .. math::  \mathrm{out}_k = \mathrm{fn}(\mathrm{batch}_k, *\mathrm{args}),
             \quad k = 0, \dots, K-1, \qquad
             \mathrm{out} = \mathrm{stack}_k(\mathrm{out}_k)

  computed as ``jax.jit(jax.vmap(fn, in_axes=(0, None, ...)))`` over chunks
  of the batch. ``args`` are broadcast to every item, not mapped.

  **One model per α with flax and optax.** ``fn`` trains one model; the
  sweep trains K of them side by side. Everything random comes from keys
  passed in ``args`` (or batched in ``batch``), so results are reproducible::

    import flax.linen as nn, optax, jaxreg as jr

    class MLP(nn.Module):
      @nn.compact
      def __call__(self, x):
        return nn.Dense(10)(nn.relu(nn.Dense(64)(x)))

    def train(pen, key, X, y, lr=0.1, steps=300):
      params = MLP().init(key, X[:1])
      tx = optax.chain(optax.sgd(lr), jr.proximal(pen, lr))  # ISTA: exact zeros
      def loss_fn(p):
        logits = MLP().apply(p, X)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
      def step(carry, _):
        p, s = carry
        loss, g = jax.value_and_grad(loss_fn)(p)
        u, s = tx.update(g, s, p)
        return (optax.apply_updates(p, u), s), loss
      (params, _), losses = jax.lax.scan(step, (params, tx.init(params)), None, steps)
      return params, losses

    pens = jr.L1(jnp.logspace(-5, -2, 32), mask=jr.masks.weights_only)
    params, losses = jr.sweep(train, pens, key, X, y, chunk_size=8)
    # params: each leaf has a leading axis of 32; losses.shape == (32, 300)

  A flax nnx model works the same way: build it inside ``fn`` from the key,
  ``nnx.split`` it, and train the ``nnx.Param`` state functionally (merge
  the graph inside the loss).

  **Sweeping an optimizer hyperparameter alongside α.** Give ``batch`` one
  leaf per hyperparameter and feed them through
  ``optax.inject_hyperparams``, which keeps them in the optimizer state::

    def train(hp, X, y):
      make = lambda learning_rate, alpha: optax.chain(
          jr.add_penalty_gradient(jr.L2(alpha)), optax.sgd(learning_rate))
      tx = optax.inject_hyperparams(make)(learning_rate=hp["lr"], alpha=hp["alpha"])
      ...
    grid = {"alpha": jnp.repeat(alphas, 4), "lr": jnp.tile(lrs, len(alphas))}
    out = jr.sweep(train, grid, X, y)

  **Static and traced arguments.** Array leaves of ``args`` (``jax.Array``,
  ``np.ndarray``, NumPy scalars) are traced; every other leaf (Python
  numbers, strings, functions) is static, as in ``jax.jit`` with static
  arguments: it may set loop lengths, and a new value compiles again.

  **Chunks.** With ``chunk_size=c`` the batch runs in ⌈K/c⌉ chunks of c
  items, all through one compiled program; memory is that of c models. The
  last chunk is padded by repeating its last item; the padding is dropped.
  For a fixed seed and chunking results are bit-identical from run to run
  on CPU; different chunkings agree to floating-point rounding (XLA may
  vectorise a different batch size differently).

  With ``chunk_size="auto"`` the chunk is the largest whose predicted peak
  memory per device fits 90% of ``memory_budget`` (bytes per device) or,
  without one, ``AUTO_MEMORY_FRACTION`` (75%) of the device's free memory
  (``memory_stats()``; host devices, which report none, share the host's
  available memory). The prediction is XLA's memory analysis of the
  compiled chunk program: the whole batch is compiled first, and when it
  does not fit, one item per device, then the candidate the two figures
  predict (see :func:`plan_sweep`, which returns the plan without running
  it). A checkpointed sweep resumes with the chunk its directory was
  started with.

  **Placement.** Host arrays in ``batch`` and ``args`` are sent to the
  devices once, explicitly; every chunk is then a slice of the batch taken
  on the device, and its input buffers are donated to the chunk's program
  (an output of the same shape, e.g. parameters warm-started from the
  batch, reuses them; the caller's arrays are never donated). With inputs
  already on the device a sweep makes no implicit transfer either way: it
  runs under ``jax.transfer_guard("disallow")``, and a second sweep with new
  values of the same shapes compiles nothing.

  **Devices.** ``devices`` (a list of devices or a ``jax.sharding.Mesh``)
  shards each chunk's α axis over the devices: a chunk is padded to a
  multiple of the device count (choose ``chunk_size`` a multiple of it to
  avoid idle work) and placed with ``NamedSharding(mesh,
  PartitionSpec("sweep"))``; ``args`` are replicated. A mesh with several
  axes shards α over all of them. The result is sharded the same way when K
  is a multiple of the device count (inspect ``.sharding`` or
  ``.addressable_shards``); otherwise JAX cannot split K rows evenly and
  the result is replicated on every device.

  *Multi-host* (``jax.distributed.initialize()`` then
  ``devices=jax.devices()``, all processes' devices): every process calls
  ``sweep`` with the same ``fn``, the same host-local ``batch`` and ``args``
  (NumPy arrays or fully addressable jax arrays) and the same options; each
  process builds its own devices' shards with
  ``jax.make_array_from_callback``. A sharded result is a global array:
  gather it with ``jax.experimental.multihost_utils.process_allgather``.
  With ``checkpoint_dir`` (which must be one shared filesystem path)
  finished chunks are gathered and process 0 writes them.

  **Checkpoints.** With ``checkpoint_dir`` every finished chunk is saved as
  ``chunk_XXXXX.npz`` (the flattened output leaves, no pickle) through a
  temporary file and ``os.replace``, so a file is either complete or
  absent, whenever the process is killed; files are created with mode 0o666
  less the umask, like any other output. A rerun of the same sweep loads
  finished chunks and computes only the rest, bit-identical to an
  uninterrupted run on the same machine and JAX version. (One small file
  per chunk saves and loads 3–23× faster than an orbax-checkpoint
  checkpoint per chunk at the sizes chunk outputs usually have, up to a few
  MiB, and carries the identity below; orbax is faster from tens of MiB per
  chunk: ``benchmarks/checkpoint_format.py``.)

  *Identity.* ``manifest.json`` identifies the sweep by sha256 hashes of

  * the program: the jaxpr of the jitted, vmapped ``fn`` on a chunk (every
    primitive with its parameters, shapes, dtypes and literals) and the
    values of its constants. A closure over a number or an array, a
    ``functools.partial`` keyword, a module global read by ``fn``, the
    body of ``fn`` or of anything it calls, and every static argument are
    traced into it, so changing any of them is detected, whatever the
    function's name (and a renamed function computing the same thing
    resumes);
  * the batch and the traced arguments (values, shapes, dtypes,
    structure), the static arguments' reprs, the chunk size, the number of
    items and the output's structure, shapes and dtypes.

  A directory holding another sweep raises ``ValueError`` naming what
  differs. Not detected: the Python code run by ``jax.pure_callback`` or
  ``io_callback`` and the foreign code of ``jax.ffi.ffi_call``, which the
  jaxpr only names (``jax.debug.print``/``callback`` cannot change an output
  and are allowed); the compiler: another JAX version or backend compiles
  the same program differently (resuming warns, and new and loaded rows then
  agree to rounding, not bit for bit; a new JAX may also write the program
  differently, which refuses to resume), and XLA flags are not checked;
  nondeterminism inside ``fn`` (e.g. GPU atomics). A program calling a host
  or foreign callback is refused at the start unless ``checkpoint_key``
  names the computation: then the key stands in for the program, and a
  rerun resumes when the key and everything else above match, whatever
  ``fn``'s code — change the key whenever what ``fn`` computes changes. A
  key given to a directory made without one vouches for it (the way to force
  a resume after, say, a JAX upgrade) with a warning, and from then on only
  that key resumes it::

    def fn(pen, X, y):   # calls a simulator on the host
      return jax.pure_callback(simulate, out_shape, pen.alpha, X, y)

    jr.sweep(fn, pens, X, y, checkpoint_dir="runs/sim", checkpoint_key="sim-v2")

  *Ownership.* One sweep owns a directory at a time: it holds an ``flock``
  on ``.lock`` (where it writes its pid and host) for its whole run, and a
  second sweep on the same directory, in this or another process, raises
  ``ValueError`` naming the holder. The kernel drops the lock when the
  holder exits or is killed, so nothing is left to clean up. (Without
  ``fcntl``, i.e. on Windows, there is no lock; a finished sweep in a
  read-only directory is read without one.) With several processes
  (multi-host) process 0 takes the lock and writes all files.

  *Chunk files* record the sweep's id, their chunk index, their row count
  and a sha256 of their data, all checked on loading. A file that is
  truncated, garbage, from another sweep or directory, renamed or swapped,
  of the wrong length or altered raises ``ValueError`` naming the file: a
  damaged checkpoint says something about the storage or a manual copy,
  so it is never replaced silently; delete that file to recompute its
  chunk. Temporary files of a killed writer are removed by the next run.

  Args:
    fn: ``fn(item, *args) -> pytree``, traceable by ``jax.vmap``/``jax.jit``;
      ``item`` is one slice of ``batch`` (e.g. one penalty).
    batch: a pytree whose leaves all have the same leading dimension K ≥ 1
      (an array of α values, a batched penalty, a dict of arrays). A list
      of Python numbers is taken as a 1-D array.
    *args: broadcast arguments (data, PRNG keys, settings).
    chunk_size: items per chunk (a positive int), None for one chunk, or
      ``"auto"`` for the largest chunk that fits the memory budget.
    devices: None (the default device), a sequence of ``jax.Device`` or a
      ``jax.sharding.Mesh``.
    checkpoint_dir: a directory for resumable checkpoints, or None.
    progress: show a ``tqdm`` progress bar over chunks.
    checkpoint_key: with ``checkpoint_dir``, a name for what ``fn``
      computes (e.g. ``"train-v3"``) that replaces the traced program in
      the sweep's identity; needed when ``fn`` calls ``jax.pure_callback``,
      ``io_callback`` or ``jax.ffi.ffi_call``. None (the default) identifies
      ``fn`` by its traced program.
    memory_budget: with ``chunk_size="auto"``, the bytes per device a sweep
      may use; None (the default) for the devices' free memory.

  Returns:
    The stacked outputs: ``fn``'s output pytree with a leading axis of K on
    every leaf, as jax arrays.

  Raises:
    ValueError: an empty batch, leaves disagreeing on the leading axis, a
      non-positive ``chunk_size`` or ``memory_budget``, a ``memory_budget``
      without ``chunk_size="auto"`` or too small for one item per device;
      a ``checkpoint_dir`` holding a different sweep, in use by another
      sweep, or with a damaged chunk file; a callback in ``fn`` with
      ``checkpoint_dir`` but no ``checkpoint_key``; a ``checkpoint_key``
      without ``checkpoint_dir``.
    TypeError: a batch leaf that is not an array, a ``chunk_size`` that is
      not an int, None or "auto", a ``memory_budget`` that is not an int,
      a ``devices`` argument of the wrong type, an unhashable static
      argument, a ``checkpoint_key`` that is not a non-empty str.

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> w = jnp.array([3.0, 0.5])
    >>> shrunk = jr.sweep(lambda pen, w: pen.prox(w, 1.0), jr.L1(jnp.array([0.0, 1.0, 4.0])), w)
    >>> shrunk
    Array([[3. , 0.5],
           [2. , 0. ],
           [0. , 0. ]], dtype=float32)
    >>> jr.sweep(lambda a: a ** 2, jnp.arange(5.0), chunk_size=2)   # 3 chunks, one program
    Array([ 0.,  1.,  4.,  9., 16.], dtype=float32)

  References:
    JAX documentation, "Automatic vectorization" (``jax.vmap``) and
    "Distributed arrays and automatic parallelization" (``jax.sharding``).
  """
  if not callable(fn):
    raise TypeError(f"fn must be callable, got {type(fn).__name__}.")
  batch = _as_batch(batch)
  b_leaves, b_treedef = jax.tree_util.tree_flatten(batch)
  n = _batch_length(batch)
  auto = _is_auto(chunk_size)
  chunk = None if auto else _check_chunk_size(chunk_size, n)
  budget = _check_memory_budget(memory_budget, auto)
  mesh = _as_mesh(devices)
  n_dev = 1 if mesh is None else mesh.size
  if checkpoint_key is not None:
    if not isinstance(checkpoint_key, str) or not checkpoint_key:
      raise TypeError(f"checkpoint_key must be a non-empty str or None, got {checkpoint_key!r}.")
    if checkpoint_dir is None:
      raise ValueError("checkpoint_key is given without checkpoint_dir; it names the "
                       "computation of a checkpointed sweep and means nothing without one.")

  dyn_args, static_key = _split_args(args)
  mapped = _get_mapped(fn, static_key, mesh)
  local, rows, b_leaves, dyn_args = _placed(mesh, b_leaves, dyn_args)

  outs = pending = store = bar = None
  try:
    if checkpoint_dir is not None:
      # The lock comes first: the manifest is read or created by the owner only.
      store = _Store(checkpoint_dir)
      if auto:  # a resumed sweep keeps the chunks it was started with
        chunk = store.saved_chunk_size(n)
    if chunk is None:
      plan, program = _plan(mapped, b_leaves, b_treedef, dyn_args, n, n_dev, rows,
                            _budget(budget, mesh))
      chunk = plan.chunk_size
    else:
      program = None
    padded = -(-chunk // n_dev) * n_dev
    n_chunks = -(-n // chunk)
    # Every chunk is a slice of one padded copy of the batch, taken on the
    # device by one compiled program: no per-chunk host work or transfer.
    if local:
      length = (n_chunks - 1) * chunk + padded
      source = _chunks.pad_to(b_leaves, length) if length != n else b_leaves
      starts = _chunks.chunk_starts(n_chunks, chunk)

    def chunk_input(i):
      if local:
        leaves = _chunks.take(source, starts[i], padded)
        if mesh is not None:
          leaves = jax.device_put(leaves, rows)
      else:  # each process builds its devices' shards from its host copy
        start, stop = i * chunk, min((i + 1) * chunk, n)
        idx = np.minimum(np.arange(start, start + padded), stop - 1)
        leaves = _place([np.asarray(leaf)[idx] for leaf in b_leaves], rows)
      return jax.tree_util.tree_unflatten(b_treedef, leaves)

    if store is not None:
      traced = mapped.trace(chunk_input(0), dyn_args)
      out_info = traced.out_info
      manifest = _manifest(fn, batch, n, chunk, dyn_args, static_key, out_info,
                           _program(traced.jaxpr, checkpoint_key), checkpoint_key)
      store.attach(manifest, jax.tree_util.tree_structure(out_info))
    run = program if program is not None else mapped

    outs = [None] * n_chunks

    def finish(i, out):
      out = jax.block_until_ready(out)
      if store is not None:
        store.save(i, out, min(chunk, n - i * chunk))
      outs[i] = out
      if bar is not None:
        bar.update(1)

    bar = _progress_bar(n_chunks, progress)
    alpha_leaf = _alpha_leaf(batch) if bar is not None else None
    for i in range(n_chunks):
      if store is not None and store.done(i):
        outs[i] = store.load(i, min(chunk, n - i * chunk))
        if bar is not None:
          bar.update(1)
        continue
      if bar is not None and alpha_leaf is not None:
        bar.set_postfix_str(_alpha_range(alpha_leaf, i * chunk, min((i + 1) * chunk, n)))
      with warnings.catch_warnings():
        # The chunk's input buffers are donated: outputs of the same shape
        # reuse them; when none has that shape XLA says so, harmlessly.
        warnings.filterwarnings("ignore", "Some donated buffers were not usable")
        out = run(chunk_input(i), dyn_args)
      # Waits for the previous chunk only now, so preparing this chunk
      # overlapped it, while at most two chunks are ever queued.
      if pending is not None:
        finish(*pending)
      pending = (i, out)
    if pending is not None:
      finish(*pending)
  finally:
    if bar is not None:
      bar.close()
    if store is not None:
      store.close()

  return _assemble(outs, n, chunk, padded, mesh)


# --- argument handling ---------------------------------------------------------


def _as_batch(batch):
  """Turns a list/tuple of Python numbers into an array; other pytrees pass."""
  if isinstance(batch, (list, tuple)) and batch and all(
      isinstance(b, numbers.Number) and not isinstance(b, bool) for b in batch):
    return jnp.asarray(batch)
  return batch


def _batch_length(batch) -> int:
  """The common leading dimension of the batch's leaves, checked."""
  leaves = jax.tree_util.tree_flatten_with_path(batch)[0]
  if not leaves:
    raise ValueError("batch is empty: it has no array leaves to map over.")
  sizes = {}
  for path, leaf in leaves:
    where = "batch" + jax.tree_util.keystr(tuple(path))
    if not hasattr(leaf, "shape") or not hasattr(leaf, "dtype"):
      raise TypeError(
          f"{where} is a {type(leaf).__name__}, not an array; batch leaves must be "
          "arrays with a leading axis to map over (e.g. jnp.asarray(values)).")
    if len(leaf.shape) == 0:
      raise ValueError(
          f"{where} is a scalar; every batch leaf needs a leading axis to map over "
          "(use a 1-D array of values, or jnp.atleast_1d).")
    sizes[where] = leaf.shape[0]
  if len(set(sizes.values())) > 1:
    detail = ", ".join(f"{k}: {v}" for k, v in sizes.items())
    raise ValueError(f"batch leaves disagree on the leading axis ({detail}).")
  n = next(iter(sizes.values()))
  if n == 0:
    raise ValueError("batch is empty: its leading axis has length 0.")
  return int(n)


def _is_auto(chunk_size) -> bool:
  if isinstance(chunk_size, str):
    if chunk_size != "auto":
      raise ValueError(f"chunk_size must be a positive int, None or 'auto', got {chunk_size!r}.")
    return True
  return False


def _check_memory_budget(memory_budget, auto) -> Optional[int]:
  if memory_budget is None:
    return None
  if not auto:
    raise ValueError("memory_budget is given without chunk_size='auto'; it bounds the "
                     "chunk that 'auto' chooses and means nothing with a fixed chunk_size.")
  if isinstance(memory_budget, bool) or not isinstance(memory_budget, (int, np.integer)):
    raise TypeError(f"memory_budget must be a positive int (bytes per device), got "
                    f"{memory_budget!r}.")
  if memory_budget <= 0:
    raise ValueError(f"memory_budget must be a positive number of bytes, got {memory_budget}.")
  return int(memory_budget)


def _check_chunk_size(chunk_size, n) -> int:
  if chunk_size is None:
    return n
  if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)):
    raise TypeError(f"chunk_size must be a positive int, None or 'auto', got {chunk_size!r}.")
  if chunk_size <= 0:
    raise ValueError(f"chunk_size must be a positive int, got {chunk_size}.")
  return int(min(chunk_size, n))


def _as_mesh(devices) -> Optional[Mesh]:
  """None, a Mesh, or a 1-D mesh over a sequence of devices."""
  if devices is None:
    return None
  if isinstance(devices, Mesh):
    return devices
  if isinstance(devices, (str, bytes, jax.Device)) or not isinstance(
      devices, (collections.abc.Sequence, np.ndarray)):
    raise TypeError(
        "devices must be None, a sequence of jax devices (e.g. jax.devices()) or a "
        f"jax.sharding.Mesh, got {type(devices).__name__}.")
  devs = list(np.asarray(devices, dtype=object).ravel())
  if not devs:
    raise ValueError("devices is empty: give at least one device.")
  bad = [d for d in devs if not isinstance(d, jax.Device)]
  if bad:
    raise TypeError(f"devices must hold jax devices, got {type(bad[0]).__name__}.")
  if len(set(devs)) != len(devs):
    raise ValueError("devices lists the same device more than once.")
  return Mesh(np.asarray(devs, dtype=object), (_MESH_AXIS,))


def _is_dynamic(leaf) -> bool:
  return isinstance(leaf, (jax.Array, np.ndarray, np.generic))


def _split_args(args):
  """Splits ``args`` into traced array leaves and a hashable static part."""
  leaves, treedef = jax.tree_util.tree_flatten(args)
  dyn, static = [], []
  for pos, leaf in enumerate(leaves):
    if _is_dynamic(leaf):
      dyn.append(leaf)
      static.append(None)
    else:
      try:
        hash(leaf)
      except TypeError:
        raise TypeError(
            f"argument leaf {pos} ({type(leaf).__name__}) is neither an array nor "
            "hashable; non-array arguments are static and must be hashable.") from None
      static.append(_StaticLeaf(leaf))
  return tuple(dyn), (treedef, tuple(static))


class _StaticLeaf:
  """A static argument, compared by type and value (so 1 and 1.0 differ)."""

  __slots__ = ("value",)

  def __init__(self, value):
    self.value = value

  def __eq__(self, other):
    return (isinstance(other, _StaticLeaf) and type(self.value) is type(other.value)
            and self.value == other.value)

  def __hash__(self):
    return hash((type(self.value), self.value))


def _merge_args(dyn, static_key):
  treedef, static = static_key
  it = iter(dyn)
  leaves = [next(it) if s is None else s.value for s in static]
  return jax.tree_util.tree_unflatten(treedef, leaves)


def _get_mapped(fn, static_key, mesh):
  """The cached ``jit(vmap(fn))`` for this function, static args and mesh."""
  key = (fn, static_key, mesh)
  try:
    hash(key)
  except TypeError:
    return _build_mapped(fn, static_key, mesh)
  with _cache_lock:
    mapped = _cache.get(key)
    if mapped is not None:
      _cache.move_to_end(key)
      return mapped
  mapped = _build_mapped(fn, static_key, mesh)
  with _cache_lock:
    mapped = _cache.setdefault(key, mapped)
    while len(_cache) > _CACHE_SIZE:
      _cache.popitem(last=False)
  return mapped


def _build_mapped(fn, static_key, mesh):
  def one(item, dyn):
    return fn(item, *_merge_args(dyn, static_key))

  vmapped = jax.vmap(one, in_axes=(0, None))
  # A chunk's input is always a fresh slice made by the sweep, never the
  # caller's array, so it is donated: outputs of its shape (e.g. parameters
  # warm-started from the batch) reuse its memory.
  if mesh is None:
    return jax.jit(vmapped, donate_argnums=0)
  rows = NamedSharding(mesh, PartitionSpec(tuple(mesh.axis_names)))
  return jax.jit(vmapped, in_shardings=(rows, NamedSharding(mesh, PartitionSpec())),
                 out_shardings=rows, donate_argnums=0)


def _placed(mesh, b_leaves, dyn_args):
  """``(local, rows, b_leaves, dyn_args)``: the batch and arguments on the devices.

  Data goes to the devices once, by explicit transfers (a NumPy argument
  handed to the compiled program would be copied again for every chunk):
  arguments replicated over the mesh, or onto the default device; the batch
  onto the default device when the sweep is local, i.e. in one process or
  without a mesh (then every process sweeps on its own device, as a single
  one). ``rows`` is the sharding of a chunk's items over the mesh, or None.
  """
  local = jax.process_count() == 1 or mesh is None
  if mesh is None:
    return local, None, to_device(b_leaves), to_device(dyn_args)
  rows = NamedSharding(mesh, PartitionSpec(tuple(mesh.axis_names)))
  dyn_args = _place(dyn_args, NamedSharding(mesh, PartitionSpec()))
  return local, rows, to_device(b_leaves) if local else b_leaves, dyn_args


def _place(tree, sharding):
  """Puts host or device data onto ``sharding``, one or many processes."""
  if jax.process_count() == 1:
    return jax.device_put(tree, sharding)

  def put(x):
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
      return x  # already a global array
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
      data = put(jax.random.key_data(x))
      return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
    host = np.asarray(x)
    return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])

  return jax.tree_util.tree_map(put, tree)


# --- choosing the chunk ---------------------------------------------------------

#: With ``chunk_size="auto"`` and no ``memory_budget``, the share of a
#: device's free memory (``memory_stats()``: ``bytes_limit - bytes_in_use``)
#: that a sweep plans to use; the rest is headroom for fragmentation and
#: whatever else the process holds.
AUTO_MEMORY_FRACTION = 0.75

#: The share of the budget a chunk plan fills: XLA's memory analysis leaves
#: out the workspaces of library calls inside the program (LAPACK, cuSOLVER)
#: and the runtime's own allocations, measured at about 2% on CPU.
_PLANNED_SHARE = 0.9


class SweepPlan(NamedTuple):
  """The chunk a sweep runs in and its device memory, per device, in bytes.

  Attributes:
    chunk_size: items per chunk.
    n_chunks: number of chunks.
    peak_bytes: the predicted peak: the compiled chunk program's own memory
      (arguments, outputs, temporaries, less what its outputs alias) for
      the two chunks in flight at a time, plus the outputs of the chunks
      before them, which stay on the device until they are joined (or, if
      more, what that join needs).
    budget_bytes: the budget; ``peak_bytes`` fits 90% of it, the rest left
      for what XLA's analysis does not count (library workspaces, the
      runtime's own allocations).
    program_bytes: the compiled chunk program's own memory.
    output_bytes: one chunk's output.
  """
  chunk_size: int
  n_chunks: int
  peak_bytes: int
  budget_bytes: int
  program_bytes: int
  output_bytes: int


# Memory figures and compiled programs per (program, shapes) and padded chunk
# size, so that choosing again (a new α grid, a new budget) compiles nothing.
_plans: "collections.OrderedDict[Any, dict]" = collections.OrderedDict()


def _memory(compiled):
  m = compiled.memory_analysis()
  if m is None:
    raise ValueError("chunk_size='auto' needs XLA's memory analysis of the compiled "
                     "program, which this backend does not give; pass an int chunk_size.")
  own = (m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
         - m.alias_size_in_bytes + m.generated_code_size_in_bytes)
  return int(own), int(m.output_size_in_bytes)


def _peak(own, out, n_chunks):
  # Two chunks are in flight at once (the next is queued before the last is
  # waited for), every earlier output is still on the device, and joining
  # them holds them and the result together.
  if n_chunks == 1:
    return own
  return max(2 * own + (n_chunks - 2) * out, own - out + 2 * n_chunks * out)


def _budget(memory_budget, mesh) -> int:
  """Bytes per device that a chunk plan may use."""
  if memory_budget is None:
    devices = jax.local_devices()[:1] if mesh is None else [
        d for d in mesh.devices.flat if d.process_index == jax.process_index()]
    free = []
    for d in devices:
      stats = d.memory_stats() or {}
      if "bytes_limit" not in stats:
        free = None
        break
      free.append(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    if free is None:
      # Host devices report no memory: they share the host's available memory.
      free = [_host_available() // max(1, len(devices))]
    memory_budget = int(AUTO_MEMORY_FRACTION * min(free))
  if mesh is not None and jax.process_count() > 1:  # every process must choose the same chunk
    from jax.experimental import multihost_utils
    memory_budget = int(np.min(multihost_utils.process_allgather(np.int64(memory_budget))))
  return memory_budget


def _host_available() -> int:
  try:
    with open("/proc/meminfo", encoding="ascii") as f:
      for line in f:
        if line.startswith("MemAvailable:"):
          return int(line.split()[1]) * 1024
  except OSError:
    pass
  try:
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
  except (ValueError, OSError, AttributeError):
    raise ValueError("chunk_size='auto': this host reports neither device nor host "
                     "memory; pass memory_budget= (bytes per device).") from None


def _plan(mapped, leaves, treedef, dyn_args, n, n_dev, rows, budget):
  """The largest chunk whose sweep fits ``budget``, with its compiled program.

  Memory is read from XLA's analysis of the compiled chunk program. The
  whole batch as one chunk is tried first (one compile, the fastest sweep
  when it fits); otherwise the figures at one item per device and at the
  largest size tried are taken as affine in the chunk size, which picks a
  candidate, compiled and checked in its turn.
  """
  if rows is None:
    dev = leaves[0].sharding if isinstance(leaves[0], jax.Array) else None
    rows = dev if isinstance(dev, jax.sharding.SingleDeviceSharding) else \
        jax.sharding.SingleDeviceSharding(jax.devices()[0])
  key = (mapped, treedef, tuple((x.shape[1:], str(x.dtype)) for x in leaves),
         tuple((x.shape, str(x.dtype), str(getattr(x, "sharding", None))) for x in dyn_args),
         rows)
  with _cache_lock:
    cache = _plans.setdefault(key, {})
    _plans.move_to_end(key)
    while len(_plans) > _CACHE_SIZE:
      _plans.popitem(last=False)

  def padded(c):
    return -(-c // n_dev) * n_dev

  def measure(c):
    size = padded(c)
    if size not in cache:
      items = jax.tree_util.tree_unflatten(treedef, [
          jax.ShapeDtypeStruct((size, *x.shape[1:]), x.dtype, sharding=rows) for x in leaves])
      with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Some donated buffers were not usable")
        compiled = mapped.lower(items, dyn_args).compile()
      cache[size] = (*_memory(compiled), compiled)
    own, out, compiled = cache[size]
    return own, out, compiled, _peak(own, out, -(-n // c))

  def plan(c):
    own, out, compiled, peak = measure(c)
    return SweepPlan(c, -(-n // c), peak, budget_in, own, out), compiled

  budget_in = budget
  budget = int(_PLANNED_SHARE * budget)
  if measure(n)[3] <= budget:
    return plan(n)
  lo = min(n_dev, n)
  if measure(lo)[3] > budget:
    own, out, _, peak = measure(lo)
    raise ValueError(
        f"chunk_size='auto': even a chunk of one item per device needs {peak} bytes per "
        f"device (its program {own}, the outputs kept until the end {peak - own}), over "
        f"{_PLANNED_SHARE:.0%} of the memory budget of {budget_in} bytes. Give a larger "
        "memory_budget, more devices, or a smaller problem.")
  hi = n
  for _ in range(8):
    own_lo, out_lo = measure(lo)[:2]
    own_hi, out_hi = measure(hi)[:2]
    slope_own = (own_hi - own_lo) / (padded(hi) - padded(lo))
    slope_out = (out_hi - out_lo) / (padded(hi) - padded(lo))
    best = None
    for c in range(hi - 1, lo, -1):
      if c % n_dev:
        continue
      d = padded(c) - padded(lo)
      if _peak(own_lo + slope_own * d, out_lo + slope_out * d, -(-n // c)) <= budget:
        best = c
        break
    if best is None:
      break
    if measure(best)[3] <= budget:
      return plan(best)
    hi = best
  return plan(lo)


def plan_sweep(fn: Callable[..., Any], batch: Any, *args: Any,
               devices: Union[None, Sequence[jax.Device], Mesh] = None,
               memory_budget: Optional[int] = None) -> SweepPlan:
  """The chunk that ``sweep(..., chunk_size="auto")`` would run in, and its memory.

  The chosen chunk is the largest whose predicted peak device memory fits
  90% of the budget: ``memory_budget`` bytes per device, or
  ``AUTO_MEMORY_FRACTION`` (0.75) of each device's free memory, or, on host
  devices, which report none, of the host's available memory shared among
  the host devices in use. The peak is read from XLA's memory analysis of
  the compiled chunk program (see ``SweepPlan``); programs compiled here
  are kept, so the sweep that follows with the same shapes compiles nothing.

  Args:
    fn, batch, args, devices: as for ``sweep``.
    memory_budget: bytes per device, or None for the devices' free memory.

  Returns:
    A ``SweepPlan``.

  Raises:
    ValueError: even one item per device does not fit the budget; a
      non-positive budget; a backend without memory analysis.

  Example:
    >>> import jax.numpy as jnp, numpy as np, jaxreg as jr
    >>> M = jnp.asarray(np.random.default_rng(0).normal(size=(256, 256)), jnp.float32)
    >>> def ridge(a, M):   # factors one 256 × 256 matrix (256 KiB) per α
    ...   return jnp.linalg.solve(M.T @ M + a * jnp.eye(256), M[0])
    >>> plan = jr.plan_sweep(ridge, jnp.linspace(1, 2, 64), M, memory_budget=4 * 2**20)
    >>> 1 < plan.chunk_size < 64 and plan.peak_bytes <= 4 * 2**20
    True
  """
  batch = _as_batch(batch)
  leaves, treedef = jax.tree_util.tree_flatten(batch)
  n = _batch_length(batch)
  budget = _check_memory_budget(memory_budget, True)
  mesh = _as_mesh(devices)
  dyn_args, static_key = _split_args(args)
  mapped = _get_mapped(fn, static_key, mesh)
  _, rows, leaves, dyn_args = _placed(mesh, leaves, dyn_args)
  return _plan(mapped, leaves, treedef, dyn_args, n, 1 if mesh is None else mesh.size,
               rows, _budget(budget, mesh))[0]


# --- assembling the output -----------------------------------------------------


def _assemble(outs, n, chunk, padded, mesh):
  """Concatenates chunk outputs and drops the padding."""
  real = [min(chunk, n - i * chunk) for i in range(len(outs))]
  if mesh is None:
    outs = [jax.device_put(o) if _is_host(o) else o for o in outs]
    if len(outs) == 1 and padded == n:
      return outs[0]
    return _joiner(None, None, tuple(real))(outs)
  # Chunks loaded from a checkpoint hold only their real rows: pad them back
  # and lay them out like computed chunks, so one program joins them all.
  rows = NamedSharding(mesh, PartitionSpec(tuple(mesh.axis_names)))
  outs = [o if not _is_host(o) else _place(_pad_rows(o, padded), rows) for o in outs]
  spec = PartitionSpec(tuple(mesh.axis_names)) if n % mesh.size == 0 else PartitionSpec()
  return _joiner(mesh, spec, tuple(real))(outs)


def _is_host(tree):
  return all(isinstance(x, np.ndarray) for x in jax.tree_util.tree_leaves(tree))


def _pad_rows(tree, padded):
  def pad(x):
    idx = np.minimum(np.arange(padded), x.shape[0] - 1)
    return x[idx]
  return jax.tree_util.tree_map(pad, tree)


_joiners: "collections.OrderedDict[Any, Callable]" = collections.OrderedDict()


def _joiner(mesh, spec, real):
  key = (mesh, spec, real)
  with _cache_lock:
    join = _joiners.get(key)
    if join is None:
      def join_fn(outs):
        return jax.tree_util.tree_map(
            lambda *ls: jnp.concatenate([l[:r] for l, r in zip(ls, real)]), *outs)
      join = jax.jit(join_fn, out_shardings=None if mesh is None else NamedSharding(mesh, spec))
      _joiners[key] = join
      while len(_joiners) > _CACHE_SIZE:
        _joiners.popitem(last=False)
  return join


# --- progress ------------------------------------------------------------------


def _progress_bar(total, progress):
  if not progress:
    return None
  try:
    from tqdm.auto import tqdm
  except ImportError as e:
    raise ImportError("progress=True needs tqdm: pip install tqdm.") from e
  return tqdm(total=total, desc="sweep", unit="chunk")


def _alpha_leaf(batch):
  """The α values to show in the progress bar, or None if there are none."""
  if isinstance(batch, dict) and "alpha" in batch:
    cand = batch["alpha"]
  elif hasattr(batch, "alpha") and not isinstance(batch, (jax.Array, np.ndarray)):
    cand = batch.alpha
  else:
    leaves = jax.tree_util.tree_leaves(batch)
    cand = leaves[0] if len(leaves) == 1 else None
  if cand is None or not hasattr(cand, "dtype") or not jnp.issubdtype(cand.dtype, jnp.floating):
    return None
  return np.asarray(jax.device_get(cand)).reshape(cand.shape[0], -1)


def _alpha_range(alpha, start, stop):
  a = alpha[start:stop]
  return f"alpha {a.min():.0e}..{a.max():.0e}"


# --- checkpoints ---------------------------------------------------------------


def _host_bytes(x):
  if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
    x = jax.random.key_data(x)
  return np.ascontiguousarray(np.asarray(jax.device_get(x)))


def _fingerprint(leaves) -> str:
  h = hashlib.sha256()
  for leaf in leaves:
    arr = _host_bytes(leaf)
    h.update(f"{arr.shape}|{arr.dtype.str}|{leaf.dtype}|".encode())
    h.update(arr.tobytes())
  return h.hexdigest()


def _stable(text: str) -> str:
  """Drops memory addresses from reprs (e.g. of a mask function), which change
  from one process to the next although the sweep is the same."""
  return re.sub(r" at 0x[0-9a-fA-FX]+", "", text)


def _describe(x):
  return [list(x.shape), str(x.dtype)]


def _fn_name(fn) -> str:
  inner = fn
  prefix = ""
  while isinstance(inner, functools.partial):
    inner, prefix = inner.func, prefix + "partial:"
  module = getattr(inner, "__module__", None) or type(inner).__module__
  name = getattr(inner, "__qualname__", None) or type(inner).__qualname__
  return f"{prefix}{module}.{name}"


# Primitives whose effect on the outputs lives outside the traced program
# (Python or foreign code called at run time), so the jaxpr does not pin down
# what they compute. jax.debug.callback / jax.debug.print are not here: they
# cannot change an output.
_OPAQUE = {
    "pure_callback": "jax.pure_callback",
    "io_callback": "jax.experimental.io_callback",
    "ffi_call": "jax.ffi.ffi_call",
}


def _without_debug_checks(p):
  """``p`` (a jaxpr, closed or not, or a tuple of them) without its
  ``checkify.debug_check`` equations and the dead code that fed them.

  A debug check cannot change an output outside ``checkify``, but the code it
  traces holds the index of its message in a process-wide registry: the same
  program traced after other checks (in a notebook, a test run) would read as
  another program. Everything else, effects such as ``jax.debug.print``
  included, is kept.
  """
  if isinstance(p, jax_core.ClosedJaxpr):
    stripped = _without_debug_checks(p.jaxpr)
    return p if stripped is p.jaxpr else jax_core.ClosedJaxpr(stripped, p.consts)
  if isinstance(p, (tuple, list)):
    items = [_without_debug_checks(q) for q in p]
    return p if all(a is b for a, b in zip(items, p)) else type(p)(items)
  if not isinstance(p, jax_core.Jaxpr):
    return p
  eqns, changed = [], False
  for eqn in p.eqns:
    if eqn.primitive.name == "check" and eqn.params.get("debug", False):
      changed = True
      continue
    params = {k: _without_debug_checks(v) for k, v in eqn.params.items()}
    if any(params[k] is not v for k, v in eqn.params.items()):
      eqn, changed = eqn.replace(params=params), True
    eqns.append(eqn)
  if not changed:
    return p
  # Backward pass: keep what the outputs or a remaining effect need.
  needed = {v for v in p.outvars if isinstance(v, jax_core.Var)}
  kept = []
  for eqn in reversed(eqns):
    if eqn.effects or any(v in needed for v in eqn.outvars):
      kept.append(eqn)
      needed.update(v for v in eqn.invars if isinstance(v, jax_core.Var))
  return p.replace(eqns=kept[::-1])


def _program(closed_jaxpr, checkpoint_key):
  """sha256 of what the vmapped function computes, or None under a key.

  Hashes the printed jaxpr (every primitive, its parameters, shapes, dtypes
  and scalar literals; JAX prints addresses as 0xXXXX so the text is the same
  in every process) and the values of all constants, those of nested jaxprs
  included: a closed-over array becomes a constant, a closed-over Python
  number a literal, a module global read by ``fn`` one or the other.
  Raises ValueError if the program calls host or foreign code and no
  ``checkpoint_key`` vouches for it.
  """
  closed_jaxpr = _without_debug_checks(closed_jaxpr)
  h = hashlib.sha256(_stable(str(closed_jaxpr)).encode())
  opaque = set()

  def value(x, dtype=None):
    try:
      arr = _host_bytes(x if dtype is None else np.asarray(x, dtype=dtype))
    except Exception:  # pylint: disable=broad-except
      # e.g. a non-addressable array or a key-typed literal: its printed form,
      # already part of the jaxpr's text, is all there is to hash
      h.update(repr(x).encode())
      return
    h.update(f"{arr.shape}|{arr.dtype.str}|".encode())
    h.update(arr.tobytes())

  def walk(jaxpr, consts):
    for c in consts:
      value(c)
    for eqn in jaxpr.eqns:
      if eqn.primitive.name in _OPAQUE:
        opaque.add(eqn.primitive.name)
      for v in eqn.invars:
        if isinstance(v, jax_core.Literal):
          value(v.val, v.aval.dtype)
      for p in eqn.params.values():
        visit(p)

  def visit(p):
    if isinstance(p, jax_core.ClosedJaxpr):
      walk(p.jaxpr, p.consts)
    elif isinstance(p, jax_core.Jaxpr):
      walk(p, ())
    elif isinstance(p, (tuple, list)):
      for q in p:
        visit(q)

  visit(closed_jaxpr)
  if checkpoint_key is not None:
    return None
  if opaque:
    names = ", ".join(_OPAQUE[o] for o in sorted(opaque))
    raise ValueError(
        f"fn calls {names}, whose code runs outside the traced program, so "
        "checkpoint_dir cannot tell whether a rerun computes the same thing and would "
        "risk returning another computation's rows. Pass checkpoint_key='<a name you "
        "change whenever fn changes>' to vouch for it, or drop checkpoint_dir.")
  return h.hexdigest()


def _manifest(fn, batch, n, chunk, dyn_args, static_key, out_info, program, key):
  treedef, static = static_key
  out_leaves, out_treedef = jax.tree_util.tree_flatten(out_info)
  for x in out_leaves:
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
      raise TypeError("checkpoint_dir cannot store PRNG key outputs; return "
                      "jax.random.key_data(key) instead.")
  b_leaves, b_treedef = jax.tree_util.tree_flatten(batch)
  return {
      "format": _FORMAT,
      "n_items": n,
      "chunk_size": chunk,
      "batch": {
          "structure": _stable(str(b_treedef)),
          "leaves": [_describe(x) for x in b_leaves],
          "fingerprint": _fingerprint(b_leaves),
      },
      "function": {"program": program, "checkpoint_key": key},
      "output": {
          "structure": _stable(str(out_treedef)),
          "leaves": [[list(x.shape[1:]), str(x.dtype)] for x in out_leaves],
      },
      "args": {
          "structure": _stable(str(treedef)),
          "leaves": [_describe(x) for x in dyn_args],
          "static": [None if s is None else _stable(repr(s.value)) for s in static],
          "fingerprint": _fingerprint(dyn_args),
      },
      # Not part of the identity: shown in messages, compared only to warn.
      "about": {
          "function": _fn_name(fn),
          "jax": jax.__version__,
          "platform": jax.default_backend(),
      },
  }


_NOT_IDENTITY = ("about", "sweep_id")


def _sweep_id(manifest) -> str:
  identity = {k: v for k, v in manifest.items() if k not in _NOT_IDENTITY}
  return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


_HINTS = {
    "function.program":
        "fn computes something else now: its code, a value it closes over, a global it "
        "reads or a functools.partial keyword changed. If you are sure it computes what "
        "it did (say only JAX changed how it writes programs), pass "
        "checkpoint_key='<a name>' to vouch for it",
    "function.checkpoint_key":
        "pass the checkpoint_key this directory was made with",
}


def _differences(saved, now, prefix=""):
  """Human-readable list of the manifest fields that differ."""
  diffs = []
  for key in sorted(set(saved) | set(now)):
    if not prefix and key in _NOT_IDENTITY:
      continue
    a, b = saved.get(key), now.get(key)
    name = f"{prefix}{key}"
    if isinstance(a, dict) and isinstance(b, dict):
      diffs += _differences(a, b, name + ".")
    elif a != b:
      sa, sb = json.dumps(a), json.dumps(b)
      if name in _HINTS:
        short = name != "function.program" and len(sa) <= 80 and len(sb) <= 80
        values = f"saved {sa}, now {sb}; " if short else ""
        diffs.append(f"{name} differs ({values}{_HINTS[name]})")
      elif len(sa) > 80 or len(sb) > 80:
        diffs.append(f"{name} differs")
      else:
        diffs.append(f"{name} differs (saved {sa}, now {sb})")
  return diffs


_TMP = re.compile(r"\.(chunk_\d+\.npz|manifest\.json)\.[0-9a-f]{16}\.tmp")


def _atomic_write(path, write):
  """Writes through a temporary file in the same directory, then os.replace.

  The temporary file is created with mode 0o666 so that the umask (and any
  default ACL of the directory) applies, as for any other output file;
  ``tempfile.mkstemp`` would force 0o600.
  """
  directory = os.path.dirname(path)
  tmp = os.path.join(directory,
                     f".{os.path.basename(path)}.{secrets.token_hex(8)}.tmp")
  fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
  try:
    with os.fdopen(fd, "wb") as f:
      write(f)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    try:
      os.remove(tmp)
    except OSError:
      pass
    raise


def _holder(fd) -> str:
  """Who holds the lock on ``fd``'s file, as written there by the holder.

  The holder writes its record just after taking the lock, and a record may be
  left by a holder that was killed, so an empty record or one naming a dead
  process on this host is read again for a moment.
  """
  host = socket.gethostname()
  text = ""
  for _ in range(100):
    text = os.pread(fd, 4096, 0).decode(errors="replace")
    try:
      info = json.loads(text)
      pid, where = int(info["pid"]), str(info["host"])
    except (ValueError, KeyError, TypeError):
      time.sleep(0.02)
      continue
    if where == host and not _alive(pid):
      time.sleep(0.02)
      continue
    return f"pid {pid} on host {where}, since {info.get('since', '?')}"
  return f"holder unknown; its lock file reads {text!r}"


def _alive(pid) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except OSError:
    return True  # exists, owned by someone else
  return True


class _Corrupt(Exception):
  """A chunk file that cannot be used; the message says why."""


class _Store:
  """The lock, manifest and chunk files of one resumable sweep."""

  def __init__(self, directory):
    self.dir = os.fspath(directory)
    self.writer = jax.process_index() == 0
    self.lock_fd = None
    if os.path.exists(self.dir) and not os.path.isdir(self.dir):
      raise ValueError(f"checkpoint_dir {self.dir!r} exists and is not a directory.")
    os.makedirs(self.dir, exist_ok=True)
    error = None
    try:
      if self.writer:
        try:
          self._lock()
        except ValueError as e:
          error = e
      if jax.process_count() > 1:
        from jax.experimental import multihost_utils
        locked = multihost_utils.broadcast_one_to_all(np.int32(error is None))
        if error is None and not locked:
          error = ValueError(f"checkpoint_dir {self.dir!r}: process 0 could not lock it; "
                             "see its error.")
    except BaseException:
      self.close()  # sweep() only closes a store it got back
      raise
    if error is not None:
      raise error

  # One sweep owns a directory at a time. flock is released by the kernel
  # when the holder dies, so a killed sweep leaves no stale lock behind.
  def _lock(self):
    if fcntl is None:  # no flock on this platform: unlocked, as documented
      return
    path = os.path.join(self.dir, _LOCK)
    try:
      fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
      if not os.access(self.dir, os.W_OK):
        return  # read-only: nobody can write here, so there is nothing to race for
      raise ValueError(f"checkpoint_dir {self.dir!r}: cannot open its lock file "
                       f"({e}).") from None
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = _holder(fd)
      os.close(fd)
      raise ValueError(
          f"checkpoint_dir {self.dir!r} is in use by another sweep ({holder}); one sweep "
          "owns a directory at a time. Wait for it to finish, or use another "
          "directory.") from None
    except OSError as e:
      os.close(fd)
      raise ValueError(f"checkpoint_dir {self.dir!r} cannot be locked ({e}); use a "
                       "directory on a filesystem that supports flock.") from None
    self.lock_fd = fd
    me = {"pid": os.getpid(), "host": socket.gethostname(),
          "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(me).encode(), 0)

  def close(self):
    if self.lock_fd is not None:
      try:
        os.ftruncate(self.lock_fd, 0)  # no stale holder for the next reader
      finally:
        os.close(self.lock_fd)  # releases the lock
        self.lock_fd = None

  def attach(self, manifest, treedef):
    """Checks or creates the manifest; called while holding the lock."""
    self.leaves = manifest["output"]["leaves"]
    self.treedef = treedef
    self.sweep_id = _sweep_id(manifest)
    path = os.path.join(self.dir, _MANIFEST)
    if self.writer:
      for f in os.listdir(self.dir):
        if _TMP.fullmatch(f):  # left by a writer that was killed mid-write
          try:
            os.remove(os.path.join(self.dir, f))
          except OSError:
            pass
    if os.path.exists(path):
      with open(path, encoding="utf-8") as f:
        try:
          saved = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
          raise ValueError(f"checkpoint_dir {self.dir!r}: {_MANIFEST} is not valid JSON "
                           f"({e}). Use another directory, or delete this one to start "
                           "over.") from None
      if not isinstance(saved, dict):
        saved = {"format": None}
      key = manifest["function"]["checkpoint_key"]
      saved_fn = saved.get("function")
      saved_key = saved_fn.get("checkpoint_key") if isinstance(saved_fn, dict) else None
      adopt = key is not None and saved_key is None and isinstance(saved_fn, dict)
      compared = saved
      if key is not None and isinstance(saved_fn, dict):
        # A key stands for the program; given to a directory made without
        # one, it vouches that fn still computes what the directory holds.
        compared = dict(saved, function={"program": None, "checkpoint_key": saved_key
                                         if saved_key is not None else key})
      elif saved_key is not None:  # made with a key, now without: only that matters
        compared = dict(saved, function={"program": manifest["function"]["program"],
                                         "checkpoint_key": saved_key})
      diffs = _differences(compared, manifest)
      if diffs:
        name = (saved.get("about") or {}).get("function", "?")
        raise ValueError(
            f"checkpoint_dir {self.dir!r} holds a different sweep (of {name}): "
            + "; ".join(diffs) + ". Use another directory, or delete this one to start "
            "over.")
      if isinstance(saved.get("sweep_id"), str):
        self.sweep_id = saved["sweep_id"]
      if adopt:
        warnings.warn(
            f"checkpoint_dir {self.dir!r} was made without a checkpoint_key; "
            f"checkpoint_key={key!r} now vouches that fn computes what its chunks hold, "
            "and from now on only that key resumes it.", RuntimeWarning, stacklevel=3)
        if self.writer:
          text = json.dumps(dict(saved, function=manifest["function"]), indent=1,
                            sort_keys=True).encode()
          _atomic_write(path, lambda f: f.write(text))
      about, now = saved.get("about") or {}, manifest["about"]
      changed = [k for k in ("jax", "platform") if about.get(k) != now[k]]
      if changed:
        warnings.warn(
            f"checkpoint_dir {self.dir!r}: resuming a sweep started with "
            + ", ".join(f"{k} {about.get(k)}" for k in changed) + ", now "
            + ", ".join(f"{k} {now[k]}" for k in changed) + "; loaded and new rows agree "
            "to rounding, not bit for bit.", RuntimeWarning, stacklevel=3)
    else:
      others = [f for f in os.listdir(self.dir) if not f.startswith(".")]
      if others:
        raise ValueError(
            f"checkpoint_dir {self.dir!r} is not empty and has no {_MANIFEST} "
            f"(found {sorted(others)[:3]}); refusing to mix files. Use an empty or new "
            "directory.")
      if self.writer:
        text = json.dumps(dict(manifest, sweep_id=self.sweep_id), indent=1,
                          sort_keys=True).encode()
        _atomic_write(path, lambda f: f.write(text))
    self._sync("manifest")

  def saved_chunk_size(self, n):
    """The chunk size of the sweep this directory holds, or None if it is new."""
    try:
      with open(os.path.join(self.dir, _MANIFEST), encoding="utf-8") as f:
        saved = json.load(f)
      chunk = saved["chunk_size"]
    except (OSError, ValueError, KeyError, TypeError):
      return None
    return int(chunk) if isinstance(chunk, int) and 0 < chunk <= n else None

  def _sync(self, name):
    if jax.process_count() > 1:
      from jax.experimental import multihost_utils
      multihost_utils.sync_global_devices(f"jaxreg.sweep:{self.dir}:{name}")

  def _path(self, i):
    return os.path.join(self.dir, f"chunk_{i:05d}.npz")

  def _digest(self, arrays):
    h = hashlib.sha256()
    for k, x in enumerate(arrays):
      h.update(f"{k}|{x.shape}|{self.leaves[k][1]}|".encode())
      h.update(np.ascontiguousarray(x).tobytes())
    return h.hexdigest()

  def done(self, i):
    return os.path.exists(self._path(i))

  def save(self, i, out, rows):
    leaves = jax.tree_util.tree_leaves(out)
    if jax.process_count() > 1:
      from jax.experimental import multihost_utils
      leaves = multihost_utils.process_allgather(leaves, tiled=True)
    if self.writer:
      arrays = [np.asarray(x)[:rows] for x in jax.device_get(leaves)]
      meta = {"format": _FORMAT, "sweep": self.sweep_id, "chunk": i, "rows": rows,
              "sha256": self._digest(arrays)}
      files = {f"leaf_{k}": x for k, x in enumerate(arrays)}
      files[_META] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)
      _atomic_write(self._path(i), lambda f: np.savez(f, **files))
    self._sync(f"chunk{i}")

  def load(self, i, rows):
    """The saved chunk's ``rows`` rows, as host arrays in the output structure.

    Raises ValueError naming the file if it is unreadable, belongs to another
    sweep or chunk, holds another number of rows, or fails its checksum.
    """
    path = self._path(i)
    try:
      arrays = self._read(path, i, rows)
    except _Corrupt as e:
      raise ValueError(
          f"checkpoint file {path!r} {e}. Delete this file to recompute its chunk, or "
          "use another checkpoint_dir.") from None
    return jax.tree_util.tree_unflatten(self.treedef, arrays)

  def _read(self, path, i, rows):
    try:
      with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. numpy's warnings on odd headers
        # Opened here, not by np.load, which leaks its file when the archive
        # turns out to be damaged.
        with open(path, "rb") as f:
          data = np.load(f, allow_pickle=False)
          if not isinstance(data, np.lib.npyio.NpzFile):
            raise _Corrupt("is not an .npz archive")
          with data:
            if _META not in data.files:
              raise _Corrupt("has no identity record (written by an older jaxreg or "
                             "another program)")
            meta = json.loads(data[_META].tobytes().decode())
            names = [f"leaf_{k}" for k in range(len(self.leaves))]
            if sorted(data.files) != sorted(names + [_META]):
              raise _Corrupt(f"holds arrays {sorted(data.files)}, expected {names}")
            arrays = [data[name] for name in names]
    except _Corrupt:
      raise
    except FileNotFoundError:
      raise
    except Exception as e:  # pylint: disable=broad-except
      # A damaged archive fails in many ways (EOFError, BadZipFile, a pickle
      # refusal, zipfile's NotImplementedError for a flipped flag bit, ...);
      # every one of them means the same: this file cannot be used.
      raise _Corrupt(f"is unreadable ({type(e).__name__}: {e})") from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
      raise _Corrupt(f"has an unknown identity record {meta!r}")
    if meta.get("sweep") != self.sweep_id:
      raise _Corrupt("belongs to another sweep (it was copied from another directory)")
    if meta.get("chunk") != i:
      raise _Corrupt(f"holds chunk {meta.get('chunk')}, not chunk {i} (files were renamed "
                     "or swapped)")
    if meta.get("rows") != rows:
      raise _Corrupt(f"holds {meta.get('rows')} rows, but chunk {i} has {rows}")
    for k, (x, (shape, dtype)) in enumerate(zip(arrays, self.leaves)):
      want = np.dtype(jnp.dtype(dtype))
      if x.dtype != want:
        if x.dtype.itemsize != want.itemsize or x.dtype.kind not in "V" + want.kind:
          raise _Corrupt(f"leaf {k} has dtype {x.dtype}, expected {want}")
        arrays[k] = x = x.view(want)  # e.g. bfloat16, which .npz stores as raw bytes
      if x.shape != (rows, *shape):
        raise _Corrupt(f"leaf {k} has shape {x.shape}, expected {(rows, *shape)}")
    if self._digest(arrays) != meta.get("sha256"):
      raise _Corrupt("does not match its checksum: its data was altered or damaged")
    return arrays
