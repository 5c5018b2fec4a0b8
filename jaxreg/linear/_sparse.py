r"""Sparse design matrices: checks, and the centered, weighted products the
sparse solver needs, without ever forming X − 1x̄ᵀ (which is dense).

A design is ``scipy.sparse`` (any format; kept as CSC, columns being what
coordinate descent slices) or ``jax.experimental.sparse.BCOO`` (moved to the
host as CSC: the sparse solver's outer loop runs there, its subproblems in
JAX). With sample weights s (summing to n) and the intercept's centering,
the solvers see

.. math::  X_c = \sqrt{s} \odot (X - 1\bar x^\top), \qquad
           \bar x = X^\top s / n,

only through X_c w, X_cᵀ r and the Gram blocks X_c[:, A]ᵀ X_c[:, A] of a
few columns:

.. math::  X_c^\top r = X^\top(\sqrt{s} \odot r) - \bar x\,(\sqrt{s}^\top r), \qquad
           X_{c,A}^\top X_{c,A} = X_A^\top S X_A - n\,\bar x_A \bar x_A^\top,

each O(nnz) or O(nnz of the columns A) plus O(p) or O(|A|²). This is how
scikit-learn and glmnet centre sparse data (through the column means).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

import numpy as np
import scipy.sparse as sp

__all__ = ["Design", "design", "is_sparse", "to_csc"]


def is_sparse(X) -> bool:
  """Whether X is a ``scipy.sparse`` matrix/array or a JAX ``BCOO``."""
  if sp.issparse(X):
    return True
  try:
    from jax.experimental import sparse as jsparse
  except ImportError:  # pragma: no cover - part of jax
    return False
  return isinstance(X, jsparse.JAXSparse)


def to_csc(X, dtype=None, name="X"):
  """X as a float ``scipy.sparse.csc_array`` with finite stored entries.

  Args:
    X: a ``scipy.sparse`` matrix/array or a ``BCOO``, 2-D.
    dtype: the float dtype (default: X's when floating, else float64).
    name: the argument name the errors use.

  Returns:
    A canonical CSC array (duplicates summed, indices sorted).

  Example:
    >>> import numpy as np, scipy.sparse as sp
    >>> from jaxreg.linear._sparse import to_csc
    >>> to_csc(sp.csr_array(np.eye(2))).format
    'csc'
  """
  if not sp.issparse(X):
    from jax.experimental import sparse as jsparse
    if not isinstance(X, jsparse.BCOO):
      raise TypeError(f"{name} must be a scipy.sparse matrix or a BCOO array, got "
                      f"{type(X).__name__}.")
    if X.ndim != 2 or X.n_batch or X.n_dense:
      raise ValueError(f"{name} must be a 2-D BCOO array without batch or dense dimensions, "
                       f"got shape {X.shape} (n_batch={X.n_batch}, n_dense={X.n_dense}).")
    idx = np.asarray(X.indices)
    # BCOO pads with out-of-bounds indices (sum_duplicates(nse=...), slices
    # of batched arrays): entries that are not there.
    keep = np.all((idx >= 0) & (idx < np.asarray(X.shape)), axis=1)
    X = sp.coo_array((np.asarray(X.data)[keep], (idx[keep, 0], idx[keep, 1])), shape=X.shape)
  if X.ndim != 2:
    raise ValueError(f"{name} must be 2-D, got shape {X.shape}.")
  if X.shape[0] < 1 or X.shape[1] < 1:
    raise ValueError(f"{name} must have at least one sample and one feature, got {X.shape}.")
  if dtype is None:
    dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64
  if np.issubdtype(X.dtype, np.complexfloating):
    raise TypeError(f"{name} must be real-valued, got dtype {X.dtype}.")
  if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
    raise TypeError(f"{name} must be numeric, got dtype {X.dtype}.")
  X = sp.csc_array(X, dtype=dtype)
  X.sum_duplicates()
  if not np.all(np.isfinite(X.data)):
    raise ValueError(f"{name} contains NaN or infinite values (in its stored entries).")
  return X


class Design(NamedTuple):
  """A sparse X seen centred and weighted (see the module docstring)."""

  X: Any                      # scipy.sparse CSC (n, p)
  x_mean: np.ndarray          # (p,) weighted column means (zeros without intercept)
  root_s: Optional[np.ndarray]  # (n,) √s, None for unit weights
  s: Optional[np.ndarray]     # (n,) weights summing to n, None for unit weights

  @property
  def shape(self):
    return self.X.shape

  def matvec(self, w):
    """X_c w, (n,)."""
    support = np.flatnonzero(w)
    v = self.X[:, support] @ w[support] - self.x_mean[support] @ w[support]
    return v if self.root_s is None else self.root_s * v

  def rmatvec(self, r):
    """X_cᵀ r, (p,)."""
    if self.root_s is not None:
      r = self.root_s * r
    return self.X.T @ r - self.x_mean * np.sum(r)

  def gram(self, cols):
    """X_c[:, cols]ᵀ X_c[:, cols], dense (k, k)."""
    XA = self.X[:, cols]
    SXA = XA if self.s is None else sp.csc_array(XA.multiply(self.s[:, None]))
    G = (XA.T @ SXA).toarray()
    m = self.x_mean[cols]
    return G - self.X.shape[0] * np.outer(m, m)

  def sq_norms(self):
    """‖X_c[:, j]‖² for every column, (p,)."""
    XX = self.X.multiply(self.X) if self.s is None else self.X.multiply(self.X).multiply(
        self.s[:, None])
    return np.asarray(XX.sum(axis=0)).ravel() - self.X.shape[0] * self.x_mean ** 2


def design(X, y, s, fit_intercept):
  """The centred, weighted view of a CSC ``X`` and the matching y.

  Args:
    X: CSC array (n, p) from :func:`to_csc`.
    y: (n,) targets (NumPy).
    s: None or (n,) weights summing to n.
    fit_intercept: centre by the (weighted) means.

  Returns:
    ``(design, y_c, y_mean)`` with y_c = √s ⊙ (y − ȳ).
  """
  n, p = X.shape
  if fit_intercept:
    x_mean = np.asarray(X.T @ (np.ones(n, X.dtype) if s is None else s)).ravel() / n
    y_mean = (np.sum(y) if s is None else s @ y) / n
  else:
    x_mean = np.zeros(p, X.dtype)
    y_mean = X.dtype.type(0)
  yc = y - y_mean
  root_s = None if s is None else np.sqrt(s).astype(X.dtype)
  if root_s is not None:
    yc = root_s * yc
  return Design(X, x_mean.astype(X.dtype), root_s, None if s is None else s.astype(X.dtype)), \
      yc.astype(X.dtype), y_mean
