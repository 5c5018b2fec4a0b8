"""Sweeps, paths and cross-validation: no implicit host transfers, no recompiles.

Once the caller has placed its inputs on the device, a call may move data
between host and device only by explicit, stated transfers
(``jax.device_put`` / ``jax.device_get``): an implicit one is a hidden
synchronisation (device → host) or a copy repeated at every call (host →
device), invisible on a CPU and slow on an accelerator. Each call here runs
under ``jax.transfer_guard("disallow")``, which fails on any implicit
host-to-device transfer. On a CPU backend device memory *is* host memory, so
JAX's guard sees no device-to-host copy at all; the guard here also fails
on every implicit read of a device array's value (``float(x)``,
``bool(x)``, ``x.item()``, ``x.tolist()``, ``np.asarray(x)`` where it goes
through ``__array__``), the reads that become device-to-host copies on a
GPU. (NumPy's buffer-protocol view of a CPU array is the one read this
cannot see.)

The same calls count XLA compilations: a second call with new α values (or
new data of the same shapes) compiles nothing.
"""

import contextlib
import inspect
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxreg as jr

try:
  from jax._src import array as _jax_array
except ImportError:  # pragma: no cover - JAX internals moved
  _jax_array = None


@contextlib.contextmanager
def no_implicit_transfers():
  """Fails on any implicit host↔device transfer inside the block (see above)."""
  if _jax_array is None or not isinstance(getattr(_jax_array.ArrayImpl, "_value", None),
                                          property):
    pytest.skip("this JAX keeps device-array reads elsewhere")
  value = _jax_array.ArrayImpl._value
  reads = []

  def guarded(self):
    # jax.device_get is the explicit read; anything else reading a value is not.
    if not any(f.function == "device_get" and "jax" in f.filename
               for f in inspect.stack(0)[1:12]):
      caller = next((f for f in inspect.stack(0)[1:] if "/jaxreg/" in f.filename), None)
      reads.append("implicit read of a device array" + (
          f" at {caller.filename.split('/jaxreg/')[-1]}:{caller.lineno}" if caller else ""))
    return value.fget(self)

  _jax_array.ArrayImpl._value = property(guarded)
  try:
    with jax.transfer_guard("disallow"):
      yield
  finally:
    _jax_array.ArrayImpl._value = value
  assert not reads, reads


@contextlib.contextmanager
def count_compilations():
  """Counts XLA backend compilations inside the block."""
  events = []

  def listen(name, *args, **kwargs):
    if name == "/jax/core/compile/backend_compile_duration":
      events.append(name)

  jax.monitoring.register_event_duration_secs_listener(listen)
  try:
    yield events
  finally:
    jax.monitoring.unregister_event_duration_listener(listen)


def test_the_guard_catches_implicit_transfers_both_ways():
  x = jax.device_put(np.arange(3.0, dtype=np.float32))
  with pytest.raises(Exception, match="host-to-device"):
    with no_implicit_transfers():
      x + np.float32(1.0)          # a host scalar copied in, implicitly
  with pytest.raises(AssertionError, match="implicit read"):
    with no_implicit_transfers():
      float(jnp.sum(x))             # a device value read back, implicitly
  with no_implicit_transfers():    # explicit transfers both ways are fine
    jax.device_get(x + jax.device_put(np.float32(1.0)))


def test_compile_counter_counts():
  x = jax.device_put(np.ones(7, np.float32))
  f = jax.jit(lambda v: v * 3 + 1)
  with count_compilations() as events:
    f(x)
    f(x + x)         # the same program: counted once, the addition once
  assert len(events) == 2


# --- sweeps ------------------------------------------------------------------------


def _ridge(pen, X, y):
  n, p = X.shape
  return jnp.linalg.solve(X.T @ X / n + pen.alpha * jnp.eye(p), X.T @ y / n)


def _gd(pen, w0, X, y):   # warm start from the batch: its buffers can be donated
  def step(w, _):
    g = X.T @ (X @ w - y) / X.shape[0] + pen.alpha * w
    return w - 0.1 * g, None
  return jax.lax.scan(step, w0, None, 20)[0]


@pytest.fixture(scope="module")
def data():
  rng = np.random.default_rng(0)
  X = rng.normal(size=(40, 6)).astype(np.float32)
  y = (X @ np.linspace(-1, 1, 6) + 0.1 * rng.normal(size=40)).astype(np.float32)
  return jax.device_put(X), jax.device_put(y)


@pytest.mark.parametrize("chunk_size", [None, 4, 5, "auto"])
def test_sweep_runs_with_no_implicit_transfer_and_compiles_once(data, chunk_size):
  X, y = data
  grids = [jax.device_put(np.logspace(a, a + 2, 12).astype(np.float32)) for a in (-3, -2, -1)]
  kw = {"chunk_size": chunk_size}
  if chunk_size == "auto":
    kw["memory_budget"] = 2**20
  jr.sweep(_ridge, jr.L2(grids[0]), X, y, **kw)  # compiles
  pens = [jr.L2(g) for g in grids[1:]]  # built before the guard: placing inputs is the caller's
  with count_compilations() as events, no_implicit_transfers():
    outs = [jr.sweep(_ridge, pen, X, y, **kw) for pen in pens]
    jax.block_until_ready(outs)
  assert events == [], f"{len(events)} compilations for new α values"
  for g, out in zip(grids[1:], outs):
    want = np.stack([np.linalg.solve(np.asarray(X).T @ np.asarray(X) / 40 + a * np.eye(6),
                                     np.asarray(X).T @ np.asarray(y) / 40)
                     for a in np.asarray(g, np.float64)])
    np.testing.assert_allclose(np.asarray(out), want, rtol=2e-4, atol=2e-5)


def test_sweep_over_devices_has_no_implicit_transfer(data):
  X, y = data
  devices = jax.devices()
  grid = jax.device_put(np.logspace(-3, 0, 8).astype(np.float32))
  jr.sweep(_ridge, jr.L2(grid), X, y, chunk_size=4, devices=devices)
  pen = jr.L2(grid * 2)
  with count_compilations() as events, no_implicit_transfers():
    jax.block_until_ready(jr.sweep(_ridge, pen, X, y, chunk_size=4, devices=devices))
  assert events == []


def test_sweep_donates_its_chunk_inputs_not_the_callers_batch(data):
  """Outputs shaped like the batch reuse its chunk buffers; the caller's batch survives."""
  X, y = data
  batch = {"alpha": jax.device_put(np.logspace(-3, 0, 8).astype(np.float32)),
           "w0": jax.device_put(np.zeros((8, 6), np.float32))}
  fn = lambda item, X, y: _gd(jr.L2(item["alpha"]), item["w0"], X, y)
  with warnings.catch_warnings():
    warnings.simplefilter("error")   # no "donated buffers were not usable" leaks out
    out = jr.sweep(fn, batch, X, y, chunk_size=4)
  assert not batch["w0"].is_deleted() and not batch["alpha"].is_deleted()
  ref = jnp.stack([_gd(jr.L2(a), w, X, y) for a, w in zip(batch["alpha"], batch["w0"])])
  np.testing.assert_allclose(np.asarray(out), np.asarray(ref), rtol=1e-5, atol=1e-6)
  # The compiled chunk program aliases the donated w0 rows to its output.
  mapped = next(v for k, v in jr.sweep.__globals__["_cache"].items() if k[0] is fn)
  items = {"alpha": jax.ShapeDtypeStruct((4,), jnp.float32),
           "w0": jax.ShapeDtypeStruct((4, 6), jnp.float32)}
  mem = mapped.lower(items, (X, y)).compile().memory_analysis()
  assert mem.alias_size_in_bytes >= 4 * 6 * 4


# --- paths and cross-validation ----------------------------------------------------


def _linear_calls(X, y, y01, sw):
  pen, enet, mcp = jr.L1(1.0), jr.ElasticNet(1.0, 0.5), jr.MCP(1.0, 3.0)
  return {
      "path lasso": lambda grid: jr.linear.path(X, y, pen, alphas=grid),
      "path mcp": lambda grid: jr.linear.path(X, y, mcp, alphas=grid),
      "path weighted": lambda grid: jr.linear.path(X, y, enet, alphas=grid, sample_weight=sw),
      "path logistic": lambda grid: jr.linear.path(X, y01, pen, datafit="logistic",
                                                   alphas=grid),
      "enet_path": lambda grid: jr.linear.enet_path(X, y, 0.5, alphas=grid),
      "ridge_path": lambda grid: jr.linear.ridge_path(X, y, grid),
      "cross_validate": lambda grid: jr.linear.cross_validate(X, y, alphas=grid),
      "cross_validate weighted": lambda grid: jr.linear.cross_validate(
          X, y, alphas=grid, sample_weight=sw),
      "cross_validate mcp": lambda grid: jr.linear.cross_validate(X, y, penalty=mcp,
                                                                  alphas=grid),
  }


_CALLS = list(_linear_calls(*[None] * 4))


@pytest.mark.parametrize("name", _CALLS)
def test_paths_and_cv_have_no_implicit_transfer_and_compile_once(data, name):
  X, y = data
  y01 = jax.device_put((np.asarray(y) > 0).astype(np.float32))
  sw = jax.device_put(np.random.default_rng(1).uniform(0.5, 2.0, X.shape[0]).astype(np.float32))
  call = _linear_calls(X, y, y01, sw)[name]
  first, second = (jax.device_put(np.logspace(a, a - 2, 6).astype(np.float32))
                   for a in (-0.5, -0.7))
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")    # convergence on this tiny problem is not the point
    jax.block_until_ready(call(first))
    with count_compilations() as events, no_implicit_transfers():
      jax.block_until_ready(call(second))
  assert events == [], f"{name}: {len(events)} compilations for a new α grid"


def test_default_grids_have_no_implicit_transfer(data):
  X, y = data
  pen = jr.L1(1.0)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    jr.linear.path(X, y, pen)
    jr.linear.cross_validate(X, y)
    with no_implicit_transfers():
      jax.block_until_ready(jr.linear.path(X, y, pen))
      jax.block_until_ready(jr.linear.cross_validate(X, y))
