"""jaxreg turns jax's persistent compilation cache on at import, unless told not to."""

import os
import subprocess
import sys

import pytest

_PRINT_DIR = "import jax, jaxreg; print(jax.config.jax_compilation_cache_dir)"


def _run(code, tmp_path, **env_overrides):
  env = {k: v for k, v in os.environ.items()
         if k not in ("JAXREG_NO_COMPILATION_CACHE", "JAX_COMPILATION_CACHE_DIR")}
  env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
  env["JAX_PLATFORMS"] = "cpu"
  env.update(env_overrides)
  out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=300, check=True)
  return out.stdout.strip().splitlines()


def test_import_sets_the_cache_dir_under_xdg_cache_home(tmp_path):
  line = _run(_PRINT_DIR, tmp_path)[-1]
  expected = tmp_path / "xdg" / "jaxreg" / "jax"
  assert line == str(expected)
  assert expected.is_dir()


def test_min_compile_time_is_lowered(tmp_path):
  code = "import jax, jaxreg; print(jax.config.jax_persistent_cache_min_compile_time_secs)"
  assert float(_run(code, tmp_path)[-1]) <= 0.5


def test_compiled_programs_are_written_to_the_cache(tmp_path):
  code = ("import jax, jax.numpy as jnp, jaxreg\n"
          "jax.config.update('jax_persistent_cache_min_compile_time_secs', 0)\n"
          "jax.jit(lambda x: jnp.sin(x) * 2)(jnp.ones(3)).block_until_ready()\n")
  _run(code, tmp_path)
  assert os.listdir(tmp_path / "xdg" / "jaxreg" / "jax")


@pytest.mark.parametrize("value", ["1", "yes"])
def test_env_var_turns_it_off(tmp_path, value):
  assert _run(_PRINT_DIR, tmp_path, JAXREG_NO_COMPILATION_CACHE=value)[-1] == "None"
  assert not (tmp_path / "xdg" / "jaxreg").exists()


def test_users_own_dir_is_kept(tmp_path):
  mine = tmp_path / "mine"
  code = (f"import jax; jax.config.update('jax_compilation_cache_dir', {str(mine)!r}); "
          "jax.config.update('jax_persistent_cache_min_compile_time_secs', 3.0); "
          "import jaxreg; print(jax.config.jax_compilation_cache_dir); "
          "print(jax.config.jax_persistent_cache_min_compile_time_secs)")
  lines = _run(code, tmp_path)
  assert lines[-2:] == [str(mine), "3.0"]
  assert not (tmp_path / "xdg" / "jaxreg").exists()


def test_jax_env_var_dir_is_kept(tmp_path):
  mine = str(tmp_path / "from_env")
  assert _run(_PRINT_DIR, tmp_path, JAX_COMPILATION_CACHE_DIR=mine)[-1] == mine


def test_uncreatable_dir_falls_back_silently(tmp_path):
  blocker = tmp_path / "file"
  blocker.write_text("not a directory")
  out = subprocess.run(
      [sys.executable, "-c", _PRINT_DIR],
      env={**{k: v for k, v in os.environ.items() if k != "JAXREG_NO_COMPILATION_CACHE"},
           "XDG_CACHE_HOME": str(blocker), "JAX_PLATFORMS": "cpu"},
      capture_output=True, text=True, timeout=300, check=True)
  assert out.stdout.strip().splitlines()[-1] == "None"
  assert "Traceback" not in out.stderr


def test_the_test_suite_runs_without_the_cache():
  import jax
  import jaxreg  # noqa: F401
  assert os.environ.get("JAXREG_NO_COMPILATION_CACHE")
  assert not jax.config.jax_compilation_cache_dir or "jaxreg" not in jax.config.jax_compilation_cache_dir
