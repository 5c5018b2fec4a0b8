"""A persistent compilation cache for jaxreg's programs, on by default.

The linear solvers compile one XLA program per shape (a lasso path on a new
shape takes 1–5 s to compile on a CPU). With jax's persistent compilation
cache, a later *process* that runs the same program on the same shapes loads
the compiled executable from disk instead of compiling it again.

On ``import jaxreg``, :func:`enable` points jax's cache at a per-user
directory::

    $XDG_CACHE_HOME/jaxreg/jax      (XDG_CACHE_HOME set and non-empty)
    ~/.cache/jaxreg/jax             (otherwise)

and lowers ``jax_persistent_cache_min_compile_time_secs`` to 0.5 s, so that
programs which compile in half a second or more are stored (jax's default is
1 s). Only jax's public configuration (``jax.config.update``) is used.

It does nothing when

* the environment variable ``JAXREG_NO_COMPILATION_CACHE`` is set to a
  non-empty value (``JAXREG_NO_COMPILATION_CACHE=1 python script.py``);
* ``jax_compilation_cache_dir`` is already set, by the user
  (``jax.config.update("jax_compilation_cache_dir", ...)`` before importing
  jaxreg) or by jax's own ``JAX_COMPILATION_CACHE_DIR`` environment variable:
  the user's directory and thresholds are kept;
* jax's cache is switched off (``jax_enable_compilation_cache`` false);
* the directory cannot be created (read-only home, ...): jaxreg then runs
  without a persistent cache, silently.

To turn it off after import, ``jax.config.update("jax_compilation_cache_dir",
None)`` before the first compilation. The cache is safe to delete at any
time (``rm -rf ~/.cache/jaxreg/jax``). As jax warns, a compilation cache is
trusted code: do not point it at a directory others can write to.
"""

import os

import jax

ENV_DISABLE = "JAXREG_NO_COMPILATION_CACHE"
MIN_COMPILE_TIME_SECS = 0.5


def default_cache_dir():
  """The directory jaxreg's persistent compilation cache uses by default."""
  base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(base, "jaxreg", "jax")


def enable():
  """Turns jax's persistent compilation cache on in the default directory.

  Returns:
    The cache directory set, or None when nothing was changed (switched off
    by ``JAXREG_NO_COMPILATION_CACHE``, already configured by the user, or
    the directory could not be created).
  """
  if os.environ.get(ENV_DISABLE):
    return None
  try:
    if jax.config.jax_compilation_cache_dir:
      return None  # the user's own cache: keep it, and its thresholds.
    if not jax.config.jax_enable_compilation_cache:
      return None
    path = default_cache_dir()
    os.makedirs(path, exist_ok=True)
    if not os.access(path, os.W_OK):
      return None
    jax.config.update("jax_compilation_cache_dir", path)
    if jax.config.jax_persistent_cache_min_compile_time_secs > MIN_COMPILE_TIME_SECS:
      jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_TIME_SECS)
  except Exception:  # noqa: BLE001 — a cache is an optimisation: never fail the import.
    return None
  return path
