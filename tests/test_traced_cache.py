"""Traced programs kept on disk: reused by a later process, never stale, never fatal."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxreg import _traced_cache

pytest.importorskip("flatbuffers")


@jax.jit
def _affine(x, a):
  return {"y": a * x + 1.0}


@pytest.fixture
def folder(tmp_path, monkeypatch):
  monkeypatch.setattr(_traced_cache, "_directory", lambda: str(tmp_path))
  monkeypatch.setattr(_traced_cache, "_loaded", {})
  return tmp_path


def _files(folder):
  return sorted(f for f in os.listdir(folder) if f.endswith(".jaxexport"))


def test_concrete_arguments_go_through_a_file_and_give_the_same_result(folder):
  x = jnp.arange(4.0)
  out = _traced_cache.call("affine", _affine, (x, jnp.asarray(2.0)), {})
  np.testing.assert_array_equal(out["y"], _affine(x, 2.0)["y"])
  assert len(_files(folder)) == 1
  # Another shape or dtype is another program; the same one is not written twice.
  _traced_cache.call("affine", _affine, (jnp.arange(5.0), jnp.asarray(2.0)), {})
  _traced_cache.call("affine", _affine, (x, jnp.asarray(3.0)), {})
  assert len(_files(folder)) == 2


def test_tracers_use_the_callers_transformation(folder):
  f = jax.jit(lambda x: _traced_cache.call("affine", _affine, (x, jnp.asarray(2.0)), {})["y"])
  np.testing.assert_array_equal(f(jnp.ones(3)), 3.0 * np.ones(3))
  g = jax.vmap(lambda x: _traced_cache.call("affine", _affine, (x, jnp.asarray(2.0)), {})["y"])
  np.testing.assert_array_equal(g(jnp.ones((2, 3))), 3.0 * np.ones((2, 3)))
  assert _files(folder) == []


def test_a_corrupt_file_is_rebuilt(folder):
  x = jnp.arange(4.0)
  _traced_cache.call("affine", _affine, (x, jnp.asarray(2.0)), {})
  (name,) = _files(folder)
  (folder / name).write_bytes(b"not a program")
  _traced_cache._loaded.clear()
  out = _traced_cache.call("affine", _affine, (x, jnp.asarray(2.0)), {})
  np.testing.assert_array_equal(out["y"], 2.0 * np.arange(4.0) + 1.0)
  assert (folder / name).stat().st_size > 100
  assert not [f for f in os.listdir(folder) if f.endswith(".tmp")]


def test_the_key_covers_jaxreg_source_and_static_arguments(folder, monkeypatch):
  x = jnp.arange(4.0)
  _traced_cache.call("affine", _affine, (x, jnp.asarray(2.0)), {})
  # A later process with another jaxreg: its program is another file.
  monkeypatch.setattr(_traced_cache, "_source_hash", lambda: "another jaxreg")
  _traced_cache._loaded.clear()
  _traced_cache.call("affine", _affine, (x, jnp.asarray(2.0)), {})
  assert len(_files(folder)) == 2


def test_without_a_cache_folder_nothing_is_written(tmp_path, monkeypatch):
  monkeypatch.setattr(_traced_cache, "_directory", lambda: None)
  out = _traced_cache.call("affine", _affine, (jnp.ones(2), jnp.asarray(2.0)), {})
  np.testing.assert_array_equal(out["y"], [3.0, 3.0])
  assert os.listdir(tmp_path) == []


_PATH = """
import hashlib, os, sys, numpy as np, jax
jax.config.update("jax_enable_x64", True)
import jaxreg as jr
rng = np.random.default_rng(0)
X = rng.standard_normal((30, 8)); y = X[:, 0] - X[:, 1] + 0.1 * rng.standard_normal(30)
folder = os.path.join(os.environ["XDG_CACHE_HOME"], "jaxreg", "jax", "jaxreg-traced")
before = len(os.listdir(folder)) if os.path.isdir(folder) else 0
res = jr.linear.enet_path(X, y, l1_ratio=0.7, n_alphas=5)
print(before, hashlib.sha256(np.asarray(res.coefs).tobytes()).hexdigest())
"""


def test_a_later_process_reuses_the_traced_path(tmp_path):
  env = {k: v for k, v in os.environ.items()
         if k not in ("JAXREG_NO_COMPILATION_CACHE", "JAX_COMPILATION_CACHE_DIR")}
  env.update(XDG_CACHE_HOME=str(tmp_path / "xdg"), JAX_PLATFORMS="cpu")
  run = lambda **extra: subprocess.run([sys.executable, "-c", _PATH], env={**env, **extra},
                                       capture_output=True, text=True, timeout=300,
                                       check=True).stdout.split()
  first, second = run(), run()
  plain = run(JAXREG_NO_COMPILATION_CACHE="1")
  assert first[0] == "0" and int(second[0]) >= 2   # the grid program and the path
  assert first[1] == second[1] == plain[1]          # the same bits as the plain jit
