"""jaxreg's research workbench: experiments that test regularization theory.

``python -m research`` runs every experiment and writes ``reports/REPORT.md``;
``python -m research NAME --out DIR --seed N`` runs one. Each experiment is a
module ``research/<name>.py`` with ``run(**config) -> workbench.Result``.
"""

EXPERIMENTS = (
    "shrinkage",
    "bayes",
    "lagrange",
    "weight_decay",
    "sparsity",
    "lp_norms",
    "symmetry",
    "dropout",
    "alpha_conventions",
    "validation_curve",
    "bias_penalty",
    "early_stopping",
    "support_recovery",
    "double_descent",
    "normalization",
    "adamw",
)
