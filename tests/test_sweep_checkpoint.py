"""Checkpoints of jr.sweep under kills, damage, races and changed functions.

Every outcome must be either bit-identical to an uninterrupted run of the
same sweep or a ValueError that names the file or the directory (and the
holder, for a directory in use) — never another sweep's rows. Oracles: an
uninterrupted run in a fresh directory, a run without checkpoints, NumPy's
own reading of the files, the kernel's process table (who holds the lock).
"""

import functools
import importlib.util
import json
import os
import random
import shutil
import socket
import subprocess
import sys

import hypothesis
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxreg as jr

try:
  import fcntl
except ImportError:  # pragma: no cover - Windows
  fcntl = None

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
needs_fork = pytest.mark.skipif(not hasattr(os, "fork") or fcntl is None,
                                reason="needs fork and flock (POSIX)")


def _helper(name, *args, timeout=240):
  """Runs tests/<name> in a fresh Python (another hash seed, other addresses)."""
  env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
             JAX_PLATFORMS="cpu", PYTHONHASHSEED="12345")
  proc = subprocess.run([sys.executable, os.path.join(ROOT, "tests", name), *map(str, args)],
                        env=env, capture_output=True, text=True, timeout=timeout)
  assert proc.returncode == 0, proc.stderr[-4000:]
  return json.loads(proc.stdout.strip().splitlines()[-1])


def _npz(path):
  with np.load(path, allow_pickle=False) as data:
    return {k: data[k] for k in data.files}


def _assert_bitwise(a, b):
  """Same keys, dtypes, shapes and bits."""
  assert sorted(a) == sorted(b)
  for k in a:
    assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
    assert a[k].tobytes() == b[k].tobytes(), k


def _tree_bitwise(a, b):
  la, ta = jax.tree_util.tree_flatten(a)
  lb, tb = jax.tree_util.tree_flatten(b)
  assert ta == tb
  for x, y in zip(la, lb):
    x, y = np.asarray(x), np.asarray(y)
    assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


# --- SIGKILL at random times --------------------------------------------------------


@needs_fork
def test_sigkill_at_random_times_then_resume_is_bit_identical(tmp_path):
  seed = random.randrange(2**32)
  r = _helper("_sweep_fork.py", "kill", tmp_path, 4, 3, seed)
  where = f"(seed {seed}; {json.dumps(r['trials'])[:3000]})"
  ref, plain = _npz(r["ref"]), _npz(r["plain"])
  _assert_bitwise(ref, plain)  # checkpointing changes no bit
  kills = [k for t in r["trials"] for k in t["kills"]]
  killed = [k for k in kills if k["code"] == -9]
  assert len(killed) >= 10, where
  # kills that fell while chunks were being written (some file, not all)
  midway = [k for k in killed if k["tmp_files"] or 0 < k["chunks"] < 64]
  assert len(midway) >= 4, where
  for t in r["trials"]:
    assert t["code"] == 0 and t["ok"], (t, where)
    _assert_bitwise(_npz(t["out"]), ref)
    assert t["loaded"] == t["kills"][-1]["chunks"], where  # finished chunks not rerun
    assert t["left"] == sorted([".lock", "manifest.json"]
                               + [f"chunk_{i:05d}.npz" for i in range(64)]), where
  # This process (another PYTHONHASHSEED, other addresses) identifies the
  # same sweep, an optax training loop, by the same program: it loads it all.
  sys.path.insert(0, os.path.join(ROOT, "tests"))
  try:
    import _sweep_fork  # pylint: disable=import-outside-toplevel
  finally:
    sys.path.pop(0)
  pens, w0, X, y = _sweep_fork.problem()
  ckpt = os.path.join(os.path.dirname(r["ref"]), "ref")
  stamps = {f: os.stat(os.path.join(ckpt, f)).st_mtime_ns for f in os.listdir(ckpt)}
  out = jr.sweep(_sweep_fork.train, pens, w0, X, y, chunk_size=_sweep_fork.CHUNK,
                 checkpoint_dir=ckpt)
  _assert_bitwise(jax.tree_util.tree_map(np.asarray, out), ref)
  assert {f: os.stat(os.path.join(ckpt, f)).st_mtime_ns for f in stamps if f != ".lock"} \
      == {f: t for f, t in stamps.items() if f != ".lock"}  # nothing recomputed


# --- two sweeps, one directory ----------------------------------------------------------


@needs_fork
def test_two_sweeps_started_together_one_runs_the_other_names_the_holder(tmp_path):
  r = _helper("_sweep_fork.py", "race", tmp_path, 3)
  alone = {0.0: _npz(r["refs"][0]), 1.0: _npz(r["refs"][1])}
  assert alone[0.0]["w"].tobytes() != alone[1.0]["w"].tobytes()  # different sweeps
  host = socket.gethostname()
  assert r["host"] == host
  for race in r["races"]:
    winners = [x for x in race["results"] if x["ok"]]
    losers = [x for x in race["results"] if not x["ok"]]
    assert race["codes"] == [0, 0] and len(winners) == 1 and len(losers) == 1, race
    win, lose = winners[0], losers[0]
    assert lose["error"] == "ValueError", lose
    assert "in use by another sweep" in lose["message"], lose
    assert f"pid {win['pid']} on host {host}" in lose["message"], (lose, win)
    _assert_bitwise(_npz(win["out"]), alone[win["shift"]])
    # the directory holds the winner's whole sweep and nothing of the loser's:
    # every chunk file is the winner's, by NumPy's reading of the files
    manifest = json.loads(open(os.path.join(race["dir"], "manifest.json")).read())
    rows = []
    for i in range(64):
      chunk = _npz(os.path.join(race["dir"], f"chunk_{i:05d}.npz"))
      assert json.loads(chunk["meta"].tobytes())["sweep"] == manifest["sweep_id"]
      rows.append(chunk["leaf_2"])  # leaves in key order: losses, nonzero, w
    assert np.concatenate(rows).tobytes() == alone[win["shift"]]["w"].tobytes()


def _f(a, x):
  return {"y": jnp.sin(a * x) * 3.0, "n": jnp.sum(a * x > 0).astype(jnp.int32)}


ALPHAS = jnp.linspace(0.5, 2.0, 7)
X = jnp.array([1.0, -2.0, 0.5])


def _run(ckpt, fn=_f, alphas=ALPHAS, **kw):
  return jr.sweep(fn, alphas, X, chunk_size=2, checkpoint_dir=ckpt, **kw)


@pytest.mark.skipif(fcntl is None, reason="needs flock")
def test_directory_in_use_names_the_holder_and_frees_on_release(tmp_path):
  ckpt = tmp_path / "run"
  ckpt.mkdir()
  record = {"pid": os.getpid(), "host": socket.gethostname(), "since": "then"}
  with open(ckpt / ".lock", "w") as holder:
    holder.write(json.dumps(record))
    holder.flush()
    fcntl.flock(holder.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    with pytest.raises(ValueError, match=f"in use by another sweep .pid {os.getpid()} "
                       f"on host {socket.gethostname()}"):
      _run(ckpt)
  assert os.listdir(ckpt) == [".lock"]  # the loser wrote nothing
  # released (or its holder died): the record left behind does not block
  _tree_bitwise(_run(ckpt), jr.sweep(_f, ALPHAS, X, chunk_size=2))


# --- damaged, swapped, shortened chunk files -----------------------------------------------


@pytest.fixture
def finished(tmp_path):
  """A finished 4-chunk sweep (rows 2, 2, 2, 1) and its uninterrupted result."""
  ckpt = tmp_path / "run"
  ref = jr.sweep(_f, ALPHAS, X, chunk_size=2)
  _tree_bitwise(_run(ckpt), ref)
  return ckpt, ref


def _chunk(ckpt, i):
  return ckpt / f"chunk_{i:05d}.npz"


def _rewrite(path, **changes):
  """Rewrites an npz with some arrays (or the identity record) changed."""
  data = _npz(path)
  meta = json.loads(data["meta"].tobytes())
  meta.update(changes.pop("meta", {}))
  data.update(changes)
  data["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
  np.savez(path, **data)


def _npy_bytes(x):
  import io
  buf = io.BytesIO()
  np.save(buf, x)
  return buf.getvalue()


def _other_sweep_chunk(ckpt, tmp):
  _run(tmp / "other", alphas=ALPHAS + 1.0)  # same shapes, other values
  shutil.copy(_chunk(tmp / "other", 1), _chunk(ckpt, 1))


DAMAGE = {
    "truncated": lambda c, t: _chunk(c, 1).write_bytes(_chunk(c, 1).read_bytes()[:300]),
    "empty": lambda c, t: _chunk(c, 1).write_bytes(b""),
    "garbage": lambda c, t: _chunk(c, 1).write_bytes(np.random.default_rng(0).bytes(900)),
    "pickle": lambda c, t: _chunk(c, 1).write_bytes(b"\x80\x04\x95" + b"x" * 60),
    "object_array": lambda c, t: _rewrite(_chunk(c, 1), leaf_0=np.array([{}], dtype=object)),
    "npy_not_npz": lambda c, t: _chunk(c, 1).write_bytes(_npy_bytes(np.zeros((2, 3)))),
    "no_identity": lambda c, t: np.savez(_chunk(c, 1), leaf_0=np.zeros((2, 3), np.float32),
                                         leaf_1=np.zeros(2, np.int32)),
    "swapped": lambda c, t: (os.replace(_chunk(c, 1), t / "x"),
                             os.replace(_chunk(c, 2), _chunk(c, 1)),
                             os.replace(t / "x", _chunk(c, 2))),
    "shorter_copied": lambda c, t: shutil.copy(_chunk(c, 3), _chunk(c, 1)),
    "shortened_rows": lambda c, t: _rewrite(
        _chunk(c, 1), leaf_0=_npz(_chunk(c, 1))["leaf_0"][:1],
        leaf_1=_npz(_chunk(c, 1))["leaf_1"][:1], meta={"rows": 1}),
    "shortened_data": lambda c, t: _rewrite(
        _chunk(c, 1), leaf_0=_npz(_chunk(c, 1))["leaf_0"][:1]),
    "altered": lambda c, t: _rewrite(_chunk(c, 1), leaf_0=_npz(_chunk(c, 1))["leaf_0"] + 1),
    "other_sweep": _other_sweep_chunk,
}
WORDS = {
    "truncated": "unreadable", "empty": "unreadable", "garbage": "unreadable",
    "pickle": "unreadable", "object_array": "unreadable", "npy_not_npz": "not an .npz",
    "no_identity": "no identity record", "swapped": "holds chunk 2, not chunk 1",
    "shorter_copied": "holds chunk 3, not chunk 1", "shortened_rows": "holds 1 rows",
    "shortened_data": "leaf 0 has shape", "altered": "checksum",
    "other_sweep": "another sweep",
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_chunk_file_is_a_named_error_then_recomputed(finished, tmp_path, damage):
  ckpt, ref = finished
  DAMAGE[damage](ckpt, tmp_path)
  path = str(_chunk(ckpt, 1))
  with pytest.raises(ValueError) as err:
    _run(ckpt)
  msg = str(err.value)
  assert repr(path) in msg and WORDS[damage] in msg and "Delete this file" in msg, msg
  os.remove(path)  # what the message says to do
  if damage == "swapped":
    with pytest.raises(ValueError, match="chunk_00002.npz.* holds chunk 1, not chunk 2"):
      _run(ckpt)
    os.remove(_chunk(ckpt, 2))
  _tree_bitwise(_run(ckpt), ref)


@hypothesis.settings(max_examples=50, deadline=None, database=None,
                     suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
@hypothesis.given(st.data())
def test_any_byte_damage_is_bit_identical_or_a_named_error(finished, data):
  ckpt, ref = finished
  i = data.draw(st.integers(0, 3), label="chunk")
  path = _chunk(ckpt, i)
  good = path.read_bytes()
  if data.draw(st.booleans(), label="truncate"):
    bad = good[:data.draw(st.integers(0, len(good) - 1), label="length")]
  else:
    at = data.draw(st.integers(0, len(good) - 1), label="offset")
    bad = good[:at] + bytes([good[at] ^ data.draw(st.integers(1, 255), label="xor")]) \
        + good[at + 1:]
  path.write_bytes(bad)
  try:
    try:
      out = _run(ckpt)
    except ValueError as e:
      assert repr(str(path)) in str(e) and "Delete this file" in str(e), str(e)
    else:
      _tree_bitwise(out, ref)  # a byte the zip format does not read (e.g. a date)
  finally:
    path.write_bytes(good)


# --- a changed function, in separate processes ------------------------------------------------


@needs_fork
def test_changed_function_closure_partial_global_or_source_gets_no_stale_rows(tmp_path):
  r = _helper("_sweep_variants.py", tmp_path)
  before, after = r["before"], r["after"]
  for name in ("lambda", "closure_number", "closure_array", "partial", "global",
               "edited_source"):
    first, same_dir, fresh = before[name], after[name]["same_dir"], after[name]["fresh"]
    assert first["ok"] and fresh["ok"], (name, first, fresh)
    # the change matters: stale rows would be caught by this comparison
    assert _npz(first["out"])["h"].tobytes() != _npz(fresh["out"])["h"].tobytes(), name
    assert not same_dir["ok"] and same_dir["error"] == "ValueError", (name, same_dir)
    assert repr(str(tmp_path / name)) in same_dir["message"], same_dir
    assert "function.program differs" in same_dir["message"], same_dir
    assert "checkpoint_key" in same_dir["message"], same_dir
  assert r["unchanged"]  # refused runs wrote nothing
  # the same computation under another name resumes, bit for bit
  assert after["renamed"]["ok"] and after["renamed"]["chunks"] == 4
  _assert_bitwise(_npz(after["renamed"]["out"]), _npz(before["base"]["out"]))
  # and so does this process (another PYTHONHASHSEED, other addresses): the
  # program's hash is the same from one process to the next
  spec = importlib.util.spec_from_file_location("_sweep_userfn", r["source"])
  user = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(user)
  ckpt = tmp_path / "base"
  stamps = {f: os.stat(ckpt / f).st_mtime_ns for f in os.listdir(ckpt) if f.endswith(".npz")}
  out = jr.sweep(user.base, np.linspace(0.1, 2.0, 10).astype(np.float32),
                 np.linspace(-1.0, 1.0, 3).astype(np.float32), chunk_size=3,
                 checkpoint_dir=ckpt)  # the helper's problem()
  got = jax.tree_util.tree_map(np.asarray, out)
  _assert_bitwise(got, _npz(before["base"]["out"]))
  assert {f: os.stat(ckpt / f).st_mtime_ns for f in stamps} == stamps  # loaded, not rerun


# --- callbacks and checkpoint_key ------------------------------------------------------------

_calls = []


def _host_sin(x):
  _calls.append(1)
  return np.sin(x)


def _with_callback(a, x):
  y = jax.pure_callback(_host_sin, jax.ShapeDtypeStruct(x.shape, x.dtype), a * x,
                        vmap_method="broadcast_all")
  return {"y": y, "n": jnp.sum(y > 0).astype(jnp.int32)}


def test_callback_needs_checkpoint_key_which_then_names_the_sweep(tmp_path):
  ckpt = tmp_path / "run"
  with pytest.raises(ValueError, match="jax.pure_callback.*checkpoint_key"):
    _run(ckpt, _with_callback)
  assert not [f for f in os.listdir(ckpt) if not f.startswith(".")]  # nothing written
  ref = jr.sweep(_with_callback, ALPHAS, X, chunk_size=2)
  first = _run(ckpt, _with_callback, checkpoint_key="sin-v1")
  _tree_bitwise(first, ref)
  _calls.clear()
  _tree_bitwise(_run(ckpt, _with_callback, checkpoint_key="sin-v1"), ref)
  assert not _calls  # every chunk loaded
  with pytest.raises(ValueError, match="function.checkpoint_key differs"):
    _run(ckpt, _with_callback, checkpoint_key="sin-v2")
  with pytest.raises(ValueError, match="jax.pure_callback"):
    _run(ckpt, _with_callback)  # without its key


def test_debug_print_needs_no_key(tmp_path):
  def printed(a, x):
    jax.debug.print("a={}", a)
    return _f(a, x)
  ckpt = tmp_path / "run"
  _tree_bitwise(_run(ckpt, printed), jr.sweep(_f, ALPHAS, X, chunk_size=2))
  _tree_bitwise(_run(ckpt, printed), jr.sweep(_f, ALPHAS, X, chunk_size=2))


def test_checkpoint_key_forces_a_keyless_directory_with_a_warning(tmp_path):
  ckpt = tmp_path / "run"
  first = _run(ckpt)
  changed = lambda a, x: _f(a, x + 0.0 * a + 1e-3)
  with pytest.raises(ValueError, match="function.program differs.*checkpoint_key="):
    _run(ckpt, changed)
  with pytest.warns(RuntimeWarning, match="vouches"):
    forced = _run(ckpt, changed, checkpoint_key="same-thing")
  _tree_bitwise(forced, first)  # the user vouched: the stored rows are used
  with pytest.raises(ValueError, match="function.checkpoint_key differs"):
    _run(ckpt, changed)
  with pytest.raises(ValueError, match="function.checkpoint_key differs"):
    _run(ckpt, changed, checkpoint_key="another")


@pytest.mark.parametrize("kwargs, error, words", [
    ({"checkpoint_key": "k"}, ValueError, "checkpoint_key is given without checkpoint_dir"),
    ({"checkpoint_key": "", "checkpoint_dir": "unused"}, TypeError, "checkpoint_key"),
    ({"checkpoint_key": 3, "checkpoint_dir": "unused"}, TypeError, "checkpoint_key"),
])
def test_bad_checkpoint_key(kwargs, error, words):
  with pytest.raises(error, match=words):
    jr.sweep(_f, ALPHAS, X, **kwargs)


def test_program_hash_covers_constants_and_ignores_rebuilding():
  sweep_mod = sys.modules["jaxreg.sweep"]  # jr.sweep is the function
  def program(fn):
    mapped = jax.jit(jax.vmap(fn, in_axes=(0, None)))
    return sweep_mod._program(mapped.trace(ALPHAS[:2], X).jaxpr, None)
  closure = lambda c: (lambda a, x: a * x + c)
  assert program(closure(np.ones(3, np.float32))) == program(closure(np.ones(3, np.float32)))
  assert program(closure(np.ones(3, np.float32))) != program(
      closure(np.array([1.0, 1.0, 1.0 + 2**-20], np.float32)))  # one ulp-ish apart
  assert program(closure(0.5)) != program(closure(0.5 + 2**-20))
  assert program(functools.partial(lambda a, x, p: a * x ** p, p=2)) != program(
      functools.partial(lambda a, x, p: a * x ** p, p=3))


def test_program_hash_ignores_how_many_checks_were_traced_before():
  # Penalties carry checkify debug checks, whose traced code holds the index
  # of their message in a process-wide registry: the same sweep traced later
  # in a process (a notebook, a test run) must still be the same program.
  sweep_mod = sys.modules["jaxreg.sweep"]
  def fn(pen, w):
    body = lambda c, _: (pen.prox(c, 0.1), None)
    return jax.lax.scan(body, w, None, 3)[0] + jr.L2(pen.alpha)(w)
  def program():
    mapped = jax.jit(jax.vmap(fn, in_axes=(0, None)))
    return sweep_mod._program(mapped.trace(jr.L1(ALPHAS[:2]), X).jaxpr, None)
  before = program()
  for _ in range(3):  # registers more checks in this process
    jax.make_jaxpr(lambda a, w: jr.L1(a).prox(w, 0.2))(1.0, X)
  assert program() == before
  # ...while what the checks guard still counts: another step is another program
  mapped = jax.jit(jax.vmap(lambda pen, w: pen.prox(w, 0.2), in_axes=(0, None)))
  other = sweep_mod._program(mapped.trace(jr.L1(ALPHAS[:2]), X).jaxpr, None)
  mapped = jax.jit(jax.vmap(lambda pen, w: pen.prox(w, 0.1), in_axes=(0, None)))
  assert sweep_mod._program(mapped.trace(jr.L1(ALPHAS[:2]), X).jaxpr, None) != other


# --- files, umask, environment -----------------------------------------------------------


@pytest.mark.parametrize("umask", [0o027, 0o002])
def test_checkpoint_files_follow_the_umask(tmp_path, umask):
  old = os.umask(umask)
  try:
    _run(tmp_path / "run")
  finally:
    os.umask(old)
  for f in os.listdir(tmp_path / "run"):
    mode = os.stat(tmp_path / "run" / f).st_mode & 0o777
    assert mode == 0o666 & ~umask, (f, oct(mode))


def test_resuming_under_another_jax_version_warns(finished):
  ckpt, ref = finished
  manifest = json.loads((ckpt / "manifest.json").read_text())
  manifest["about"]["jax"] = "0.0.1"
  (ckpt / "manifest.json").write_text(json.dumps(manifest))
  with pytest.warns(RuntimeWarning, match="jax 0.0.1"):
    _tree_bitwise(_run(ckpt), ref)


def test_old_format_directory_is_refused(tmp_path):
  ckpt = tmp_path / "run"
  ckpt.mkdir()
  (ckpt / "manifest.json").write_text(json.dumps({"format": "jaxreg.sweep/1"}))
  with pytest.raises(ValueError, match="holds a different sweep.*format differs"):
    _run(ckpt)


def test_float64_bfloat16_int_and_key_arguments_resume_bit_identically(tmp_path, x64):
  def fn(a, key, x):
    noise = jax.random.normal(key, x.shape, jnp.float64)
    y = jnp.sin(a * x) + 1e-3 * noise
    return {"f64": y, "bf16": y.astype(jnp.bfloat16), "i": jnp.argmax(y)}
  alphas = jnp.linspace(0.5, 2.0, 5, dtype=jnp.float64)
  x = jnp.linspace(-1.0, 1.0, 4, dtype=jnp.float64)
  key = jax.random.key(3)
  ref = jr.sweep(fn, alphas, key, x, chunk_size=2)
  assert ref["f64"].dtype == jnp.float64 and ref["bf16"].dtype == jnp.bfloat16
  ckpt = tmp_path / "run"
  _tree_bitwise(jr.sweep(fn, alphas, key, x, chunk_size=2, checkpoint_dir=ckpt), ref)
  os.remove(_chunk(ckpt, 1))
  _tree_bitwise(jr.sweep(fn, alphas, key, x, chunk_size=2, checkpoint_dir=ckpt), ref)
  with pytest.raises(ValueError, match="args.fingerprint"):  # another key
    jr.sweep(fn, alphas, jax.random.key(4), x, chunk_size=2, checkpoint_dir=ckpt)
  # a flipped bit in a bfloat16 row (stored as raw bytes) fails the checksum
  data = _npz(_chunk(ckpt, 0))
  bf = data["leaf_0"].view(np.uint16).copy()
  bf[0, 0] ^= 1
  _rewrite(_chunk(ckpt, 0), leaf_0=bf.view(data["leaf_0"].dtype))
  with pytest.raises(ValueError, match="chunk_00000.npz.* checksum"):
    jr.sweep(fn, alphas, key, x, chunk_size=2, checkpoint_dir=ckpt)
