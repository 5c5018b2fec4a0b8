"""Generic solvers for linear models: any datafit × any penalty.

One file per algorithm, all with one signature::

    solve(X, Y, datafit, coords, W0, b0, *, fit_intercept, tol, max_iter) -> SolverResult

where ``Y`` is the (n, T) target array from ``datafits.prepare_targets``,
``coords`` the penalty's solver view (``jaxreg.penalties.coordinates``), and
``W0`` (p, T), ``b0`` (T,) the starting point. Every solver stops when the
largest block optimality violation (the distance from −∇ to the penalty's
subdifferential, with the intercept's gradient included) is at most ``tol``.

* :mod:`.coordinate_descent` — working-set block coordinate descent with
  Anderson extrapolation; the default.
* :mod:`.prox_newton` — proximal Newton for non-quadratic datafits.
* :mod:`.fista` — accelerated proximal gradient with restarts, for
  lock-step batched use.
* :mod:`.dual_newton` — semismooth Newton on the dual of the squared-loss
  elastic net, batched over many small problems (``fit_batch``); it has its
  own signature, as it applies to that one pair only.
"""

from jaxreg.linear.solvers._common import SolverResult

__all__ = ["SolverResult"]
