r"""Regularize weights, not biases: what penalising the bias costs.

The background articles penalise the weights W and leave the biases b alone
("the model is governed mainly by W, so regularization only looks at W, not
at b"). jaxreg penalises every leaf unless masked, and
``jr.masks.weights_only`` keeps kernels (ndim ≥ 2) and drops biases. The
experiment measures what forgetting the mask costs, where it can be
predicted exactly and on a small network where it cannot.

**Linear regression, exactly.** With the features centred on their training
mean (Σᵢ xᵢ = 0) and jaxreg's conventions, penalising the bias too,

.. math::  J(w, b) = \tfrac1{2n}\|y - Xw - b\mathbf 1\|^2 + \tfrac\alpha2(\|w\|^2 + b^2),

has ∂J/∂b = −(ȳ − b) + αb (the cross term Xᵀ1 vanishes), so the intercept
decouples from the weights:

.. math::  b_\alpha = \frac{\bar y}{1 + \alpha}, \qquad
           w_\alpha = (S + \alpha I)^{-1} X^\top y / n \quad(\text{as with } b \text{ free, where } b = \bar y).

Every prediction of the fully penalised model is the masked model's minus
d = ȳ − b_α = ȳ·α/(1 + α), so on a test point its squared error grows by

.. math::  \Delta(\alpha) = d^2 + 2d\,\mathbb E[r], \qquad
           \mathbb E[r] = \mu_y - \bar y - (\mu_x - \bar x)^\top w_\alpha,

r being the masked model's test residual (E[r] is O(σ/√n): the training
means are not the population's). With a target whose mean is ten noise
standard deviations, d² dominates and the cost is large; with a centred
target it would be nil.

**A network, measured.** A one-hidden-layer tanh MLP (flax.linen.Dense
parameter layout, optax Adam) on features and
targets with large offsets, trained with ``jr.sweep`` over a few α with
``jr.L2(α, mask=jr.masks.weights_only)`` and with ``jr.L2(α)`` on every
leaf, on several independent data sets: the test-error difference, with a
standard error over data sets. There is no closed form here (the network
can rebuild the offset from its weights at a price in ‖W‖²), so it is a
measurement, not a verdict.

References:
  Goodfellow, Bengio & Courville (2016), *Deep Learning*, §7.1 ("we
  typically choose to use a parameter norm penalty that penalizes only the
  weights ... and leaves the biases unregularized"). Hastie, Tibshirani &
  Friedman (2009), *The Elements of Statistical Learning*, §3.4.1 (the
  intercept is left out of the ridge penalty).
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

import jaxreg as jr
from research import workbench

NAME = "bias_penalty"

# The family-wise probability that a correct implementation fails the cost
# verdict through test-set noise alone.
FAMILY_LEVEL = 1e-3


def _inverted_weights_only(params):
  """The complement of ``jr.masks.weights_only``: biases only (a planted mistake)."""
  return jax.tree.map(lambda m: not m, jr.masks.weights_only(params))


PLANTS = (
    workbench.Plant(
        "mask_dropped",
        "The 'weights only' model is built with jr.L2(α) and no mask, so both models "
        "penalise every leaf",
        fails=("unpenalised_bias_is_mean", "bias_penalty_cost")),
    workbench.Plant(
        "mask_inverted",
        "The mask selects the biases instead of the kernels (jr.masks.weights_only negated)",
        fails=("unpenalised_bias_is_mean", "weights_match_ridge", "bias_penalty_cost")),
    workbench.Plant(
        "alpha_doubled_in_closed_form",
        "The prediction uses b = ȳ/(1 + 2α), the penalty written as α‖b‖² instead of "
        "(α/2)‖b‖²",
        fails=("penalised_bias_closed_form", "bias_penalty_cost")),
)

# The network carries no verdict; the planted-error suite skips it (net_splits=0).
TEST_SETTINGS = dict(n_test=4000, net_splits=0)

_DEFAULTS = dict(n_train=200, n_features=10, n_test=20000, target_mean=10.0, feature_mean=5.0,
                 noise=1.0, alphas=(1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0),
                 net_splits=6, net_alphas=(0.1, 0.3), net_feature_mean=2.0, net_n_train=200,
                 net_n_test=2000, net_hidden=16, net_lr=0.1, net_steps=2000)
_FULL = dict(net_splits=16, net_alphas=(0.03, 0.1, 0.3), net_steps=4000)

_ARMS = ("weights_only", "every_leaf")


def _mask(arm: str, plant: Optional[str]):
  """The mask each model is built with; the planted mistakes change the first one."""
  if arm == "every_leaf":
    return None
  if plant == "mask_dropped":
    return None
  if plant == "mask_inverted":
    return _inverted_weights_only
  return jr.masks.weights_only


# --- the prediction ------------------------------------------------------------

def penalised_intercept(y_mean, alpha):
  r"""The intercept of (1/2n)‖y − Xw − b‖² + (α/2)(‖w‖² + b²) with centred X: ȳ/(1 + α).

  Args:
    y_mean: ȳ, the training mean of the target.
    alpha: the strength(s).

  Returns:
    b_α, with the shape of ``alpha``.
  """
  return y_mean / (1.0 + np.asarray(alpha))


def predicted_cost(y_mean, alpha, mean_residual):
  r"""The test-MSE increase from penalising the bias: d² + 2d·E[r], d = ȳ − b_α.

  Args:
    y_mean: ȳ.
    alpha: the strength(s).
    mean_residual: E[r], the expected test residual of the model with a free
      intercept (same shape as ``alpha`` or broadcastable).

  Returns:
    Δ(α).
  """
  d = y_mean - penalised_intercept(y_mean, alpha)
  return d * d + 2 * d * np.asarray(mean_residual)


# --- the measurement: Dense-layout linear models with jaxreg penalties ------------

def _linear_predict(params, x):
  return (x @ params["kernel"])[:, 0] + params["bias"][0]


def _fit_linear(pen, x, y):
  r"""The minimiser of (1/2n)‖y − x·kernel − bias‖² + pen(params), for an L2 ``pen``.

  The objective is quadratic in the flattened parameters θ: with J the
  Jacobian of the predictions (the design with its column of ones, in the
  parameters' own order) and D the penalty's curvature (``pen.grad`` is
  linear for L2: its value at θ = 1 is the diagonal α·mask), the minimiser
  solves the normal equations (JᵀJ/n + D) θ = Jᵀy/n.
  """
  params0 = {"kernel": jnp.zeros((x.shape[1], 1), x.dtype), "bias": jnp.zeros((1,), x.dtype)}
  flat0, unravel = ravel_pytree(params0)
  jac = jax.jacfwd(lambda flat: _linear_predict(unravel(flat), x))(flat0)
  curvature, _ = ravel_pytree(pen.grad(unravel(jnp.ones_like(flat0))))
  n = x.shape[0]
  flat = jnp.linalg.solve(jac.T @ jac / n + jnp.diag(curvature), jac.T @ y / n)
  return unravel(flat)


# --- the network ------------------------------------------------------------------

def _mlp_apply(params, x):
  """A one-hidden-layer tanh MLP on flax.linen.Dense-style parameters."""
  h = jnp.tanh(x @ params["hidden"]["kernel"] + params["hidden"]["bias"])
  return (h @ params["out"]["kernel"] + params["out"]["bias"])[:, 0]


def _train_net(item, mask_weights_only, steps, lr):
  """Adam (cosine-decayed step) on data loss + L2; the model penalising every leaf
  or the masked one, as ``item["every"]`` says.

  Both models run in one vmapped program; the masked one's penalty is
  ``jr.L2(α, mask=mask_weights_only)``, the other's ``jr.L2(α)``. Returns the
  parameters, the final ‖∇J‖ and the relative change of J over the last tenth
  of the steps (how far from stationary the cap left it).
  """
  x, y, params = item["x"], item["y"], item["init"]
  masked, every = jr.L2(item["alpha"], mask=mask_weights_only), jr.L2(item["alpha"])
  objective = lambda p: (0.5 * jnp.mean((y - _mlp_apply(p, x)) ** 2)
                         + jnp.where(item["every"], every(p), masked(p)))
  tx = optax.adam(optax.cosine_decay_schedule(lr, steps, alpha=1e-3))

  def step(carry, _):
    p, s = carry
    u, s = tx.update(jax.grad(objective)(p), s, p)
    return (optax.apply_updates(p, u), s), objective(p)

  (params, _), trace = jax.lax.scan(step, (params, tx.init(params)), None, length=steps)
  final = objective(params)
  change = jnp.abs(trace[-(steps // 10)] - final) / jnp.abs(final)
  return params, optax.tree.norm(jax.grad(objective)(params)), change


def _net_data(rng, n, d, cfg):
  """Offset features and target: x ~ N(μₓ, I), y = μ_y + g(x − μₓ) + σε."""
  x = cfg["net_feature_mean"] + rng.standard_normal((n, d))
  z = x - cfg["net_feature_mean"]
  y = cfg["target_mean"] + np.sin(2 * z[:, 0]) + 0.5 * z[:, 1] * z[:, 2] \
      + 0.3 * cfg["noise"] * rng.standard_normal(n)
  return x, y


def run(*, seed: int = 0, out_dir: Any = None, full: bool = False,
        plant: Optional[str] = None, **settings) -> workbench.Result:
  """Runs the experiment: the cost of penalising biases, predicted and measured.

  Args:
    seed: random seed for the data and the network initialisations.
    out_dir: where the figure goes (a temporary folder when None).
    full: more data sets and a larger training cap for the network.
    plant: a planted mistake from ``PLANTS`` (None: none).
    **settings: the linear problem (``n_train``, ``n_features``, ``n_test``,
      ``target_mean``, ``feature_mean``, ``noise``, ``alphas``) and the
      network (``net_splits`` data sets, ``net_alphas``, ``net_feature_mean``,
      ``net_n_train``, ``net_n_test``, ``net_hidden`` units, ``net_lr`` the
      initial Adam step, ``net_steps``); a ``net_splits`` of 0 skips the
      network.

  Returns:
    A ``workbench.Result`` named ``"bias_penalty"``.
  """
  plant = workbench.planted(NAME, PLANTS, plant)
  cfg = workbench.settings(NAME, _DEFAULTS, _FULL, full, settings)
  fig_dir = workbench.figure_dir(out_dir)
  with jax.enable_x64(True):
    linear = _linear(seed, cfg, plant)
  net = _network(seed, cfg, plant) if cfg["net_splits"] > 0 else None
  return _result(linear, net, cfg, plant, fig_dir)


def _linear(seed, cfg, plant):
  from sklearn.linear_model import Ridge

  rng = np.random.default_rng(seed)
  n, p, m = cfg["n_train"], cfg["n_features"], cfg["n_test"]
  mu_x, mu_y, sigma = cfg["feature_mean"], cfg["target_mean"], cfg["noise"]
  w_star = rng.standard_normal(p) / np.sqrt(p)

  def draw(k):
    x = mu_x + rng.standard_normal((k, p))
    return x, mu_y + (x - mu_x) @ w_star + sigma * rng.standard_normal(k)

  x, y = draw(n)
  x_test, y_test = draw(m)
  x_mean, y_mean = x.mean(0), float(y.mean())
  xc, xc_test = x - x_mean, x_test - x_mean
  alphas = np.asarray(cfg["alphas"], np.float64)

  fits = {}
  for arm in _ARMS:
    pens = jr.L2(jnp.asarray(alphas), mask=_mask(arm, plant))
    params = jr.sweep(_fit_linear, pens, jnp.asarray(xc), jnp.asarray(y))
    w = np.asarray(params["kernel"])[..., 0]                        # (K, p)
    b = np.asarray(params["bias"])[:, 0]                            # (K,)
    pred = xc_test @ w.T + b                                        # (m, K)
    fits[arm] = dict(w=w, b=b, test_mse=np.mean((y_test[:, None] - pred) ** 2, 0),
                     residual=y_test[:, None] - pred)

  # The oracle: scikit-learn's Ridge centres X itself and leaves the intercept free.
  w_ridge = np.stack([Ridge(alpha=n * a, solver="cholesky").fit(x, y).coef_ for a in alphas])
  pred_alphas = 2 * alphas if plant == "alpha_doubled_in_closed_form" else alphas
  b_pred = penalised_intercept(y_mean, pred_alphas)
  mean_residual = mu_y - y_mean - (mu_x - x_mean) @ w_ridge.T       # E[r] at each α
  cost_pred = predicted_cost(y_mean, pred_alphas, mean_residual)
  cost_meas = fits["every_leaf"]["test_mse"] - fits["weights_only"]["test_mse"]
  d_pred = y_mean - b_pred
  sd_r = fits["weights_only"]["residual"].std(0, ddof=1)
  cost_se = 2 * np.abs(d_pred) * sd_r / np.sqrt(m)
  lam = np.linalg.eigvalsh(xc.T @ xc / n)
  cond = np.max(np.maximum(lam[-1] + alphas, 1 + alphas) / np.minimum(lam[0] + alphas, 1.0))
  return dict(alphas=alphas, y_mean=y_mean, x_mean=x_mean, fits=fits, w_ridge=w_ridge,
              b_pred=b_pred, cost_pred=cost_pred, cost_meas=cost_meas, cost_se=cost_se,
              mean_residual=mean_residual, cond=float(cond), n=n, p=p, m=m)


def _network(seed, cfg, plant):
  """Trains the MLP with both masks over α and data sets; test MSEs (α, split)."""
  rng = np.random.default_rng([seed, 1])
  s, d, n, h = cfg["net_splits"], 3, cfg["net_n_train"], cfg["net_hidden"]
  alphas = np.asarray(cfg["net_alphas"], np.float32)
  k = len(alphas)
  data = [_net_data(rng, n + cfg["net_n_test"], d, cfg) for _ in range(s)]
  xs, ys = (np.stack([a[i][:n] for a in data]).astype(np.float32) for i in (0, 1))
  xt, yt = (np.stack([a[i][n:] for a in data]).astype(np.float32) for i in (0, 1))
  # flax.linen.Dense's layout and scale of initialisation (kernels with variance
  # 1/fan_in, zero biases), drawn here: a vmapped flax init costs seconds of compilation.
  normal = lambda *shape: rng.standard_normal((s,) + shape).astype(np.float32) / np.sqrt(shape[0])
  inits = {"hidden": {"kernel": normal(d, h), "bias": np.zeros((s, h), np.float32)},
           "out": {"kernel": normal(h, 1), "bias": np.zeros((s, 1), np.float32)}}
  # Every (model, α, data set), model-major then α; both models start from the
  # same initialisation on the same data.
  tile = lambda a: np.tile(np.asarray(a), (2 * k,) + (1,) * (np.ndim(a) - 1))
  batch = dict(x=tile(xs), y=tile(ys), alpha=np.tile(np.repeat(alphas, s), 2),
               every=np.repeat([False, True], k * s), init=jax.tree.map(tile, inits))
  params, grad_norm, change = jr.sweep(
      _train_net, batch, _mask("weights_only", plant), int(cfg["net_steps"]),
      float(cfg["net_lr"]))
  pred = jax.vmap(_mlp_apply)(params, jnp.asarray(tile(xt)))
  mse = np.asarray(jnp.mean((jnp.asarray(tile(yt)) - pred) ** 2, -1)).reshape(2, k, s)
  b_out = np.asarray(params["out"]["bias"])[:, 0].reshape(2, k, s)
  out = {arm: dict(test_mse=mse[j], b_out=b_out[j]) for j, arm in enumerate(_ARMS)}
  diff = mse[1] - mse[0]                                                       # (k, s)
  cost = diff.mean(1)
  cost_se = diff.std(1, ddof=1) / np.sqrt(s) if s > 1 else np.full(k, np.nan)
  return dict(alphas=alphas, arms=out, cost=cost, cost_se=cost_se, y_mean=float(ys.mean()),
              splits=s, grad_norm=float(np.max(grad_norm)), change=float(np.max(change)))


# --- verdicts, tables, prose -----------------------------------------------------

def _result(lin, net, cfg, plant, fig_dir):
  u = np.finfo(np.float64).eps
  n, p, m = lin["n"], lin["p"], lin["m"]
  alphas, y_mean = lin["alphas"], lin["y_mean"]
  fits = lin["fits"]
  rounding = 8 * (n + p + 1) * lin["cond"] * u
  rounding_from = (f"float64 rounding: 8·(n + p + 1)·κ·u with κ = {lin['cond']:.2g} the largest "
                   "condition number of the Hessians, u = 2⁻⁵² (centring over n rows, a "
                   "backward-stable (p + 1)-dimensional solve)")
  verdicts = []

  err_b = np.max(np.abs(fits["every_leaf"]["b"] - lin["b_pred"]) / np.abs(lin["b_pred"]))
  verdicts.append(workbench.verdict(
      "With centred features, penalising the bias too shrinks the intercept to "
      "b = ȳ/(1 + α)",
      key="penalised_bias_closed_form",
      statistic="max over α of |b − ȳ/(1+α)| / |ȳ/(1+α)|, model penalising every leaf",
      value=err_b, threshold=rounding,
      measured=f"b = {fits['every_leaf']['b'][-1]:.4g} at α = {alphas[-1]:g}",
      predicted=f"{lin['b_pred'][-1]:.4g} (ȳ = {y_mean:.4g})",
      threshold_from=rounding_from))

  err_mean = np.max(np.abs(fits["weights_only"]["b"] - y_mean)) / abs(y_mean)
  verdicts.append(workbench.verdict(
      "With the bias left out of the penalty (jr.masks.weights_only) the intercept is the "
      "training mean ȳ at every α",
      key="unpenalised_bias_is_mean",
      statistic="max over α of |b − ȳ| / |ȳ|, model penalising the weights only",
      value=err_mean, threshold=rounding,
      measured=f"b = {fits['weights_only']['b'][-1]:.4g} at α = {alphas[-1]:g}",
      predicted=f"ȳ = {y_mean:.4g}", threshold_from=rounding_from))

  err_w = max(float(np.max(workbench.relative_error(fits[arm]["w"], lin["w_ridge"], axis=-1)))
              for arm in _ARMS)
  lin["weight_error"], lin["rounding"] = err_w, rounding
  verdicts.append(workbench.verdict(
      "Centred features decouple the intercept: the weights of both models equal scikit-learn's "
      "Ridge(alpha=n·α), whether or not the bias is penalised",
      key="weights_match_ridge",
      statistic="max over α and both models of ‖w − w_Ridge‖ / ‖w_Ridge‖",
      value=err_w, threshold=rounding,
      measured="w of both models", predicted="sklearn Ridge(alpha=n·α, solver='cholesky')",
      threshold_from=rounding_from))

  z = np.abs(lin["cost_meas"] - lin["cost_pred"]) / lin["cost_se"]
  z_max = float(np.max(z))
  z_tol = NormalDist().inv_cdf(1 - FAMILY_LEVEL / (2 * len(alphas)))
  verdicts.append(workbench.verdict(
      "Penalising the bias raises the test error by d² + 2d·E[r], d = ȳα/(1 + α): the cost "
      "grows with the target's mean",
      key="bias_penalty_cost",
      statistic="max over α of |Δ_measured − Δ_predicted| / SE, Δ = test MSE (every leaf) − "
                "test MSE (weights only)",
      value=z_max, threshold=z_tol,
      measured=f"Δ = {lin['cost_meas'][-1]:.4g} at α = {alphas[-1]:g}",
      predicted=f"{lin['cost_pred'][-1]:.4g}",
      threshold_from=f"two-sided normal quantile at family level {FAMILY_LEVEL:g}, Bonferroni "
                     f"over {len(alphas)} α; SE = 2|d|·sd(r)/√m from the {m} test points"))

  tables = [_linear_table(lin)]
  if net is not None:
    tables.append(_net_table(net))
  figures = [_figure(fig_dir, lin, net)]
  summary = _summary(lin, net, cfg)
  data = dict(linear={k: v for k, v in lin.items() if k != "fits"},
              linear_fits=fits, network=net)
  return workbench.Result(name=NAME, title="Regularize weights, not biases",
                          summary=summary, verdicts=verdicts, tables=tables, figures=figures,
                          data=data, plant=plant)


def _linear_table(lin):
  f = lin["fits"]
  rows = [[f"{a:g}", f"{f['weights_only']['b'][i]:.4f}", f"{f['every_leaf']['b'][i]:.4f}",
           f"{lin['b_pred'][i]:.4f}", f"{f['weights_only']['test_mse'][i]:.4f}",
           f"{f['every_leaf']['test_mse'][i]:.4f}",
           f"{lin['cost_meas'][i]:.4g} ± {lin['cost_se'][i]:.2g}", f"{lin['cost_pred'][i]:.4g}"]
          for i, a in enumerate(lin["alphas"])]
  return workbench.Table(
      f"Linear regression (n = {lin['n']}, p = {lin['p']}, ȳ = {lin['y_mean']:.3g}, "
      f"{lin['m']} test points): the intercept with the bias masked out and penalised, its "
      "prediction ȳ/(1 + α), the test MSEs and the cost Δ of penalising the bias, measured "
      "(± its test-set standard error) and predicted",
      ["α", "b (weights only)", "b (every leaf)", "ȳ/(1+α)", "test MSE (weights only)",
       "test MSE (every leaf)", "Δ measured", "Δ predicted"], rows)


def _net_table(net):
  a = net["arms"]
  rows = []
  for i, alpha in enumerate(net["alphas"]):
    rows.append([f"{alpha:g}", f"{a['weights_only']['test_mse'][i].mean():.4f}",
                 f"{a['every_leaf']['test_mse'][i].mean():.4f}",
                 f"{net['cost'][i]:+.4f} ± {net['cost_se'][i]:.2g}",
                 f"{a['weights_only']['b_out'][i].mean():.3f}",
                 f"{a['every_leaf']['b_out'][i].mean():.3f}"])
  return workbench.Table(
      f"The tanh MLP on offset features and targets (ȳ ≈ {net['y_mean']:.3g}), mean over "
      f"{net['splits']} data sets: test MSE with the biases masked out and penalised, the "
      "difference (± its standard error over data sets) and the output bias of each",
      ["α", "test MSE (weights only)", "test MSE (every leaf)", "cost", "output bias "
       "(weights only)", "output bias (every leaf)"], rows)


def _summary(lin, net, cfg):
  alphas = lin["alphas"]
  f = lin["fits"]
  i_big = len(alphas) - 1
  rel = lin["cost_meas"] / f["weights_only"]["test_mse"]
  first_sig = next((i for i in range(len(alphas))
                    if lin["cost_meas"][i] > 3 * lin["cost_se"][i]), None)
  lines = [
      "**Regularize weights, not biases.** With the features centred, the intercept of "
      "(1/2n)‖y − Xw − b‖² + (α/2)(‖w‖² + b²) decouples: b = ȳ/(1 + α) while the weights "
      "are those of ridge with a free intercept, so the model that penalises its bias predicts "
      "everything d = ȳα/(1 + α) too low and pays d² + 2d·E[r] in test MSE.",
      "",
      f"On a linear problem with target mean ȳ = {lin['y_mean']:.3g} (noise σ = "
      f"{cfg['noise']:g}), the fully penalised intercept fell from "
      f"{f['every_leaf']['b'][0]:.4g} at α = {alphas[0]:g} to {f['every_leaf']['b'][i_big]:.4g} "
      f"at α = {alphas[i_big]:g}, while the masked one stayed at {f['weights_only']['b'][i_big]:.4g}. "
      f"The test MSE grew by {lin['cost_meas'][i_big]:.3g} at α = {alphas[i_big]:g} "
      f"({100 * rel[i_big]:.0f}% of the masked model's {f['weights_only']['test_mse'][i_big]:.3g}; "
      f"predicted {lin['cost_pred'][i_big]:.3g})"
      + (f", and it is already more than three standard errors above zero from α = "
         f"{alphas[first_sig]:g}" if first_sig is not None else
         ", and at no α of the grid is it three standard errors above zero")
      + ". " + (
          f"The weights of both models agree with scikit-learn's ridge weights to "
          f"{lin['weight_error']:.1e} (relative): penalising the bias costs only through the "
          "intercept, in proportion to the target's mean squared."
          if lin["weight_error"] <= lin["rounding"] else
          f"The weights of the two models differ from scikit-learn's ridge weights by up to "
          f"{lin['weight_error']:.2g} (relative), more than rounding: the two models do not "
          "penalise the same weights."),
  ]
  if net is not None:
    lines.append("")
    k = len(net["alphas"])
    sig = [i for i in range(k) if net["cost"][i] > 2 * net["cost_se"][i]]
    neg = [i for i in range(k) if net["cost"][i] < -2 * net["cost_se"][i]]
    a = net["arms"]
    parts = [f"{net['cost'][i]:+.3g} ± {net['cost_se'][i]:.2g} at α = {net['alphas'][i]:g}"
             for i in range(k)]
    names = lambda idx: ", ".join(f"{net['alphas'][i]:g}" for i in idx)
    outcome = (f"Penalising the biases hurt by more than two standard errors at α = {names(sig)}"
               if sig else "At no α was the difference more than two standard errors above zero")
    if neg:
      outcome += f"; it helped by more than two standard errors at α = {names(neg)}"
    lines.append(
        f"**A network** (one tanh hidden layer of {cfg['net_hidden']} units; features offset "
        f"by {cfg['net_feature_mean']:g}, targets by {cfg['target_mean']:g}; {net['splits']} "
        "data sets) has no closed form: it can rebuild the offset from its weights, at a price "
        "in ‖W‖², so the cost is a measurement. Test MSE penalising every leaf minus that of "
        "the masked model: " + "; ".join(parts) + ". " + outcome + ". "
        f"The masked model's output bias averaged {a['weights_only']['b_out'].mean():.3g} and "
        f"the penalised one's {a['every_leaf']['b_out'].mean():.3g} (ȳ ≈ {net['y_mean']:.3g}). "
        f"After {cfg['net_steps']} Adam steps (cosine-decayed from {cfg['net_lr']:g}) the "
        f"largest gradient norm was {net['grad_norm']:.1e} and the objective moved by at most "
        f"{100 * net['change']:.2g}% over the last tenth of the steps: these are the costs of "
        "that training budget, not of exact minimisers.")
  lines.append("")
  lines.append("The figure shows the intercepts and the cost against α, measured and predicted"
               + (", and the network's cost with ±2 SE bars." if net is not None else "."))
  return "\n".join(lines)


def _figure(fig_dir, lin, net):
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  ncols = 3 if net is not None else 2
  fig, axes = plt.subplots(1, ncols, figsize=(4.2 * ncols, 3.8))
  a, f = lin["alphas"], lin["fits"]
  axes[0].semilogx(a, f["weights_only"]["b"], "o", color="tab:blue", label="b, weights only")
  axes[0].semilogx(a, f["every_leaf"]["b"], "s", color="tab:red", label="b, every leaf")
  axes[0].semilogx(a, lin["b_pred"], "-", color="k", lw=1, label="ȳ/(1+α)")
  axes[0].set_xlabel("α")
  axes[0].set_title("Linear: the intercept")
  axes[0].legend(fontsize=8)
  axes[1].errorbar(a, lin["cost_meas"], yerr=2 * lin["cost_se"], fmt="o", color="tab:red",
                   label="Δ test MSE, measured (± 2 SE)")
  axes[1].plot(a, lin["cost_pred"], "-", color="k", lw=1, label="d² + 2d·E[r]")
  axes[1].set_xscale("log")
  # Symmetric log: the cost spans decades and is within noise of 0 (either sign) at small α.
  axes[1].set_yscale("symlog", linthresh=float(np.min(lin["cost_se"])))
  axes[1].set_xlabel("α")
  axes[1].set_title("Linear: cost of penalising b")
  axes[1].legend(fontsize=8)
  if net is not None:
    axes[2].errorbar(net["alphas"], net["cost"], yerr=2 * np.nan_to_num(net["cost_se"]), fmt="o",
                     color="tab:purple", label="Δ test MSE (every leaf − weights only)")
    axes[2].axhline(0, color="k", lw=0.6)
    axes[2].set_xscale("log")
    axes[2].set_xlabel("α")
    axes[2].set_title("MLP: cost of penalising biases")
    axes[2].legend(fontsize=8)
  return workbench.save_figure(fig, fig_dir, "bias_penalty")
