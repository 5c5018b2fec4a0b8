"""Traced programs kept on disk beside the compilation cache.

jax's persistent compilation cache (:mod:`jaxreg._compilation_cache`) skips
XLA's compilation in a later process, but not the tracing and lowering of
the Python code that precede it: for a lasso path that is about 1 s of a
1.2 s first call with a warm cache. :func:`call` keeps the traced program
itself, serialized with ``jax.export``, so that a later process with the
same shapes deserializes it (about 1 ms) and goes straight to the cached
executable.

It is used only where it is safe and useful, and otherwise calls the
jitted function as before:

* a compilation cache directory is set (jaxreg's default one, or the
  user's); the traced programs live in its ``jaxreg-traced`` subfolder;
* ``jax.export`` can serialize (it needs the ``flatbuffers`` package);
* every argument is a concrete array (no tracer: inside ``jax.jit`` or
  ``jax.vmap`` the caller's own transformation applies).

A program is keyed by a hash of jaxreg's source files, jax's version, the
backend, the ``jax_enable_x64`` flag, the arguments' shapes, dtypes and
tree structure and the static arguments, so a changed jaxreg or jax never
reads a stale one. Files are written atomically (a temporary file, then
``os.replace``); an unreadable or corrupt file is ignored and rewritten.
Like the compilation cache beside it, the folder holds programs that are
run: keep it writable by you alone.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile

import jax

_SUBDIR = "jaxreg-traced"
# (name, tree, avals, static, x64) -> the jitted call of a loaded program, for this process.
_loaded: dict = {}
_registered: set = set()


@functools.lru_cache(maxsize=1)
def _source_hash():
  root = os.path.dirname(os.path.abspath(__file__))
  h = hashlib.sha256()
  for dirpath, dirnames, filenames in os.walk(root):
    dirnames.sort()
    for f in sorted(filenames):
      if f.endswith(".py"):
        path = os.path.join(dirpath, f)
        h.update(os.path.relpath(path, root).encode())
        with open(path, "rb") as fh:
          h.update(fh.read())
  return h.hexdigest()


@functools.lru_cache(maxsize=1)
def _can_serialize():
  try:
    import flatbuffers  # noqa: F401 — jax.export's serialization needs it
  except ImportError:
    return False
  return True


def _directory():
  base = jax.config.jax_compilation_cache_dir
  if not base or not _can_serialize():
    return None
  return os.path.join(base, _SUBDIR)


def _register(tree_types):
  from jax import export
  for cls in tree_types:
    if cls not in _registered:
      export.register_namedtuple_serialization(
          cls, serialized_name=f"{cls.__module__}.{cls.__qualname__}")
      _registered.add(cls)


def call(name, jitted, args, static, tree_types=()):
  """``jitted(*args, **static)``, through a traced program kept on disk when possible.

  Args:
    name: a name for the program (part of its file name).
    jitted: the ``jax.jit``-wrapped function.
    args: its array arguments (a tuple; None entries allowed).
    static: its static keyword arguments (hashable values).
    tree_types: NamedTuple classes in the outputs, registered for
      serialization.

  Returns:
    The function's outputs.
  """
  directory = _directory()
  leaves, treedef = jax.tree_util.tree_flatten(args)
  if directory is None or any(isinstance(x, jax.core.Tracer) for x in leaves):
    return jitted(*args, **static)
  try:
    avals = tuple((jax.numpy.shape(x), jax.numpy.result_type(x),
                   bool(getattr(x, "weak_type", False))) for x in leaves)
    # In-process lookups skip hashing (a warm call costs microseconds here).
    memo = (name, treedef, avals, tuple(sorted(static.items())),
            bool(jax.config.jax_enable_x64))
    fn = _loaded.get(memo)
    if fn is None:
      from jax import export
      _register(tree_types)
      key_parts = (name, _source_hash(), jax.__version__, jax.default_backend(),
                   bool(jax.config.jax_enable_x64), str(treedef),
                   tuple((s, str(d), w) for s, d, w in avals), memo[3])
      key = hashlib.sha256(repr(key_parts).encode()).hexdigest()[:32]
      path = os.path.join(directory, f"{name}-{key}.jaxexport")
      exp = None
      if os.path.exists(path):
        try:
          with open(path, "rb") as fh:
            exp = export.deserialize(bytearray(fh.read()))
        except Exception:  # noqa: BLE001 — a corrupt file is rebuilt below
          exp = None
      if exp is None:
        exp = export.export(jitted)(*args, **static)
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
        try:
          with os.fdopen(fd, "wb") as fh:
            fh.write(exp.serialize())
          os.replace(tmp, path)
        except BaseException:
          if os.path.exists(tmp):
            os.unlink(tmp)
          raise
      fn = jax.jit(exp.call)
      _loaded[memo] = fn
    return fn(*args)
  except Exception:  # noqa: BLE001 — an optimisation: never fail the call
    return jitted(*args, **static)
