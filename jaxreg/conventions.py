r"""Other libraries' regularization strengths, in jaxreg's scaling.

jaxreg's objectives use the mean data loss: (1/(2n))‖y − Xw − b‖² for least
squares, the mean log-loss for logistic regression, plus the penalty in the
scaling of ``jaxreg.penalties``. ``convert`` maps another tool's strength to
the jaxreg penalty that gives the same solution (n = number of training
samples):

==========================================  ===============================  ==================================
source                                       meaning of ``alpha``             jaxreg penalty
==========================================  ===============================  ==================================
``sklearn.Lasso``                            ``Lasso(alpha=a)``               ``L1(a)``
``sklearn.ElasticNet``                       ``ElasticNet(alpha=a, l1_ratio=r)``  ``ElasticNet(a, r)``
``sklearn.Ridge``                            ``Ridge(alpha=a)``: ‖y−Xw‖² + a‖w‖²   ``L2(a / n)``
``sklearn.LogisticRegression.l2``            ``C=c``, penalty l2              ``L2(1 / (n c))``
``sklearn.LogisticRegression.l1``            ``C=c``, penalty l1              ``L1(1 / (n c))``
``sklearn.LogisticRegression.elasticnet``    ``C=c``, ``l1_ratio=r``          ``ElasticNet(1 / (n c), r)``
``glmnet``                                   ``lambda=λ``, ``alpha=a`` (pass as l1_ratio)  ``ElasticNet(λ, a)``
``torch.SGD.weight_decay``                   ``weight_decay=λ``               ``L2(λ)``, added before the optimizer
``torch.AdamW.weight_decay``                 ``weight_decay=λ``               ``L2(λ)``, added after Adam's scaling
``optax.adamw.weight_decay``                 ``weight_decay=λ``               ``L2(λ)``, added after Adam's scaling
``keras.l2``                                 ``regularizers.l2(l)``: l Σw²    ``L2(2 l)``
``keras.l1``                                 ``regularizers.l1(l)``: l Σ|w|   ``L1(l)``
``tf1.l2_regularizer``                       ``l2_regularizer(s)``: s Σw²/2   ``L2(s)``
``gaussian_prior``                           prior N(0, τ²): τ; noise σ²      ``L2(σ² / (n τ²))``
``laplace_prior``                            prior Laplace(0, b): b; noise σ²  ``L1(σ² / (n b))``
==========================================  ===============================  ==================================

Notes:
  * Where the penalty goes in an optax chain matters for the weight-decay
    rows: see ``jaxreg.transforms.add_penalty_gradient``.
  * The prior rows are the MAP reading: the posterior mode under Gaussian
    noise of variance σ² (``noise_variance``) with n samples is the penalized
    fit with the mean squared loss.
  * glmnet standardizes y for the Gaussian family; compare with a
    standardized y.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from jaxreg import _checks
from jaxreg.penalties import ElasticNet, L1, L2, Penalty

__all__ = ["convert", "SOURCES"]


def _need(value, name, source):
  if value is None:
    raise ValueError(f"convert(..., source={source!r}) needs {name}=...")
  return value


def _n(n_samples, source):
  n = _need(n_samples, "n_samples", source)
  if isinstance(n, bool) or not isinstance(n, int) and not hasattr(n, "__index__"):
    raise TypeError(f"n_samples must be a positive integer, got {n!r}.")
  if int(n) <= 0:
    raise ValueError(f"n_samples must be a positive integer, got {n!r}.")
  return int(n)


def _positive(alpha, name, source):
  alpha = _checks.as_hyperparameter(alpha, "alpha")
  _checks.check_at_least(alpha, f"alpha ({name} of {source})", 0.0, strict=True)
  return alpha


def _ratio(l1_ratio, source):
  return _need(l1_ratio, "l1_ratio", source)


# Each entry: (source, n, l1_ratio, noise_variance, mask) -> penalty.
_RULES: dict[str, Callable[..., Penalty]] = {
    "sklearn.lasso": lambda a, s, n, r, v, m: L1(a, mask=m),
    "sklearn.elasticnet": lambda a, s, n, r, v, m: ElasticNet(a, _ratio(r, s), mask=m),
    "sklearn.ridge": lambda a, s, n, r, v, m: L2(a / _n(n, s), mask=m),
    "sklearn.logisticregression.l2": lambda a, s, n, r, v, m: L2(
        1.0 / (_n(n, s) * _positive(a, "C", s)), mask=m),
    "sklearn.logisticregression.l1": lambda a, s, n, r, v, m: L1(
        1.0 / (_n(n, s) * _positive(a, "C", s)), mask=m),
    "sklearn.logisticregression.elasticnet": lambda a, s, n, r, v, m: ElasticNet(
        1.0 / (_n(n, s) * _positive(a, "C", s)), _ratio(r, s), mask=m),
    "glmnet": lambda a, s, n, r, v, m: ElasticNet(a, _ratio(r, s), mask=m),
    "torch.sgd.weight_decay": lambda a, s, n, r, v, m: L2(a, mask=m),
    "torch.adamw.weight_decay": lambda a, s, n, r, v, m: L2(a, mask=m),
    "optax.adamw.weight_decay": lambda a, s, n, r, v, m: L2(a, mask=m),
    "keras.l2": lambda a, s, n, r, v, m: L2(2 * _checks.as_hyperparameter(a, "alpha"), mask=m),
    "keras.l1": lambda a, s, n, r, v, m: L1(a, mask=m),
    "tf1.l2_regularizer": lambda a, s, n, r, v, m: L2(a, mask=m),
    "gaussian_prior": lambda a, s, n, r, v, m: L2(
        _need(v, "noise_variance", s) / (_n(n, s) * _positive(a, "prior scale τ", s) ** 2),
        mask=m),
    "laplace_prior": lambda a, s, n, r, v, m: L1(
        _need(v, "noise_variance", s) / (_n(n, s) * _positive(a, "prior scale b", s)), mask=m),
}

SOURCES: tuple[str, ...] = tuple(_RULES)
"""The canonical ``source`` names (matched case-insensitively)."""

# Other spellings people use for the same rows. Keys are compared after
# lower-casing and turning '-', '_', '/', ' ' and '()' into '.', so
# "sklearn_ridge", "torch.optim.SGD" and "tf.contrib.layers.l2_regularizer"
# all land on their row.
_ALIASES: dict[str, str] = {
    "lasso": "sklearn.lasso",
    "elasticnet": "sklearn.elasticnet",
    "elastic.net": "sklearn.elasticnet",
    "sklearn.elastic.net": "sklearn.elasticnet",
    "ridge": "sklearn.ridge",
    "sklearn.logisticregression": "sklearn.logisticregression.l2",
    "sklearn.logistic": "sklearn.logisticregression.l2",
    "sklearn.logistic.l2": "sklearn.logisticregression.l2",
    "sklearn.logistic.l1": "sklearn.logisticregression.l1",
    "sklearn.logistic.elasticnet": "sklearn.logisticregression.elasticnet",
    "torch.sgd": "torch.sgd.weight.decay",
    "torch.optim.sgd": "torch.sgd.weight.decay",
    "torch.adamw": "torch.adamw.weight.decay",
    "torch.optim.adamw": "torch.adamw.weight.decay",
    "optax.adamw": "optax.adamw.weight.decay",
    "keras.regularizers.l2": "keras.l2",
    "keras.regularizers.l1": "keras.l1",
    "tf.keras.regularizers.l2": "keras.l2",
    "tf.keras.regularizers.l1": "keras.l1",
    "tf1.l2.regularizer": "tf1.l2.regularizer",
    "tf.contrib.layers.l2.regularizer": "tf1.l2.regularizer",
    "gaussian": "gaussian.prior",
    "normal.prior": "gaussian.prior",
    "laplace": "laplace.prior",
}


def _normalize(name: str) -> str:
  key = name.strip().lower()
  for ch in "-_/ ()":
    key = key.replace(ch, ".")
  while ".." in key:
    key = key.replace("..", ".")
  key = key.strip(".").replace("pytorch.", "torch.")
  return _ALIASES.get(key, key)


_BY_KEY = {_normalize(name): name for name in _RULES}


def convert(alpha: Any, source: str, n_samples: Optional[int] = None, *,
            l1_ratio: Any = None, noise_variance: Any = None, mask: Any = None
            ) -> Penalty:
  """The jaxreg penalty equivalent to another library's regularization strength.

  See the module docstring for the table of sources.

  Args:
    alpha: the strength in the source's own convention (sklearn's ``alpha``
      or ``C``, glmnet's λ, a weight decay, Keras's l, a prior's scale τ or b).
      May be an array, giving a batched penalty.
    source: one of ``SOURCES``, e.g. ``"sklearn.Ridge"``; case, separators
      (``_``, ``-``, ``.``) and common spellings (``"torch.optim.SGD"``,
      ``"keras.regularizers.l2"``, ``"sklearn.LogisticRegression"`` for its
      default l2 penalty) are accepted.
    n_samples: the number of training samples n (needed where the source
      sums its data loss instead of averaging it).
    l1_ratio: the l1 mixing for the elastic-net sources (glmnet's ``alpha``).
    noise_variance: σ², for the prior sources.
    mask: passed to the penalty.

  Returns:
    A jaxreg penalty.

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> pen = jr.conventions.convert(1.0, "tf1.l2_regularizer")
    >>> pen(jnp.array([3.0, 4.0]))
    Array(12.5, dtype=float32)
    >>> jr.conventions.convert(10.0, "sklearn.Ridge", n_samples=100).alpha
    Array(0.1, dtype=float32)
  """
  if not isinstance(source, str):
    raise TypeError(f"source must be a string, one of {SOURCES}; got {source!r}.")
  key = _BY_KEY.get(_normalize(source))
  if key is None:
    raise ValueError(f"unknown source {source!r}; known sources: {', '.join(SOURCES)}.")
  return _RULES[key](alpha, source, n_samples, l1_ratio, noise_variance, mask)
