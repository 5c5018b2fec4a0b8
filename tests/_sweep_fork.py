"""Kills and races checkpointed sweeps; used by tests/test_sweep_checkpoint.py.

Usage:
  python tests/_sweep_fork.py kill WORKDIR N_TRIALS KILLS_PER_TRIAL SEED
  python tests/_sweep_fork.py race WORKDIR N_RACES

Importing jax costs seconds, launching a process per kill would not fit a
test's budget, so this process imports jax and jaxreg once, without starting
a backend, and forks a fresh child for every run: each child starts its own
backend, compiles and sweeps like any new process, and is killed with
SIGKILL at a random moment or raced against another child. Results go to
.npz files; one JSON object of observations is printed for the test.
"""

import json
import os
import random
import signal
import socket
import sys
import time
import traceback

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxreg as jr

N_ALPHAS, CHUNK = 64, 1  # many small chunks: most of a sweep is writing chunks


def train(pen, w0, X, y):
  lr = 0.1
  tx = optax.chain(optax.sgd(lr), jr.proximal(pen, lr))
  loss = lambda w: 0.5 * jnp.mean((X @ w - y) ** 2)

  def step(carry, _):
    w, s = carry
    g = jax.grad(loss)(w)
    u, s = tx.update(g, s, w)
    return (optax.apply_updates(w, u), s), loss(w)

  (w, _), losses = jax.lax.scan(step, (w0, tx.init(w0)), None, 30)
  return {"w": w, "losses": losses, "nonzero": jnp.sum(w != 0)}


def problem(shift=0.0):
  # NumPy data: building it with jax.random would compile several programs
  # in every child.
  rng = np.random.default_rng(0)
  X = rng.normal(size=(40, 6)).astype(np.float32)
  y = (X @ np.arange(6.0) + 0.1 * rng.normal(size=40)).astype(np.float32)
  w0 = (0.1 * rng.normal(size=6)).astype(np.float32)
  return jr.L1(np.logspace(-3, 0, N_ALPHAS).astype(np.float32) + shift), w0, X, y


def run(ckpt, out, shift=0.0, ready=None, go=None):
  """Child body: one sweep (into ``ckpt`` if given), result saved to ``out``."""
  pens, kw, X, y = problem(shift)
  jnp.zeros(1).block_until_ready()  # backend up before any race starts
  if go is not None:
    os.write(ready, b"r")
    os.read(go, 1)
  t0 = time.time()
  before = 0 if ckpt is None or not os.path.isdir(ckpt) else len(
      [f for f in os.listdir(ckpt) if f.startswith("chunk_")])
  with open(out + ".start", "w") as f:
    f.write(repr(t0))
  try:
    res = jr.sweep(train, pens, kw, X, y, chunk_size=CHUNK, checkpoint_dir=ckpt)
    res = jax.tree_util.tree_map(np.asarray, res)
    np.savez(out, **res)
    info = {"ok": True, "loaded": before, "seconds": time.time() - t0, "shift": shift}
  except Exception as e:  # reported to the parent, which judges it
    info = {"ok": False, "shift": shift, "error": type(e).__name__, "message": str(e),
            "trace": traceback.format_exc()}
  with open(out + ".json", "w") as f:
    json.dump(info, f)


def fork(body, *args, **kwargs):
  pid = os.fork()
  if pid == 0:
    code = 0
    try:
      body(*args, **kwargs)
    except BaseException:  # pylint: disable=broad-except
      traceback.print_exc()
      code = 1
    finally:
      os._exit(code)
  return pid


def wait(pid):
  _, status = os.waitpid(pid, 0)
  return os.waitstatus_to_exitcode(status)


def chunk_files(d):
  if not os.path.isdir(d):
    return 0, 0
  names = os.listdir(d)
  return (len([f for f in names if f.startswith("chunk_")]),
          len([f for f in names if f.endswith(".tmp")]))


def kill_trial(work, t, plan):
  """Kills a sweep as ``plan`` says, then lets a last run finish; writes what
  it saw to trial{t}.json.

  A plan entry ("start", s) kills s seconds after the child starts; ("chunks",
  (f, s)) kills s seconds after the child's chunk count reached a fraction f
  of what it has left to write. Counting chunks instead of timing them puts
  the kill where chunks are being written however loaded the machine is (a
  timed kill lands after the last chunk whenever the writing runs faster
  than the reference's); s, under one chunk's writing time, lets some kills
  tear a file mid-write.
  """
  d = os.path.join(work, f"trial{t}")
  kills = []
  total = N_ALPHAS // CHUNK
  for when, at in plan:
    before = chunk_files(d)[0]
    if when == "chunks" and before == total:  # nothing left to write
      when, at = "start", at[1]
    if when == "chunks":  # a chunk count strictly inside what is left to write
      frac, at = at
      target = min(total - 1, before + 1 + int(frac * (total - before - 1)))
    else:
      target = None
    pid = fork(run, d, os.path.join(work, f"unused{t}.npz"))
    code = None
    if when == "chunks":
      deadline = time.time() + 60
      while chunk_files(d)[0] < target and time.time() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:  # ended (or died) before writing a chunk: no kill to make
          code = os.waitstatus_to_exitcode(status)
          break
        time.sleep(0.0005)
    if code is None:
      time.sleep(at)
      os.kill(pid, signal.SIGKILL)
      code = wait(pid)
    chunks, tmps = chunk_files(d)
    kills.append({"when": when, "at": at, "code": code, "chunks_before": before,
                  "chunks": chunks, "tmp_files": tmps})
  out = os.path.join(work, f"trial{t}.npz")
  code = wait(fork(run, d, out))
  with open(out + ".json") as f:
    info = json.load(f)
  with open(os.path.join(work, f"trial{t}.json"), "w") as f:
    json.dump({"kills": kills, "code": code, **info, "out": out,
               "left": sorted(os.listdir(d))}, f)


def kill_mode(work, n_trials, n_kills, seed):
  rng = random.Random(seed)
  plain = os.path.join(work, "plain.npz")
  assert wait(fork(run, None, plain)) == 0  # also fills the compilation cache
  ref = os.path.join(work, "ref")
  t0 = time.time()
  assert wait(fork(run, ref, ref + ".npz")) == 0
  duration = time.time() - t0  # a whole child: start, trace, load program, 64 chunks
  stamps = sorted(os.stat(os.path.join(ref, f)).st_mtime for f in os.listdir(ref)
                  if f.startswith("chunk_"))
  writing = stamps[-1] - stamps[0]  # from the first chunk file to the last
  # Most kills fall while chunks are being written, where a kill can tear a
  # file; the others anywhere in a child's life (start, trace, manifest).
  one_chunk = writing / (N_ALPHAS // CHUNK - 1)
  plan = [[("chunks", (rng.uniform(0.0, 0.7), rng.uniform(0.0, one_chunk)))
           if rng.random() < 0.8 else ("start", rng.uniform(0.0, duration))
           for _ in range(n_kills)]
          for _ in range(n_trials)]  # killed n_kills times, then finished
  running = []
  for t in range(n_trials):  # two trials at a time, one per core
    running.append(fork(kill_trial, work, t, plan[t]))
    if len(running) == 2:
      assert wait(running.pop(0)) == 0
  for pid in running:
    assert wait(pid) == 0
  trials = []
  for t in range(n_trials):
    with open(os.path.join(work, f"trial{t}.json")) as f:
      trials.append(json.load(f))
  print(json.dumps({"duration": duration, "writing": writing, "ref": ref + ".npz",
                    "plain": plain, "trials": trials}))


def race_mode(work, n_races):
  refs = []
  for shift in (0.0, 1.0):  # two different sweeps, each run alone
    out = os.path.join(work, f"alone{shift}.npz")
    assert wait(fork(run, os.path.join(work, f"alone{shift}"), out, shift)) == 0
    refs.append(out)
  races = []
  for r in range(n_races):
    d = os.path.join(work, f"race{r}")
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pids, outs = [], []
    for shift in ((0.0, 1.0) if r % 2 == 0 else (1.0, 0.0)):  # either forked first
      outs.append(os.path.join(work, f"race{r}_{shift}.npz"))
      pids.append(fork(run, d, outs[-1], shift, ready_w, go_r))
    for _ in pids:
      os.read(ready_r, 1)
    os.write(go_w, b"gg")  # both start at the same moment
    codes = [wait(p) for p in pids]
    for fd in (ready_r, ready_w, go_r, go_w):
      os.close(fd)
    results = []
    for pid, out in zip(pids, outs):
      with open(out + ".json") as f:
        results.append({"pid": pid, "out": out, **json.load(f)})
    races.append({"codes": codes, "results": results, "dir": d})
  print(json.dumps({"host": socket.gethostname(), "refs": refs, "races": races}))


if __name__ == "__main__":
  mode, work = sys.argv[1], sys.argv[2]
  # Children load the compiled sweep from disk instead of compiling it again.
  jax.config.update("jax_compilation_cache_dir", os.path.join(work, "xla_cache"))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  if mode == "kill":
    kill_mode(work, int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
  else:
    race_mode(work, int(sys.argv[3]))
