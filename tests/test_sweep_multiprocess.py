"""jr.sweep across two processes joined by jax.distributed, killed and resumed.

Each run launches fresh Python processes (tests/_sweep_multiprocess.py): two
processes of two CPU devices each, a coordinator on 127.0.0.1 and JAX's
CPU collectives, sweeping over the global 4-device mesh with a checkpoint
directory, against one process holding all four devices.
"""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "tests", "_sweep_multiprocess.py")
N_CHUNKS = 12

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="launches processes joined over loopback TCP")


def _port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _launch(n_proc, ckpt, out):
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  env.update(PYTHONPATH=ROOT + os.pathsep + env.get("PYTHONPATH", ""), JAX_PLATFORMS="cpu")
  port = _port()
  return [subprocess.Popen([sys.executable, WORKER, str(i), str(n_proc), str(port),
                            str(ckpt), str(out)], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
          for i in range(n_proc)]


def _finish(procs, timeout=180):
  for p in procs:
    _, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, err[-4000:]


def _chunks(d):
  if not os.path.isdir(d):
    return {}
  return {f: (st.st_ino, st.st_mtime_ns) for f in os.listdir(d) if f.startswith("chunk_")
          for st in [os.stat(os.path.join(d, f))]}


def _writes(out, pid):
  path = f"{out}.writes{pid}"
  if not os.path.exists(path):
    return []
  with open(path, encoding="utf-8") as f:
    return f.read().split()


def _load(out):
  with np.load(f"{out}.npz") as z:
    return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  """The sweep in one process over its four devices, without checkpoints."""
  out = tmp_path_factory.mktemp("single") / "ref"
  _finish(_launch(1, "-", out))
  with open(f"{out}.json", encoding="utf-8") as f:
    assert json.load(f)["devices"] == 4
  return _load(out)


def _assert_equal(got, ref):
  assert got.keys() == ref.keys()
  for k in ref:
    np.testing.assert_array_equal(got[k], ref[k], err_msg=k)


def test_two_processes_equal_one_process_and_process_0_writes_each_chunk_once(
    reference, tmp_path):
  ckpt, out = tmp_path / "ckpt", tmp_path / "two"
  _finish(_launch(2, ckpt, out))
  with open(f"{out}.json", encoding="utf-8") as f:
    info = json.load(f)
  assert (info["process_count"], info["devices"], info["local_devices"]) == (2, 4, 2)
  assert 1 < info["auto_chunk"] < 48   # chunk_size="auto" chunked, the same on both
  _assert_equal(_load(out), reference)
  names = [f"chunk_{i:05d}.npz" for i in range(N_CHUNKS)]
  assert sorted(_chunks(ckpt)) == names
  assert sorted(f for f in _writes(out, 0) if f.startswith("chunk_")) == names
  assert _writes(out, 1) == []  # one writer
  assert not [f for f in os.listdir(ckpt) if f.endswith(".tmp")]
  # A rerun of both processes loads every chunk and writes nothing.
  again = tmp_path / "again"
  _finish(_launch(2, ckpt, again))
  _assert_equal(_load(again), reference)
  assert _writes(again, 0) == [] and _writes(again, 1) == []


@pytest.mark.parametrize("victim", [0, 1])
def test_sigkill_one_process_midway_then_both_resume_losing_and_repeating_nothing(
    reference, tmp_path, victim):
  ckpt, out = tmp_path / "ckpt", tmp_path / "killed"
  rng = random.Random()
  target = rng.randrange(2, N_CHUNKS - 2)  # strictly inside the sweep
  procs = _launch(2, ckpt, out)
  deadline = time.time() + 120
  while len(_chunks(ckpt)) < target and time.time() < deadline:
    assert all(p.poll() is None for p in procs), "a process ended before the kill"
    time.sleep(0.0005)
  time.sleep(rng.uniform(0.0, 0.02))  # sometimes inside a chunk's write
  procs[victim].send_signal(signal.SIGKILL)
  procs[victim].wait()
  # The survivor is left waiting on a collective with a dead peer (or dies of
  # it): it is killed too, as a cluster's scheduler would.
  try:
    procs[1 - victim].wait(timeout=3)
  except subprocess.TimeoutExpired:
    procs[1 - victim].send_signal(signal.SIGKILL)
    procs[1 - victim].wait()
  for p in procs:
    p.communicate()
  kept = _chunks(ckpt)
  assert target <= len(kept) < N_CHUNKS, f"the kill landed outside the sweep ({len(kept)})"
  written_before = _writes(out, 0)
  assert sorted(f for f in written_before if f.startswith("chunk_")) == sorted(kept)
  assert _writes(out, 1) == []

  resumed = tmp_path / "resumed"
  _finish(_launch(2, ckpt, resumed))
  _assert_equal(_load(resumed), reference)
  with open(f"{resumed}.json", encoding="utf-8") as f:
    assert json.load(f)["chunks_before"] == sorted(kept)
  now = _chunks(ckpt)
  assert len(now) == N_CHUNKS
  # Nothing lost, nothing written twice: every chunk kept from the killed run
  # is the same file, untouched, and the rerun wrote exactly the others.
  assert {f: now[f] for f in kept} == kept
  new = [f for f in _writes(resumed, 0) if f.startswith("chunk_")]
  assert sorted(new) == sorted(set(now) - set(kept))
  assert _writes(resumed, 1) == []
  assert not [f for f in os.listdir(ckpt) if f.endswith(".tmp")]
