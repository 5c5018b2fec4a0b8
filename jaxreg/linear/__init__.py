"""Linear models: regularization paths, cross-validation, fits and tuning.

Objective (squared loss), in scikit-learn's scaling:

    (1/(2n))‖y − Xw − b‖² + penalty(w)

and the mean log-loss for logistic regression. Every result carries a
``converged`` flag; a solver or search that stops at its iteration cap also
warns with :class:`ConvergenceWarning` (when its result is concrete).
"""

from jaxreg.linear.cross_validation import CVResult, cross_validate
from jaxreg.linear.fit import ConvergenceWarning, FitResult, fit, fit_batch
from jaxreg.linear import datafits
from jaxreg.linear.paths import PathResult, enet_path, lasso_path, logistic_path, path, ridge_path
from jaxreg.linear.tune import TuneResult, tune, tune_cv

__all__ = [
    "CVResult",
    "ConvergenceWarning",
    "FitResult",
    "PathResult",
    "TuneResult",
    "cross_validate",
    "datafits",
    "enet_path",
    "fit",
    "fit_batch",
    "lasso_path",
    "logistic_path",
    "path",
    "ridge_path",
    "tune",
    "tune_cv",
]
