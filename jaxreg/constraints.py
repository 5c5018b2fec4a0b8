r"""Norm-ball constraints: the Lagrange (constrained) form of a penalty.

Minimising loss(w) + α·‖w‖ and minimising loss(w) subject to ‖w‖ ≤ C are the
same problem for matching (α, C): C is the norm of the penalized solution and
α the Lagrange multiplier of the constraint. A constraint here is a pytree
whose radius is a leaf (batched radii are vmapped like batched α), with
``.project(params)``: the Euclidean projection of the (selected leaves of
the) parameter pytree onto the ball, all selected leaves taken together as
one vector. The projections are optax's (``optax.projections``), computed
in at least float32; a radius of 0 projects onto {0}.

What is checked, and when: a negative, NaN or infinite radius raises
``ValueError`` when the constraint is built from concrete numbers; a batch of
radii is applied with ``jax.vmap`` (calling ``project`` with a non-scalar
radius raises ``ValueError``). A traced radius that is negative or NaN makes
the projected leaves NaN, and raises under ``jaxreg.checked``.

=================  ========================================  ===========================
constraint         set                                       projection
=================  ========================================  ===========================
``L1Ball(C)``      {w : Σ|wᵢ| ≤ C}                          ``projection_l1_ball``
``L2Ball(C)``      {w : ‖w‖₂ ≤ C}                            ``projection_l2_ball``
``LinfBall(C)``    {w : max|wᵢ| ≤ C}                         ``projection_linf_ball``
=================  ========================================  ===========================

References:
  Duchi, Shalev-Shwartz, Singer, Chandra (2008), "Efficient projections onto
  the l1-ball for learning in high dimensions".
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from jaxreg import _checks
from jaxreg import masks as _masks
from jaxreg.penalties import _pow2_scale

__all__ = ["Constraint", "L1Ball", "L2Ball", "LinfBall"]


class Constraint:
  """Base class: the ball {w : ‖w‖ ≤ radius} over the selected leaves."""

  _projection: Callable[..., Any]
  _ord: Any

  def __init_subclass__(cls, **kwargs):
    super().__init_subclass__(**kwargs)

    def flatten_with_keys(c):
      return [(jax.tree_util.GetAttrKey("radius"), c.radius)], (c.mask,)

    def unflatten(aux, children):
      c = object.__new__(cls)
      object.__setattr__(c, "radius", children[0])
      object.__setattr__(c, "mask", aux[0])
      return c

    jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten)

  def __init__(self, radius, mask=None):
    radius = _checks.as_hyperparameter(radius, "radius", lower=0.0)
    object.__setattr__(self, "radius", radius)
    object.__setattr__(self, "mask", _masks.normalize(mask))

  def __setattr__(self, name, value):
    raise AttributeError(f"{type(self).__name__} is immutable.")

  def __repr__(self):
    return f"{type(self).__name__}(radius={self.radius!r}, mask={self.mask!r})"

  def _split(self, params):
    leaves, treedef = _checks.as_params(params)
    _checks.check_scalar(
        self.radius, "radius",
        " A constraint holding a batch of radii is applied with jax.vmap, which maps over "
        "their leading axis.")
    flags = _masks.resolve(self.mask, params)
    return leaves, treedef, flags

  def norm(self, params: Any) -> jax.Array:
    """The ball's norm of the selected leaves, taken together as one vector."""
    leaves, _, flags = self._split(params)
    flat = [jnp.ravel(x) for x, f in zip(leaves, flags) if f]
    if not flat:
      return jnp.zeros(())
    v = jnp.concatenate(flat)
    v = v.astype(jnp.promote_types(v.dtype, jnp.float32))
    inv, s = _pow2_scale(v)
    return (jnp.linalg.norm(v * inv, ord=self._ord) * s).reshape(()).astype(flat[0].dtype)

  def project(self, params: Any) -> Any:
    """Euclidean projection of the selected leaves onto the ball.

    Args:
      params: a parameter pytree.

    Returns:
      The nearest point of the ball (selected leaves) and the unselected
      leaves unchanged, with the structure and dtypes of ``params``.
    """
    leaves, treedef, flags = self._split(params)
    chosen = [x for x, f in zip(leaves, flags) if f]
    if chosen:
      # optax's projections mix in default-precision constants, so with
      # float64 enabled a float32 tree would come back (partly) float64 and
      # break their lax.cond; project in one common dtype (at least float32),
      # then cast back.
      dtype = jnp.promote_types(jnp.result_type(*chosen), jnp.result_type(float))
      dtype = jnp.promote_types(dtype, jnp.float32)
      xs = [x.astype(dtype) for x in chosen]
      radius = jnp.asarray(_checks.guard(self.radius, "radius"), dtype)
      # Radius 0 is handled apart: optax's ℓ1 projection divides by it (0/0).
      # A stand-in radius of 1 keeps that branch's derivatives finite; a NaN
      # (invalid traced) radius stays NaN.
      positive = radius > 0
      projected = type(self)._projection(xs, jnp.where(positive, radius, 1.0))
      projected = [jnp.where(positive, y, jnp.where(radius == 0, 0.0, y * radius))
                   for y in projected]
      projected = iter([y.astype(x.dtype) for x, y in zip(chosen, projected)])
      leaves = [next(projected) if f else x for x, f in zip(leaves, flags)]
    return jax.tree_util.tree_unflatten(treedef, leaves)


class L1Ball(Constraint):
  r"""The ℓ1 ball {w : Σᵢ |wᵢ| ≤ radius}, the constraint form of ``L1``.

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> jr.L1Ball(1.0).project(jnp.array([2.0, 0.5]))
    Array([1., 0.], dtype=float32)
  """

  _projection = staticmethod(optax.projections.projection_l1_ball)
  _ord = 1


class L2Ball(Constraint):
  r"""The ℓ2 ball {w : ‖w‖₂ ≤ radius}, the constraint form of ``L2``.

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> jr.L2Ball(1.0).project(jnp.array([3.0, 4.0]))
    Array([0.6, 0.8], dtype=float32)
  """

  _projection = staticmethod(optax.projections.projection_l2_ball)
  _ord = 2


class LinfBall(Constraint):
  r"""The ℓ∞ ball {w : maxᵢ |wᵢ| ≤ radius}, the dual ball of ℓ1.

  Moreau's identity links it with ``L1``: x = prox_{s·α‖·‖₁}(x) +
  Π_{‖·‖∞ ≤ s·α}(x).

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> jr.LinfBall(1.0).project(jnp.array([3.0, -0.5]))
    Array([ 1. , -0.5], dtype=float32)
  """

  _projection = staticmethod(optax.projections.projection_linf_ball)
  _ord = jnp.inf
