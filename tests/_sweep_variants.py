"""Reruns checkpointed sweeps with a changed function; used by
tests/test_sweep_checkpoint.py.

Usage: python tests/_sweep_variants.py WORKDIR

For each kind of change (another lambda, a closure over another number or
array, a functools.partial with another keyword, a changed module global, a
function whose source file was edited) one process ("before") runs the
first version of the sweep into a checkpoint directory, then a second
process ("after") runs the changed version into the same directory and,
for reference, into a fresh one. Each process is forked from this one,
which imports jax and jaxreg once without starting a backend. The user's
module is a file in WORKDIR that this process rewrites between the two
runs and never imports itself. Prints one JSON object of outcomes.
"""

import functools
import hashlib
import json
import os
import sys
import traceback

import jax
import jax.numpy as jnp
import numpy as np

import jaxreg as jr

USER_MODULE = '''
import jax, jax.numpy as jnp

G = 2.0


def base(a, x):
  h = jax.nn.relu(jnp.sin(a * x)) * G      # a custom_jvp function, a global
  h = jnp.where(x > 0, h, -h)             # an inner jit
  h, _ = jax.lax.scan(lambda c, _: (0.5 * c + h, None), h, None, 3)
  return {"h": h, "s": jnp.sum(h)}


def renamed(a, x):                        # base under another name
  h = jax.nn.relu(jnp.sin(a * x)) * G
  h = jnp.where(x > 0, h, -h)
  h, _ = jax.lax.scan(lambda c, _: (0.5 * c + h, None), h, None, 3)
  return {"h": h, "s": jnp.sum(h)}


def edited(a, x):
  return {"h": jnp.tanh(a * x) * BODY, "s": jnp.sum(a * x)}
'''

LAMBDAS = [lambda a, x: {"h": jnp.sin(a * x), "s": jnp.sum(x)},
           lambda a, x: {"h": jnp.cos(a * x), "s": jnp.sum(x)}]


def closure(c):
  return lambda a, x: {"h": jnp.sin(a * x) + c, "s": jnp.sum(x)}


def powered(a, x, *, power):
  return {"h": a * x ** power, "s": jnp.sum(x)}


def problem():
  alphas = np.linspace(0.1, 2.0, 10).astype(np.float32)
  x = np.linspace(-1.0, 1.0, 3).astype(np.float32)
  return alphas, x


def pairs(user):
  """name -> (fn before, fn after); "after" runs in a later process."""
  return {
      "lambda": (lambda: LAMBDAS[0], lambda: LAMBDAS[1]),
      "closure_number": (lambda: closure(1.0), lambda: closure(1.5)),
      "closure_array": (lambda: closure(np.array([1.0, 2.0, 3.0], np.float32)),
                        lambda: closure(np.array([1.0, 2.0, 3.5], np.float32))),
      "partial": (lambda: functools.partial(powered, power=2),
                  lambda: functools.partial(powered, power=3)),
      "global": (lambda: user.base, lambda: _with_global(user, 3.0)),
      "edited_source": (lambda: user.edited, lambda: user.edited),
  }


def _with_global(user, value):
  user.G = value  # the module global base reads, changed before the sweep
  return user.base


def sweep(fn, ckpt, out):
  alphas, x = problem()
  try:
    res = jr.sweep(fn, alphas, x, chunk_size=3, checkpoint_dir=ckpt)
  except Exception as e:  # reported to the test, which judges it
    return {"ok": False, "error": type(e).__name__, "message": str(e)}
  before = len([f for f in os.listdir(ckpt) if f.startswith("chunk_")]) if ckpt else 0
  np.savez(out, **jax.tree_util.tree_map(np.asarray, res))
  return {"ok": True, "out": out, "chunks": before}


def import_user(work):
  sys.dont_write_bytecode = True  # the source changes between processes
  sys.path.insert(0, work)
  import userfn  # pylint: disable=import-outside-toplevel
  return userfn


def before(work):
  user = import_user(work)
  found = {}
  for name, (first, _) in pairs(user).items():
    d = os.path.join(work, name)
    found[name] = sweep(first(), d, d + "_first.npz")
  found["base"] = sweep(user.base, os.path.join(work, "base"),
                        os.path.join(work, "base.npz"))
  return found


def after(work):
  user = import_user(work)
  found = {}
  for name, (_, second) in pairs(user).items():
    d = os.path.join(work, name)
    fn = second()
    found[name] = {"same_dir": sweep(fn, d, d + "_same_dir.npz"),
                   "fresh": sweep(fn, d + "_fresh", d + "_fresh.npz")}
  user.G = 2.0
  found["renamed"] = sweep(user.renamed, os.path.join(work, "base"),
                           os.path.join(work, "renamed.npz"))
  return found


def in_child(body, work, out):
  pid = os.fork()
  if pid == 0:
    code = 0
    try:
      with open(out, "w") as f:
        json.dump(body(work), f)
    except BaseException:  # pylint: disable=broad-except
      traceback.print_exc()
      code = 1
    finally:
      os._exit(code)
  _, status = os.waitpid(pid, 0)
  assert os.waitstatus_to_exitcode(status) == 0, body.__name__
  with open(out) as f:
    return json.load(f)


def snapshot(work):
  digest = {}
  for name in ("lambda", "closure_number", "closure_array", "partial", "global",
               "edited_source", "base"):
    d = os.path.join(work, name)
    for f in sorted(os.listdir(d)):
      if not f.startswith("."):
        with open(os.path.join(d, f), "rb") as fh:
          digest[f"{name}/{f}"] = hashlib.sha256(fh.read()).hexdigest()
  return digest


def main():
  work = sys.argv[1]
  source = os.path.join(work, "userfn.py")
  with open(source, "w") as f:
    f.write(USER_MODULE.replace("BODY", "1.0"))
  first = in_child(before, work, os.path.join(work, "before.json"))
  saved = snapshot(work)
  with open(source, "w") as f:  # the user edits the body between the two runs
    f.write(USER_MODULE.replace("BODY", "2.0"))
  second = in_child(after, work, os.path.join(work, "after.json"))
  print(json.dumps({"before": first, "after": second,
                    "unchanged": snapshot(work) == saved, "source": source}))


if __name__ == "__main__":
  main()
