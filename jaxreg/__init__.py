"""jaxreg: regularization for JAX.

Penalties as pure functions on parameter pytrees, optax transforms built from
them, norm-ball constraints, and the conventions that map other libraries'
regularization strengths onto jaxreg's.

>>> import jaxreg as jr
"""

from jaxreg import _compilation_cache
from jaxreg import _lapack_threads
from jaxreg import conventions
from jaxreg import implicit
from jaxreg import linear
from jaxreg import masks
from jaxreg.constraints import Constraint, L1Ball, L2Ball, LinfBall
from jaxreg.implicit import implicit_solution
from jaxreg.penalties import Box, ElasticNet, GroupLasso, L1, L2, Lp, MCP, NonNegative, Penalty, SCAD
from jaxreg.sweep import SweepPlan, plan_sweep, sweep
from jaxreg.transforms import add_penalty_gradient, checked, project, proximal

# A persistent compilation cache in ~/.cache/jaxreg/jax (JAXREG_NO_COMPILATION_CACHE=1: off).
_compilation_cache.enable()
# One BLAS thread under JAX's CPU LAPACK calls (JAXREG_LAPACK_THREADS=0: leave it alone).
_lapack_threads.limit()

__version__ = "0.1.0"

__all__ = [
    "Box",
    "Constraint",
    "ElasticNet",
    "GroupLasso",
    "L1",
    "L1Ball",
    "L2",
    "L2Ball",
    "LinfBall",
    "Lp",
    "MCP",
    "NonNegative",
    "Penalty",
    "SCAD",
    "add_penalty_gradient",
    "checked",
    "conventions",
    "implicit",
    "implicit_solution",
    "linear",
    "masks",
    "project",
    "proximal",
    "sweep",
    "plan_sweep",
    "SweepPlan",
]
