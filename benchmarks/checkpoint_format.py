"""jr.sweep's chunk files against orbax-checkpoint: speed, files, atomicity.

Run:  python benchmarks/checkpoint_format.py [--rounds R] [--chunks N]

A sweep writes one checkpoint per finished chunk. For chunk outputs of
three sizes (a pytree of two leaves: ~4 KiB, ~1 MiB and ~32 MiB per chunk)
this times, per chunk, in interleaved rounds (median and min):

* **jaxreg**: ``jr.sweep(..., checkpoint_dir=d)`` minus the same sweep
  without a directory (the cost of saving), and the rerun that loads every
  chunk (the cost of resuming). Each chunk is one ``.npz`` with an identity
  record and a sha256, written to a temporary file and ``os.replace``-d.
* **orbax**: the same chunk outputs saved one checkpoint per chunk with
  ``orbax.checkpoint.StandardCheckpointer`` (``save`` then
  ``wait_until_finished``, as a resumable loop must before it counts a
  chunk as done) and restored with ``restore``.

It also counts the files each leaves on disk. orbax-checkpoint is not a
jaxreg dependency: ``pip install orbax-checkpoint`` to run this.
"""

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time

import jax
import jax.numpy as jnp

import jaxreg as jr

SIZES = {"4 KiB": 512, "1 MiB": 131072, "32 MiB": 4194304}  # float64 values per chunk


def make_fn(values_per_item):
  def fn(a):
    return {"w": a * jnp.ones(values_per_item // 2), "loss": jnp.full(values_per_item // 2, a)}
  return fn


def files_under(d):
  return sum(len(fs) for _, _, fs in os.walk(d))


def time_jaxreg(fn, alphas, chunk, work):
  d = tempfile.mkdtemp(dir=work)
  t0 = time.perf_counter()
  jax.block_until_ready(jr.sweep(fn, alphas, chunk_size=chunk))
  plain = time.perf_counter() - t0
  t0 = time.perf_counter()
  jax.block_until_ready(jr.sweep(fn, alphas, chunk_size=chunk, checkpoint_dir=d))
  saving = time.perf_counter() - t0
  t0 = time.perf_counter()
  jax.block_until_ready(jr.sweep(fn, alphas, chunk_size=chunk, checkpoint_dir=d))
  loading = time.perf_counter() - t0
  n_files = files_under(d)
  shutil.rmtree(d)
  return saving - plain, loading, n_files


def time_orbax(ocp, fn, alphas, chunk, work):
  d = tempfile.mkdtemp(dir=work)
  n = alphas.shape[0] // chunk
  outs = [jax.block_until_ready(jr.sweep(fn, alphas[i * chunk:(i + 1) * chunk]))
          for i in range(n)]
  ckpt = ocp.StandardCheckpointer()
  t0 = time.perf_counter()
  for i, out in enumerate(outs):
    ckpt.save(os.path.join(d, f"chunk_{i:05d}"), out)
    ckpt.wait_until_finished()
  saving = time.perf_counter() - t0
  t0 = time.perf_counter()
  for i, out in enumerate(outs):
    jax.block_until_ready(ckpt.restore(os.path.join(d, f"chunk_{i:05d}"), out))
  loading = time.perf_counter() - t0
  n_files = files_under(d)
  ckpt.close()
  shutil.rmtree(d)
  return saving, loading, n_files


def main():
  ap = argparse.ArgumentParser(description=__doc__,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--rounds", type=int, default=5)
  ap.add_argument("--chunks", type=int, default=16)
  args = ap.parse_args()
  import orbax.checkpoint as ocp  # pylint: disable=import-outside-toplevel
  jax.config.update("jax_enable_x64", True)
  work = tempfile.mkdtemp()
  chunk = 4
  alphas = jnp.linspace(0.1, 1.0, chunk * args.chunks)
  print(f"# jaxreg chunk files vs orbax-checkpoint, {time.strftime('%Y-%m-%d')}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.1f}; jax {jax.__version__}, "
        f"orbax-checkpoint {ocp.__version__ if hasattr(ocp, '__version__') else '?'}; "
        f"{args.chunks} chunks of {chunk} items, {args.rounds} interleaved rounds")
  print("| chunk output | jaxreg save / chunk (median, min) | orbax save / chunk | "
        "jaxreg load / chunk | orbax load / chunk | files per chunk jaxreg / orbax |")
  print("| --- | --- | --- | --- | --- | --- |")
  try:
    for label, values in SIZES.items():
      fn = make_fn(values // chunk)
      res = {"jaxreg": [], "orbax": []}
      files = {}
      time_jaxreg(fn, alphas, chunk, work)      # compile
      time_orbax(ocp, fn, alphas, chunk, work)  # warm up orbax's threads
      for r in range(args.rounds):
        order = ["jaxreg", "orbax"] if r % 2 == 0 else ["orbax", "jaxreg"]
        for who in order:
          s, l, f = (time_jaxreg(fn, alphas, chunk, work) if who == "jaxreg"
                     else time_orbax(ocp, fn, alphas, chunk, work))
          res[who].append((s / args.chunks, l / args.chunks))
          files[who] = f / args.chunks
      cell = lambda who, k: (f"{1e3 * statistics.median(x[k] for x in res[who]):.2f} ms, "
                             f"{1e3 * min(x[k] for x in res[who]):.2f} ms")
      print(f"| {label} | {cell('jaxreg', 0)} | {cell('orbax', 0)} | {cell('jaxreg', 1)} | "
            f"{cell('orbax', 1)} | {files['jaxreg']:.2f} / {files['orbax']:.1f} |")
  finally:
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
  main()
