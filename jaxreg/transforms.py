r"""Optax gradient transformations built from penalties and constraints.

Each function returns an ``optax.GradientTransformationExtraArgs`` that goes
into ``optax.chain`` like any optax piece and works inside ``optax.masked``,
``optax.inject_hyperparams``, ``optax.MultiSteps`` and ``flax.nnx.Optimizer``.
Where a transform sits in the chain decides what it means:

============================================================  ==========================================
chain                                                          update rule
============================================================  ==========================================
``chain(add_penalty_gradient(L2(α)), sgd(η))``                 w ← w − η(∇loss + αw)  (= (1−ηα)w − η∇loss)
``chain(add_penalty_gradient(L2(α)), adam(η))``               Adam on ∇loss + αw: *coupled* L2, "Adam + L2"
``chain(scale_by_adam(), add_penalty_gradient(L2(α)),          w ← w − η(adam(∇loss) + αw): *decoupled*
scale_by_learning_rate(η))``                                   decay, exactly ``optax.adamw(η, weight_decay=α)``
``chain(sgd(η), proximal(L1(α), η))``                          w ← prox_{ηα‖·‖₁}(w − η∇loss): ISTA, exact zeros
``chain(sgd(η), project(L1Ball(C)))``                          w ← Π_{‖w‖₁≤C}(w − η∇loss): projected gradient
============================================================  ==========================================

What is checked, and when. Concrete arguments are checked when a transform
is built (a negative, NaN, infinite or non-scalar learning rate raises
``ValueError``, a string ``TypeError``), and every ``update`` checks that
``updates`` and ``params`` have the same structure and leaf shapes, naming
the first leaf that differs. Values that are *traced* when they reach the
maths — a schedule's value inside ``jax.jit``, a hyperparameter that
``optax.inject_hyperparams`` keeps in its state, a penalty passed as a jitted
argument — cannot be checked then. jaxreg never lets them give a finite wrong
answer: a negative, NaN or infinite learning rate, step, α, radius or weight,
or an l1_ratio outside [0, 1], turns the leaves it touches into NaN (which
``optax.apply_if_finite`` skips and ``jax_debug_nans`` reports). To get an
error naming the value instead, run the step under :func:`checked`, which
uses ``jax.experimental.checkify``:

>>> import jax, jax.numpy as jnp, optax, jaxreg as jr
>>> tx = optax.inject_hyperparams(
...     lambda alpha: optax.chain(jr.add_penalty_gradient(jr.L2(alpha)), optax.sgd(0.1)))(alpha=0.1)
>>> params = {"w": jnp.ones(3)}
>>> state = tx.init(params)
>>> state.hyperparams["alpha"] = jnp.asarray(-1.0)
>>> step = jr.checked(jax.jit(tx.update))
>>> step(params, state, params)
Traceback (most recent call last):
  ...
jax._src.checkify.JaxRuntimeError: alpha must be >= 0 and finite, got -1.0...

References:
  Loshchilov & Hutter (2019), "Decoupled weight decay regularization".
  Parikh & Boyd (2014), "Proximal algorithms".
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Union

import jax
import jax.numpy as jnp
import optax

from jaxreg import _checks
from jaxreg.constraints import Constraint
from jaxreg.masks import restrict
from jaxreg.penalties import Penalty

__all__ = ["add_penalty_gradient", "proximal", "project", "ProximalState", "checked"]

ScalarOrSchedule = Union[float, jax.Array, optax.Schedule]


def _need_params(updates, params, name):
  if params is None:
    raise ValueError(
        f"{name} needs the current parameters: call "
        "tx.update(updates, state, params).")
  _checks.check_same_shapes(updates, "updates", params, "params")


def checked(fn: Callable[..., Any], errors: Any = None) -> Callable[..., Any]:
  r"""``fn`` with jaxreg's checks of traced values turned into errors.

  jaxreg checks concrete arguments when they are given. Values that are
  traced when they reach the maths (under ``jax.jit``, ``jax.vmap``,
  ``optax.inject_hyperparams``…) make the leaves they touch NaN if invalid.
  Under ``checked`` the same conditions — step, learning rate, α, weights
  and radius finite and ≥ 0, l1_ratio in [0, 1] — raise instead. It is
  ``jax.experimental.checkify.checkify`` followed by ``err.throw()``; pass a
  jitted ``fn`` to keep it compiled (the check adds one comparison per
  hyperparameter).

  Args:
    fn: any function, typically a jitted training step.
    errors: the ``checkify`` error set; default ``checkify.user_checks``
      (jaxreg's checks). ``checkify.user_checks | checkify.nan_checks`` also
      reports the first operation that makes a NaN.

  Returns:
    A function with ``fn``'s signature and outputs that raises
    ``checkify.JaxRuntimeError`` (a ``ValueError``) naming the invalid value.

  Example:
    >>> import jax, jax.numpy as jnp, jaxreg as jr
    >>> prox = jr.checked(jax.jit(lambda s: jr.L1(0.5).prox(jnp.ones(2), s)))
    >>> prox(0.5)
    Array([0.75, 0.75], dtype=float32)
    >>> prox(-0.5)
    Traceback (most recent call last):
      ...
    jax._src.checkify.JaxRuntimeError: step must be >= 0 and finite, got -0.5...
  """
  from jax.experimental import checkify

  if not callable(fn):
    raise TypeError(f"fn must be callable, got {type(fn).__name__}.")
  checkified = checkify.checkify(fn, errors=checkify.user_checks if errors is None else errors)

  @functools.wraps(fn)
  def wrapper(*args, **kwargs):
    err, out = checkified(*args, **kwargs)
    err.throw()
    return out

  return wrapper


def _check_type(obj, cls, name, what):
  if not isinstance(obj, cls):
    raise TypeError(f"{what} of {name} must be a jaxreg {cls.__name__}, got {type(obj).__name__}.")


def add_penalty_gradient(penalty: Penalty, mask: Any = None
                         ) -> optax.GradientTransformationExtraArgs:
  r"""Adds the penalty's gradient to the updates: u ← u + ∇pen(params).

  Placed *first* in a chain, the penalty is part of the loss the optimizer
  sees (coupled regularization: SGD + L2 is classic weight decay, Adam + L2
  rescales the decay by Adam's preconditioner). Placed *after* the
  preconditioner and before the learning rate, it is decoupled weight decay:

  >>> import optax, jaxreg as jr
  >>> adam_l2 = optax.chain(jr.add_penalty_gradient(jr.L2(1e-4)), optax.adam(1e-3))
  >>> adamw = optax.chain(optax.scale_by_adam(),
  ...                     jr.add_penalty_gradient(jr.L2(1e-4)),
  ...                     optax.scale_by_learning_rate(1e-3))  # == optax.adamw(1e-3, weight_decay=1e-4)

  For L1 the added term is the minimum-norm subgradient α sign(w), which
  never makes a weight exactly 0; use ``proximal`` for exact zeros.

  Args:
    penalty: a jaxreg penalty (its α may be traced, e.g. under
      ``optax.inject_hyperparams``).
    mask: optional further mask (intersected with the penalty's own).

  Returns:
    A stateless ``optax.GradientTransformationExtraArgs``; its ``update``
    needs ``params``.
  """
  _check_type(penalty, Penalty, "add_penalty_gradient", "penalty")

  def init_fn(params):
    del params
    return optax.EmptyState()

  def update_fn(updates, state, params=None, **extra_args):
    del extra_args
    _need_params(updates, params, "add_penalty_gradient")
    grad = restrict(penalty, mask).grad(params)
    updates = jax.tree_util.tree_map(lambda u, g: u + g.astype(u.dtype), updates, grad)
    return updates, state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


class ProximalState(NamedTuple):
  """Step counter for a learning-rate schedule."""

  count: jax.Array


def _learning_rate(learning_rate, count):
  return learning_rate(count) if callable(learning_rate) else learning_rate


def proximal(penalty: Penalty, learning_rate: ScalarOrSchedule, mask: Any = None
             ) -> optax.GradientTransformationExtraArgs:
  r"""Proximal step, last in a chain: new params = prox_{η·pen}(params + updates).

  With ``updates = −η∇loss`` from the preceding optimizer this is the
  proximal-gradient (ISTA) step

  .. math::  w_{t+1} = \arg\min_z \tfrac12\|z - (w_t - \eta\nabla\mathrm{loss}(w_t))\|^2
             + \eta\,\mathrm{pen}(z),

  which, unlike a subgradient step, sets weights to exactly zero. Give it
  the same learning rate (or schedule) as the optimizer before it; a
  schedule is evaluated at this transform's own step count, as optax's
  ``scale_by_learning_rate`` does.

  >>> import optax, jaxreg as jr
  >>> lr = 0.1
  >>> ista = optax.chain(optax.sgd(lr), jr.proximal(jr.L1(1e-2), lr))

  Args:
    penalty: a jaxreg penalty.
    learning_rate: η ≥ 0, a real scalar or an optax schedule ``count -> η``.
      A schedule's value is checked at each step: concrete (outside
      ``jit``) it raises ``ValueError`` when negative or NaN; traced, see the
      module docstring (NaN leaves, or an error under ``checked``).
    mask: optional further mask; unselected leaves get the plain update.

  Returns:
    An ``optax.GradientTransformationExtraArgs`` whose ``update`` needs
    ``params`` and returns ``prox(params + updates) − params``.
  """
  _check_type(penalty, Penalty, "proximal", "penalty")
  if not callable(learning_rate):
    learning_rate = _checks.as_step(learning_rate, "learning_rate")

  def init_fn(params):
    del params
    return ProximalState(count=jnp.zeros([], jnp.int32))

  def update_fn(updates, state, params=None, **extra_args):
    del extra_args
    _need_params(updates, params, "proximal")
    step = _checks.as_step(_learning_rate(learning_rate, state.count), "learning_rate")
    moved = optax.apply_updates(params, updates)
    new = restrict(penalty, mask).prox(moved, step)
    updates = jax.tree_util.tree_map(lambda n, p: n - p, new, params)
    return updates, ProximalState(count=optax.safe_increment(state.count))

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def project(constraint: Constraint, mask: Any = None
            ) -> optax.GradientTransformationExtraArgs:
  r"""Projection, last in a chain: new params = Π_C(params + updates).

  Projected gradient descent for min loss(w) subject to w ∈ C, the
  constrained (Lagrange) form of a penalty:

  >>> import optax, jaxreg as jr
  >>> pgd = optax.chain(optax.sgd(0.1), jr.project(jr.L1Ball(2.0)))

  Args:
    constraint: a jaxreg constraint (``L1Ball``, ``L2Ball``, ``LinfBall``).
    mask: optional further mask; unselected leaves are not projected.

  Returns:
    A stateless ``optax.GradientTransformationExtraArgs`` whose ``update``
    needs ``params``.
  """
  _check_type(constraint, Constraint, "project", "constraint")

  def init_fn(params):
    del params
    return optax.EmptyState()

  def update_fn(updates, state, params=None, **extra_args):
    del extra_args
    _need_params(updates, params, "project")
    moved = optax.apply_updates(params, updates)
    new = restrict(constraint, mask).project(moved)
    updates = jax.tree_util.tree_map(lambda n, p: n - p, new, params)
    return updates, state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)
