"""benchmarks/accelerator.py runs end to end at smoke sizes, and its agreement checks can fail."""

import importlib.util
import math
import os
import subprocess
import sys
import warnings

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "accelerator.py")


def _run(*args, timeout=240):
  env = dict(os.environ, PYTHONPATH=ROOT)
  return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                        env=env, cwd=ROOT, timeout=timeout)


def _table_rows(text, header="| row "):
  """The data rows of the table whose header starts with ``header``, each a list of cells."""
  lines = text.splitlines()
  start = next(i for i, l in enumerate(lines) if l.startswith(header))
  rows = []
  for l in lines[start + 2:]:
    if not l.startswith("| "):
      break
    rows.append([c.strip() for c in l.strip().strip("|").split(" | ")])
  return rows


@pytest.fixture(scope="module")
def accel():
  spec = importlib.util.spec_from_file_location("accelerator_bench", SCRIPT)
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod


def test_smoke_run_writes_every_row_and_every_check_passes(tmp_path):
  out = tmp_path / "acc.md"
  res = _run("--smoke", "--out", str(out))
  assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
  text = out.read_text()
  assert "device: " in text and "jax " in text and "platform " in text
  rows = _table_rows(text)
  names = [r[0] for r in rows]
  expected = ["digits MLP", "peak device memory, 16-α chunked sweep",
              "fit_batch, 16 elastic nets",
              "lasso (100-α path), 300×20", "cv (5-fold CV, 100 α), 300×20"]
  for e in expected:
    assert any(n.startswith(e) for n in names), (e, names)
  assert len(rows) == len(expected)
  for r in rows:
    assert len(r) == 9, r
    assert r[7].startswith("ok:"), r          # the agreement column
    assert r[5] in ("yes", "no", "n/a"), r    # met?: nothing skipped or failed
  mem = next(r for r in rows if r[0].startswith("peak device memory"))
  assert mem[1] == "n/a (host)" or mem[1].startswith("peak ")
  assert "scaled ×2" in next(r for r in rows if r[0].startswith("fit_batch, 16"))[8]
  assert "all checks passed" in text
  roofline = _table_rows(text, "| step ")
  assert len(roofline) == 3 and all(r[1] == "4" and float(r[2]) > 0 for r in roofline), roofline
  assert not list(tmp_path.glob(".acc.md.*"))  # the temporary file was renamed away


def test_a_planted_wrong_alpha_trips_the_agreement_check(accel, tmp_path):
  out = tmp_path / "planted.md"
  with warnings.catch_warnings():  # main() silences warnings, as a script may
    status = accel.main(["--smoke", "--rows", "mlp", "--mlp-alphas", "2",
                         "--plant-wrong-alpha", "--out", str(out)])
  assert status == 1
  (row,) = _table_rows(out.read_text())
  assert row[7].startswith("**DISAGREE**"), row
  assert "PLANTED" in row[8]
  assert "1 row(s) FAILED" in out.read_text()


def test_agreement_rejects_large_and_nan_errors(accel):
  assert accel.agreement(1e-9, 1e-6, "gap")[0]
  assert accel.agreement(1e-6, 1e-6, "gap")[0]
  ok, text = accel.agreement(2e-6, 1e-6, "gap")
  assert not ok and "DISAGREE" in text
  assert not accel.agreement(math.nan, 1.0, "gap")[0]
  assert not accel.agreement(math.inf, 1.0, "gap")[0]


def test_param_error_sees_one_changed_leaf(accel):
  import jax.numpy as jnp
  a = {"w": jnp.ones((3, 2)), "b": jnp.zeros(2)}
  assert accel.param_error(a, a) == 0.0
  b = {"w": jnp.ones((3, 2)), "b": jnp.array([0.0, 0.5])}
  assert accel.param_error(b, a) == pytest.approx(0.5)
  c = {"w": jnp.ones((3, 2)).at[0, 0].set(jnp.nan), "b": jnp.zeros(2)}
  assert not accel.agreement(accel.param_error(c, a), 1.0, "x")[0]


def test_enet_objective_matches_a_direct_computation(accel):
  import numpy as np
  rng = np.random.default_rng(0)
  Xs, ys = rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 5))
  W, b = rng.normal(size=(2, 3)), rng.normal(size=2)
  got = accel.enet_objective(Xs, ys, W, b, 0.3, 0.25)
  for i in range(2):
    r = ys[i] - Xs[i] @ W[i] - b[i]
    want = r @ r / 10 + 0.3 * (0.25 * np.abs(W[i]).sum() + 0.375 * W[i] @ W[i])
    assert got[i] == pytest.approx(want)
