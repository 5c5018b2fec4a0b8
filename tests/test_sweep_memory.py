"""jr.sweep(chunk_size="auto") and jr.plan_sweep: the largest chunk that fits a memory budget."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxreg as jr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _ridge(a, M):   # factors one p × p matrix per α: a visible per-item footprint
  p = M.shape[0]
  return jnp.linalg.solve(M.T @ M / p + a * jnp.eye(p, dtype=M.dtype), M[0])


@pytest.fixture(scope="module")
def M():
  return jax.device_put(np.random.default_rng(0).normal(size=(64, 64)).astype(np.float32))


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc")
def test_auto_sweep_of_1024_alphas_stays_within_its_budget_where_a_bigger_chunk_does_not():
  """Measured, not predicted: the peak resident memory of the sweep's process."""
  budget = 24 * 2**20
  env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
             JAX_PLATFORMS="cpu", MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="0")
  proc = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "_sweep_memory.py"),
                         str(budget)], env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  r = json.loads(proc.stdout.strip().splitlines()[-1])
  # Without chunks the 1024 factorisations would hold 1024 × 256 KiB = 256 MiB.
  assert 1 < r["chunk"] < 1024 and r["n_chunks"] == -(-1024 // r["chunk"])
  assert r["predicted_peak"] <= budget
  assert r["auto_peak"] <= budget, r
  # The measurement can fail: four times the chosen chunk goes over the budget.
  assert r["big_peak"] > budget, r
  assert r["max_rel_err"] < 1e-4


def test_auto_gives_the_fixed_chunk_results_and_plan_sweep_says_which(M):
  alphas = jax.device_put(np.linspace(0.5, 2.0, 37).astype(np.float32))
  budget = 512 * 2**10
  plan = jr.plan_sweep(_ridge, alphas, M, memory_budget=budget)
  assert isinstance(plan, jr.SweepPlan)
  assert 1 < plan.chunk_size < 37 and plan.n_chunks == -(-37 // plan.chunk_size)
  assert plan.peak_bytes <= 0.9 * budget and plan.budget_bytes == budget
  auto = jr.sweep(_ridge, alphas, M, chunk_size="auto", memory_budget=budget)
  fixed = jr.sweep(_ridge, alphas, M, chunk_size=plan.chunk_size)
  np.testing.assert_array_equal(np.asarray(auto), np.asarray(fixed))
  # A larger budget never picks a smaller chunk; a huge one runs one chunk.
  bigger = jr.plan_sweep(_ridge, alphas, M, memory_budget=4 * budget)
  assert bigger.chunk_size >= plan.chunk_size
  whole = jr.plan_sweep(_ridge, alphas, M, memory_budget=2**34)
  assert (whole.chunk_size, whole.n_chunks) == (37, 1)


def test_auto_without_a_budget_uses_the_hosts_memory(M):
  alphas = jnp.linspace(0.5, 2.0, 9)
  plan = jr.plan_sweep(_ridge, alphas, M)
  assert plan.chunk_size == 9   # a few MiB fit any host
  out = jr.sweep(_ridge, alphas, M, chunk_size="auto")
  assert out.shape == (9, 64)


def test_auto_over_devices_plans_per_device(M):
  alphas = jnp.linspace(0.5, 2.0, 16)
  devices = jax.devices()
  plan = jr.plan_sweep(_ridge, alphas, M, devices=devices, memory_budget=400 * 2**10)
  assert plan.chunk_size % len(devices) == 0 or plan.chunk_size == 16
  out = jr.sweep(_ridge, alphas, M, chunk_size="auto", devices=devices,
                 memory_budget=400 * 2**10)
  np.testing.assert_allclose(np.asarray(out), np.asarray(jr.sweep(_ridge, alphas, M)),
                             rtol=1e-5, atol=1e-6)


def test_a_budget_below_one_item_is_a_named_error(M):
  with pytest.raises(ValueError, match="memory_budget"):
    jr.sweep(_ridge, jnp.linspace(0.5, 2.0, 8), M, chunk_size="auto", memory_budget=1024)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"chunk_size": "big"}, ValueError, "chunk_size"),
    ({"chunk_size": 4, "memory_budget": 2**20}, ValueError, "memory_budget"),
    ({"chunk_size": "auto", "memory_budget": -5}, ValueError, "memory_budget"),
    ({"chunk_size": "auto", "memory_budget": 1.5e6}, TypeError, "memory_budget"),
    ({"chunk_size": "auto", "memory_budget": True}, TypeError, "memory_budget"),
])
def test_bad_chunk_and_budget_arguments(kwargs, error, words):
  with pytest.raises(error, match=words):
    jr.sweep(lambda a: a * 2, jnp.arange(4.0), **kwargs)


def test_auto_resumes_a_checkpoint_with_the_chunk_it_was_started_with(M, tmp_path):
  alphas = jax.device_put(np.linspace(0.5, 2.0, 20).astype(np.float32))
  small = jr.plan_sweep(_ridge, alphas, M, memory_budget=300 * 2**10).chunk_size
  first = jr.sweep(_ridge, alphas, M, chunk_size="auto", memory_budget=300 * 2**10,
                   checkpoint_dir=tmp_path)
  assert small < 20
  with open(tmp_path / "manifest.json", encoding="utf-8") as f:
    assert json.load(f)["chunk_size"] == small
  # A rerun with room for everything keeps the directory's chunks and loads them.
  again = jr.sweep(_ridge, alphas, M, chunk_size="auto", memory_budget=2**34,
                   checkpoint_dir=tmp_path)
  np.testing.assert_array_equal(np.asarray(first), np.asarray(again))
