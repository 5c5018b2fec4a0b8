"""Tests for jr.sweep: vmapped, chunked, sharded, resumable α sweeps.

Oracles: a Python loop calling the same (jitted) function one item at a
time, and the closed-form ridge solution (XᵀX/n + αI)⁻¹Xᵀy/n.
"""

import json
import os
import signal
import subprocess
import sys
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import jaxreg as jr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _data(n=40, p=5, seed=0, dtype=jnp.float32):
  rng = np.random.default_rng(seed)
  X = rng.normal(size=(n, p))
  y = X @ np.linspace(-2.0, 2.0, p) + 0.3 * rng.normal(size=n)
  return jnp.asarray(X, dtype), jnp.asarray(y, dtype)


def _ista(pen, X, y, steps=40):
  """Proximal gradient on the least-squares loss; returns weights and losses."""
  lr = 0.05
  tx = optax.chain(optax.sgd(lr), jr.proximal(pen, lr))
  loss = lambda w: 0.5 * jnp.mean((X @ w - y) ** 2)

  def step(carry, _):
    w, s = carry
    u, s = tx.update(jax.grad(loss)(w), s, w)
    return (optax.apply_updates(w, u), s), loss(w)

  w = jnp.zeros(X.shape[1], X.dtype)
  (w, _), losses = jax.lax.scan(step, (w, tx.init(w)), None, steps)
  return {"w": w, "losses": losses}


def _loop(fn, items, *args):
  """The oracle: one jitted call per item, stacked with NumPy."""
  jitted = jax.jit(fn)
  outs = [jitted(item, *args) for item in items]
  return jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *outs)


def _items(batch, n):
  return [jax.tree_util.tree_map(lambda x: x[i], batch) for i in range(n)]


def _assert_tree_close(a, b, **tol):
  la, ta = jax.tree_util.tree_flatten(a)
  lb, tb = jax.tree_util.tree_flatten(b)
  assert ta == tb
  for x, y in zip(la, lb):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), **tol)


def _assert_tree_equal(a, b):
  for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
    assert np.asarray(x).dtype == np.asarray(y).dtype
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


# --- the sweep is the loop -------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [None, 4, 10, 64])
def test_matches_python_loop(chunk_size):
  X, y = _data()
  pens = jr.L1(jnp.logspace(-3, 0, 10))
  out = jr.sweep(_ista, pens, X, y, chunk_size=chunk_size)
  ref = _loop(_ista, _items(pens, 10), X, y)
  assert out["w"].shape == (10, 5) and out["losses"].shape == (10, 40)
  _assert_tree_close(out, ref, rtol=1e-5, atol=1e-6)
  # the largest α zeroes weights that the smallest keeps (the prox did run)
  assert np.sum(np.asarray(out["w"][-1]) == 0) > np.sum(np.asarray(out["w"][0]) == 0)


def test_ridge_by_gradient_descent_equals_closed_form(x64):
  X, y = _data(n=60, p=4, dtype=jnp.float64)
  alphas = jnp.logspace(-4, 1, 7)

  def gd(pen, X, y):
    n = X.shape[0]
    # step 1/L for the smoothness constant L of the penalized loss
    lr = 1.0 / (jnp.linalg.eigvalsh(X.T @ X / n)[-1] + pen.alpha)
    loss = lambda w: 0.5 * jnp.mean((X @ w - y) ** 2) + pen(w)
    w0 = jnp.zeros(X.shape[1], X.dtype)
    return jax.lax.fori_loop(0, 3000, lambda _, w: w - lr * jax.grad(loss)(w), w0)

  coefs = jr.sweep(gd, jr.L2(alphas), X, y, chunk_size=3)
  assert coefs.dtype == jnp.float64
  Xn, yn, n = np.asarray(X), np.asarray(y), X.shape[0]
  for a, w in zip(np.asarray(alphas), np.asarray(coefs)):
    closed = np.linalg.solve(Xn.T @ Xn / n + a * np.eye(4), Xn.T @ yn / n)
    np.testing.assert_allclose(w, closed, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_float32_and_float64(dtype):
  with jax.enable_x64(dtype == jnp.float64):
    X, y = _data(dtype=dtype)
    pens = jr.L1(jnp.logspace(-3, 0, 5, dtype=dtype))
    out = jr.sweep(_ista, pens, X, y, chunk_size=2)
    assert out["w"].dtype == dtype and out["losses"].dtype == dtype
    _assert_tree_close(out, _loop(_ista, _items(pens, 5), X, y),
                       rtol=1e-5 if dtype == jnp.float32 else 1e-12, atol=1e-7)


def test_inject_hyperparams_grid_of_alpha_and_learning_rate():
  X, y = _data()
  alphas, lrs = jnp.array([1e-3, 1e-1, 1.0]), jnp.array([0.01, 0.1])
  grid = {"alpha": jnp.repeat(alphas, 2), "lr": jnp.tile(lrs, 3)}

  def train(hp, X, y):
    make = lambda learning_rate, alpha: optax.chain(
        jr.add_penalty_gradient(jr.L2(alpha)), optax.sgd(learning_rate))
    tx = optax.inject_hyperparams(make)(learning_rate=hp["lr"], alpha=hp["alpha"])
    loss = lambda w: 0.5 * jnp.mean((X @ w - y) ** 2)
    w = jnp.zeros(X.shape[1])
    s = tx.init(w)
    for _ in range(5):
      u, s = tx.update(jax.grad(loss)(w), s, w)
      w = optax.apply_updates(w, u)
    return w, s.hyperparams

  w, hyper = jr.sweep(train, grid, X, y, chunk_size=4)
  np.testing.assert_allclose(hyper["learning_rate"], grid["lr"])
  np.testing.assert_allclose(hyper["alpha"], grid["alpha"])
  ref_w, _ = _loop(train, _items(grid, 6), X, y)
  np.testing.assert_allclose(w, ref_w, rtol=1e-5, atol=1e-7)


class _MLP(nn.Module):

  @nn.compact
  def __call__(self, x):
    return nn.Dense(3)(nn.tanh(nn.Dense(8)(x)))


def test_flax_linen_model_one_per_alpha():
  rng = np.random.default_rng(3)
  X = jnp.asarray(rng.normal(size=(30, 4)), jnp.float32)
  y = jnp.asarray(rng.integers(0, 3, 30))
  key = jax.random.key(0)

  def train(pen, key, X, y):
    lr = 0.2
    params = _MLP().init(key, X[:1])
    tx = optax.chain(optax.sgd(lr), jr.proximal(pen, lr))

    def loss_fn(p):
      logits = _MLP().apply(p, X)
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def step(carry, _):
      p, s = carry
      loss, g = jax.value_and_grad(loss_fn)(p)
      u, s = tx.update(g, s, p)
      return (optax.apply_updates(p, u), s), loss

    (params, _), losses = jax.lax.scan(step, (params, tx.init(params)), None, 20)
    return params, losses

  pens = jr.L1(jnp.array([0.0, 1e-2, 3e-1]), mask=jr.masks.weights_only)
  params, losses = jr.sweep(train, pens, key, X, y, chunk_size=2)
  assert losses.shape == (3, 20)
  ref_params, ref_losses = _loop(train, _items(pens, 3), key, X, y)
  _assert_tree_close((params, losses), (ref_params, ref_losses), rtol=1e-5, atol=1e-6)
  kernel = np.asarray(params["params"]["Dense_0"]["kernel"])
  assert np.mean(kernel[2] == 0) > np.mean(kernel[0] == 0)
  assert np.all(np.asarray(params["params"]["Dense_0"]["bias"][2]) != 0)  # masked out


def test_flax_nnx_model_one_per_alpha():
  X, y = _data(n=30, p=4)

  def train(pen, key, X, y):
    model = nnx.Linear(4, 1, rngs=nnx.Rngs(params=key))
    graphdef, params = nnx.split(model, nnx.Param)
    tx = optax.chain(jr.add_penalty_gradient(pen), optax.sgd(0.1))

    def loss_fn(p):
      return 0.5 * jnp.mean((nnx.merge(graphdef, p)(X)[:, 0] - y) ** 2)

    def step(carry, _):
      p, s = carry
      loss, g = jax.value_and_grad(loss_fn)(p)
      u, s = tx.update(g, s, p)
      return (optax.apply_updates(p, u), s), loss

    (params, _), losses = jax.lax.scan(step, (params, tx.init(params)), None, 15)
    return nnx.to_pure_dict(params), losses

  pens = jr.L2(jnp.array([0.0, 0.1, 1.0]), mask=jr.masks.weights_only)
  out = jr.sweep(train, pens, jax.random.key(1), X, y)
  ref = _loop(train, _items(pens, 3), jax.random.key(1), X, y)
  _assert_tree_close(out, ref, rtol=1e-5, atol=1e-6)
  norms = np.linalg.norm(np.asarray(out[0]["kernel"]).reshape(3, -1), axis=1)
  assert norms[0] > norms[1] > norms[2]


# --- compilation, determinism, arguments ------------------------------------------


def test_one_compilation_for_all_chunks_and_calls():
  X, y = _data()
  traces = []

  def counted(pen, X, y):
    traces.append(1)  # runs at trace time only
    return _ista(pen, X, y, steps=5)

  first = jr.sweep(counted, jr.L1(jnp.logspace(-3, 0, 10)), X, y, chunk_size=4)
  assert len(traces) == 1  # three chunks, the last padded: one program
  again = jr.sweep(counted, jr.L1(jnp.logspace(-3, 0, 10)), X, y, chunk_size=4)
  other = jr.sweep(counted, jr.L1(jnp.linspace(0.5, 2.0, 10)), X, y, chunk_size=4)
  assert len(traces) == 1  # same function and shapes: nothing compiled
  _assert_tree_equal(first, again)  # bit-identical from call to call
  assert not np.allclose(np.asarray(first["w"]), np.asarray(other["w"]))


def test_static_arguments_set_loop_lengths():
  X, y = _data()
  pens = jr.L1(jnp.array([0.01, 0.1]))
  out5 = jr.sweep(_ista, pens, X, y, 5)
  out9 = jr.sweep(_ista, pens, X, y, 9)
  assert out5["losses"].shape == (2, 5) and out9["losses"].shape == (2, 9)
  _assert_tree_close(out9, _loop(lambda p, X, y: _ista(p, X, y, 9), _items(pens, 2), X, y),
                     rtol=1e-5, atol=1e-7)


def test_plain_array_and_list_batches():
  w = jnp.array([3.0, 0.5, -1.0])
  out = jr.sweep(lambda a, w: jr.L1(a).prox(w, 1.0), jnp.array([0.0, 1.0]), w)
  np.testing.assert_allclose(out, [[3.0, 0.5, -1.0], [2.0, 0.0, 0.0]])
  out_list = jr.sweep(lambda a, w: jr.L1(a).prox(w, 1.0), [0.0, 1.0], w)
  np.testing.assert_array_equal(out_list, out)


def test_chunked_and_unchunked_agree_and_padding_is_dropped():
  X, y = _data()
  pens = jr.L1(jnp.logspace(-3, 0, 7))
  whole = jr.sweep(_ista, pens, X, y)
  for c in (1, 3, 6):
    part = jr.sweep(_ista, pens, X, y, chunk_size=c)
    assert part["w"].shape == (7, 5)
    _assert_tree_close(part, whole, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("batch, kwargs, error, words", [
    (jnp.zeros((0,)), {}, ValueError, "empty"),
    ({}, {}, ValueError, "empty"),
    ({"alpha": jnp.ones(3), "lr": jnp.ones(4)}, {}, ValueError, "leading axis"),
    (jnp.float32(1.0), {}, ValueError, "scalar"),
    ({"alpha": "abc"}, {}, TypeError, "not an array"),
    (jnp.ones(3), {"chunk_size": 0}, ValueError, "chunk_size"),
    (jnp.ones(3), {"chunk_size": -2}, ValueError, "chunk_size"),
    (jnp.ones(3), {"chunk_size": 2.0}, TypeError, "chunk_size"),
    (jnp.ones(3), {"chunk_size": True}, TypeError, "chunk_size"),
    (jnp.ones(3), {"devices": "cpu"}, TypeError, "devices"),
    (jnp.ones(3), {"devices": 4}, TypeError, "devices"),
    (jnp.ones(3), {"devices": ["cpu:0"]}, TypeError, "devices"),
    (jnp.ones(3), {"devices": []}, ValueError, "devices"),
])
def test_bad_input_raises_clear_errors(batch, kwargs, error, words):
  with pytest.raises(error, match=words):
    jr.sweep(lambda a: a, batch, **kwargs)


def test_bad_fn_and_static_argument():
  with pytest.raises(TypeError, match="fn"):
    jr.sweep("not callable", jnp.ones(2))
  with pytest.raises(TypeError, match="hashable"):
    jr.sweep(lambda a, d: a, jnp.ones(2), {1, 2})


def test_devices_list_of_one_device():
  out = jr.sweep(lambda a: a * 2, jnp.arange(5.0), chunk_size=2, devices=jax.devices()[:1])
  np.testing.assert_array_equal(out, np.arange(5.0) * 2)


def test_progress_bar_shows_alpha_range(capsys):
  out = jr.sweep(lambda pen: pen.alpha * 2, jr.L2(jnp.logspace(-5, -1, 6)), chunk_size=4,
                 progress=True)
  np.testing.assert_allclose(out, 2 * np.logspace(-5, -1, 6), rtol=1e-6)
  err = capsys.readouterr().err
  assert "alpha 1e-05..3e-03" in err and "alpha 2e-02..1e-01" in err and "2/2" in err


# --- checkpoints ----------------------------------------------------------------


def test_checkpoint_resume_skips_finished_chunks(tmp_path):
  X, y = _data()
  pens = jr.L1(jnp.logspace(-3, 0, 7), mask=jr.masks.weights_only)
  ckpt = tmp_path / "run"
  first = jr.sweep(_ista, pens, X, y, chunk_size=3, checkpoint_dir=ckpt)
  _assert_tree_equal(first, jr.sweep(_ista, pens, X, y, chunk_size=3))
  files = sorted(f for f in os.listdir(ckpt) if not f.startswith("."))  # not the lock
  assert files == ["chunk_00000.npz", "chunk_00001.npz", "chunk_00002.npz", "manifest.json"]
  with np.load(ckpt / "chunk_00002.npz", allow_pickle=False) as last:
    assert sorted(last.files) == ["leaf_0", "leaf_1", "meta"] and last["leaf_1"].shape == (1, 5)
  manifest = json.loads((ckpt / "manifest.json").read_text())
  assert manifest["chunk_size"] == 3 and manifest["n_items"] == 7

  stamps = {f: os.stat(ckpt / f).st_mtime_ns for f in files}
  os.remove(ckpt / "chunk_00001.npz")
  resumed = jr.sweep(_ista, pens, X, y, chunk_size=3, checkpoint_dir=ckpt)
  _assert_tree_equal(resumed, first)
  assert os.stat(ckpt / "chunk_00000.npz").st_mtime_ns == stamps["chunk_00000.npz"]
  assert os.stat(ckpt / "chunk_00002.npz").st_mtime_ns == stamps["chunk_00002.npz"]
  assert os.path.exists(ckpt / "chunk_00001.npz")
  assert not [f for f in os.listdir(ckpt) if f.endswith(".tmp")]


def test_checkpoint_of_another_sweep_is_refused(tmp_path):
  X, y = _data()
  pens = jr.L1(jnp.logspace(-3, 0, 6))
  ckpt = tmp_path / "run"
  jr.sweep(_ista, pens, X, y, chunk_size=3, checkpoint_dir=ckpt)
  before = {f: (ckpt / f).read_bytes() for f in os.listdir(ckpt)}

  def other_fn(pen, X, y):
    return _ista(pen, X, y, steps=39)

  cases = [
      ((_ista, jr.L1(jnp.logspace(-3, 1, 6)), X, y), {"chunk_size": 3}, "batch.fingerprint"),
      ((_ista, jr.L2(jnp.logspace(-3, 0, 6)), X, y), {"chunk_size": 3}, "batch.structure"),
      ((_ista, pens, X, y), {"chunk_size": 2}, "chunk_size"),
      ((other_fn, pens, X, y), {"chunk_size": 3}, "function.program"),
      ((_ista, pens, X, y + 1), {"chunk_size": 3}, "args.fingerprint"),
      ((_ista, pens, X, y, 12), {"chunk_size": 3}, "args"),
  ]
  for args, kwargs, words in cases:
    with pytest.raises(ValueError, match=words):
      jr.sweep(*args, checkpoint_dir=ckpt, **kwargs)
  assert {f: (ckpt / f).read_bytes() for f in os.listdir(ckpt)} == before


def test_checkpoint_dir_with_foreign_files_is_refused(tmp_path):
  (tmp_path / "notes.txt").write_text("mine")
  with pytest.raises(ValueError, match="not empty"):
    jr.sweep(lambda a: a, jnp.ones(3), checkpoint_dir=tmp_path)


def _run_script(name, *args, **popen):
  env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
             JAX_PLATFORMS="cpu")
  return subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", name), *map(str, args)],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          **popen)


def test_sigkill_midway_then_resume_is_bit_identical(tmp_path):
  ref_proc = _run_script("_sweep_resume.py", tmp_path / "ref", tmp_path / "ref.npz")
  victim = _run_script("_sweep_resume.py", tmp_path / "ckpt", tmp_path / "unused.npz")
  try:
    deadline = time.time() + 120
    while not os.path.exists(tmp_path / "ckpt" / "chunk_00000.npz"):
      assert victim.poll() is None, victim.communicate()
      assert time.time() < deadline, "the sweep never finished a chunk"
      time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
  finally:
    victim.wait()
  assert victim.returncode == -signal.SIGKILL
  saved = sorted(f for f in os.listdir(tmp_path / "ckpt") if f.endswith(".npz"))
  assert 1 <= len(saved) < 4  # killed midway

  resumed = _run_script("_sweep_resume.py", tmp_path / "ckpt", tmp_path / "resumed.npz")
  out, err = resumed.communicate(timeout=120)
  assert resumed.returncode == 0, err
  assert f"computed {4 - len(saved)}" in out  # finished chunks were loaded, not rerun
  ref_out, ref_err = ref_proc.communicate(timeout=120)
  assert ref_proc.returncode == 0, ref_err
  assert "computed 4" in ref_out
  with np.load(tmp_path / "ref.npz") as ref, np.load(tmp_path / "resumed.npz") as got:
    for k in ("w", "losses"):
      np.testing.assert_array_equal(got[k], ref[k])


def test_sharded_over_four_devices(tmp_path):
  proc = _run_script("_sweep_devices.py", tmp_path / "ckpt")
  out, err = proc.communicate(timeout=180)
  assert proc.returncode == 0, err
  r = json.loads(out.strip().splitlines()[-1])
  assert r["n_devices"] == 4
  # 8 α over 4 devices: two rows per device, equal to the one-device sweep
  assert r["n8"]["layout"] == [[0, 0, 2], [1, 2, 4], [2, 4, 6], [3, 6, 8]]
  assert not r["n8"]["replicated"]
  for n in ("n8", "n10"):
    assert r[n]["max_diff_single"] <= 1e-6 and r[n]["max_diff_loop"] <= 1e-6
  assert r["n10"]["shape"] == [10, 5] and r["n10"]["replicated"]
  assert r["mesh"]["layout"] == r["n8"]["layout"] and r["mesh"]["max_diff_single"] <= 1e-6
  assert r["resumed"]["bitwise_equal"] and r["resumed"]["layout"] == r["n8"]["layout"]
  assert r["resumed"]["files"] == ["chunk_00000.npz", "chunk_00001.npz"]
  assert r["collectives"] == 0  # each device trains its own share
