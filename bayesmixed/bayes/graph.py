"""Design + priors → a PyMC model with partial-pooling priors.

Three parameterizations of the same model (and so one posterior):

``"noncentered"``  b = L z with z ~ N(0, I): best when groups carry little information;
``"centered"``     b ~ N(0, Σ) directly: best when every group is well identified;
``"marginal"``     b integrated out analytically (:mod:`~bayesmixed.bayes.marginal`, wrapped in a
                   PyTensor Op by :mod:`~bayesmixed.bayes.ops`): NUTS samples
                   only β, σ, the SDs and correlations; b is drawn afterwards from its exact
                   Gaussian conditional posterior for every draw.
``"partial"``      crossed terms too wide to integrate out together: the effects of the
                   data-rich terms are sampled (centred or non-centred, per term) and the
                   others integrated out given them (:mod:`~bayesmixed.bayes.marginal.partial`;
                   nutpie only — the other samplers get the non-centred graph).

Named variables (PyMC names): fixed effects by R column name, with ``"Intercept"`` for the
intercept at the mean of the other predictors (non-intercept columns are centred for
sampling, as brms does; the reported ``(Intercept)`` is transformed back); ``"sd__c|g"``
for random-effect SDs; ``"cor|g"`` for the canonical partial correlations of a correlated
term (each ``2·Beta(β_i, β_i) − 1``, which makes the correlation matrix LKJ(η)
distributed); ``"z|g"`` / ``"b|g"`` for the random effects; ``"sigma"``; observed ``"y"``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..design.build import Design
from ..errors import ArgumentError
from .marginal.likelihood import MarginalModel, structure_of
from .marginal.partition import integrable, partial_split, prefers_partial
from .priors import PriorSet

if TYPE_CHECKING:
    import pymc

__all__ = [
    "GraphInfo",
    "graph_info",
    "build_model",
    "choose_parameterization",
    "PARAMETERIZATIONS",
    "Parameterization",
]

PARAMETERIZATIONS = ("auto", "marginal", "partial", "noncentered", "centered")


class Parameterization(str):
    """The parameterization sampled (a string, as before) that also says per term what it
    got: ``.terms`` maps each term's name to ``"marginal"`` (integrated out),
    ``"centered"`` or ``"noncentered"``.

    Examples
    --------
    >>> p = Parameterization("partial", {"s": "marginal", "d": "centered"})
    >>> p == "partial", p.terms["d"]
    (True, 'centered')
    >>> p
    'partial' (s: marginal, d: centered)
    """

    terms: dict

    def __new__(cls, name: str, terms: dict):
        obj = super().__new__(cls, name)
        obj.terms = dict(terms)
        return obj

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}: {v}" for k, v in self.terms.items())
        return f"{str.__repr__(self)} ({inner})" if inner else str.__repr__(self)

    def __reduce__(self):
        return (Parameterization, (str(self), self.terms))


@dataclass
class GraphInfo:
    """What the builder did, for mapping draws back to the primer's quantities."""

    parameterization: str
    structure: str
    xmeans: np.ndarray  # column means subtracted from non-intercept columns (0 for intercept)
    intercept: int | None  # index of (Intercept) in xnames
    fixed_rv: list[str]  # PyMC name of each fixed column's RV
    sd_rv: list[list[str]]  # per term, per column
    cor_rv: list[str | None]  # per term
    re_rv: list[str]  # per term ("z|g" or "b|g"; unused for marginal)
    coords: dict = field(default_factory=dict)
    y_data: str | None = None  # name of the pm.Data holding y when built with mutable_y=True
    # "partial": the sampled terms, the integrated ones in factorization order, and per term
    # name what it got (the sampled terms' centring is settled when sampling starts)
    sampled: list[int] = field(default_factory=list)
    integrated: list[int] = field(default_factory=list)
    term_modes: dict = field(default_factory=dict)

    def described(self, design: Design) -> Parameterization:
        """The parameterization with what each term of ``design`` got."""
        modes = self.term_modes or {t.name: self.parameterization for t in design.terms}
        return Parameterization(self.parameterization, modes)


def choose_parameterization(design: Design) -> str:
    """``"auto"``: the marginal form whenever its structured factorization applies (nested
    chains of any size; crossed terms whose dense Schur block is at most ``DENSE_LIMIT``
    wide) unless the partly marginal form — some terms' effects sampled, the rest integrated
    out given them — is estimated much cheaper, or the marginal form does not apply;
    otherwise non-centred.

    Examples
    --------
    >>> import bayesmixed as bm
    >>> m = bm.MixedModel("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
    >>> choose_parameterization(m.design)
    'marginal'
    """
    if not design.terms:
        return "noncentered"
    if prefers_partial(design):
        return "partial"
    return "marginal" if integrable(design) else "noncentered"


def _cpc_betas(k: int, eta: float) -> np.ndarray:
    """Beta parameters of the canonical partial correlations for LKJ(η) in dimension k
    (Lewandowski, Kurowicka & Joe 2009, C-vine): level i (0-based) has η + (k − 2 − i)/2."""
    out = []
    for i in range(k - 1):
        for _j in range(i + 1, k):
            out.append(eta + (k - 2 - i) / 2.0)
    return np.array(out)


def _chol_from_cpc(w, k: int) -> list[list]:
    """Cholesky factor of a correlation matrix from canonical partial correlations
    (``w`` packed by levels: w[0,1..k-1], w[1,2..k-1], ...)."""
    import pytensor.tensor as pt

    W = [[None] * k for _ in range(k)]
    pos = 0
    for i in range(k - 1):
        for j in range(i + 1, k):
            W[i][j] = w[pos]
            pos += 1
    L: list[list] = [[None] * k for _ in range(k)]
    L[0][0] = pt.constant(1.0)
    for j in range(1, k):
        rem = 1.0
        for i in range(j):
            L[j][i] = W[i][j] * pt.sqrt(rem)
            rem = rem - L[j][i] ** 2
        L[j][j] = pt.sqrt(rem)
    return L


def _fixed_names(xnames: list[str], taken: set[str]) -> list[str]:
    out = []
    for c in xnames:
        name = "Intercept" if c == "(Intercept)" else c
        if name in taken:
            name = f"{name}_fixed"
        out.append(name)
    return out


def graph_info(design: Design, parameterization: str = "auto") -> GraphInfo:
    """Names, centring and the resolved parameterization, without building the PyMC graph
    (the compiled marginal sampler needs no PyMC model, and importing PyMC costs seconds).

    Examples
    --------
    >>> import bayesmixed as bm
    >>> m = bm.MixedModel("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
    >>> graph_info(m.design).fixed_rv
    ['Intercept', 'Days']
    """
    if parameterization not in PARAMETERIZATIONS:
        raise ArgumentError(
            f"parameterization must be one of {', '.join(PARAMETERIZATIONS)}, "
            f"got {parameterization!r}"
        )
    if parameterization == "auto":
        parameterization = choose_parameterization(design)
    if not design.terms and parameterization in ("marginal", "partial", "centered"):
        parameterization = "noncentered"
    split = partial_split(design) if parameterization == "partial" else None
    if parameterization == "partial" and split is None:
        raise ArgumentError(
            "parameterization='partial' needs a term that can be integrated out given the "
            "others; this model has none: use 'auto', 'noncentered' or 'centered'"
        )
    structure = structure_of(design)[0] if design.terms else "none"

    X = design.X
    intercept = design.xnames.index("(Intercept)") if design.has_intercept else None
    xmeans = np.zeros(design.p)
    if intercept is not None:
        xmeans = X.mean(axis=0)
        xmeans[intercept] = 0.0

    coords: dict[str, list] = {"fixed": list(design.xnames), "obs": list(range(design.n))}
    for t in design.terms:
        coords[f"{t.name}__level"] = list(t.levels)
        coords[f"{t.name}__coef"] = list(t.cnames)
        if t.k > 1:
            coords[f"{t.name}__cpc"] = [
                f"{t.cnames[i]}.{t.cnames[j]}" for i in range(t.k - 1) for j in range(i + 1, t.k)
            ]

    sd_rv = [[f"sd__{c}|{t.name}" for c in t.cnames] for t in design.terms]
    cor_rv = [f"cor|{t.name}" if t.k > 1 else None for t in design.terms]
    re_prefix = "b" if parameterization == "centered" else "z"
    re_rv = [f"{re_prefix}|{t.name}" for t in design.terms]
    taken = {"sigma", "y", *(n for s in sd_rv for n in s), *(c for c in cor_rv if c), *re_rv}
    fixed_rv = _fixed_names(design.xnames, taken)

    info = GraphInfo(
        parameterization=parameterization,
        structure=structure,
        xmeans=xmeans,
        intercept=intercept,
        fixed_rv=fixed_rv,
        sd_rv=sd_rv,
        cor_rv=cor_rv,
        re_rv=re_rv,
        coords=coords,
    )
    if split is not None:
        info.sampled, info.integrated = split
    return info


def _probe_blas_quietly() -> None:
    """Let PyTensor look for a BLAS to link its C code against now, silently.

    Without a system BLAS (every pip install) PyTensor warns at its first C compilation that
    it "could not link to a BLAS installation ... severely degraded", and then uses NumPy's
    BLAS through the C API, which is all these graphs need (matrix-vector products and
    gathers). The search runs once per process and its result is cached in PyTensor's config,
    so reading the setting here, under a filter, replaces the alarm with nothing. A BLAS that
    PyTensor does find (a conda install, or ``PYTENSOR_FLAGS=blas__ldflags=...``) is used.
    """
    import pytensor

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
        _ = pytensor.config.blas__ldflags


def build_model(
    design: Design,
    priors: PriorSet,
    parameterization: str = "auto",
    *,
    mutable_y: bool = False,
) -> tuple[pymc.Model, GraphInfo]:
    """Build the PyMC model.

    Parameters
    ----------
    design : Design
    priors : PriorSet
        From :func:`bayesmixed.bayes.priors.resolve_priors`.
    parameterization : {"auto", "marginal", "partial", "noncentered", "centered"}
    mutable_y : bool
        Hold y in a ``pm.Data`` container (named ``info.y_data``) instead of a constant, so
        that ``pm.set_data`` can swap in a new response without rebuilding or recompiling the
        model (simulation-based calibration refits one design many times). Only for the
        non-marginal parameterizations: the marginal log-likelihood factorizes y in NumPy.

    Returns
    -------
    (pymc.Model, GraphInfo)
    """
    import pymc as pm
    import pytensor.tensor as pt

    from .marginal.pytensor_op import MarginalLogLik

    _probe_blas_quietly()
    info = graph_info(design, parameterization)
    if info.parameterization == "partial":
        if parameterization == "partial":
            raise ArgumentError(
                "parameterization='partial' has no PyMC graph (it runs on nutpie's compiled "
                "density): use 'noncentered' or 'centered' for a PyMC model"
            )
        info = graph_info(design, "noncentered")
    parameterization = info.parameterization
    if mutable_y and parameterization == "marginal":
        raise ArgumentError(
            "mutable_y=True needs parameterization='noncentered' or 'centered': the marginal "
            "likelihood precomputes its factorization from y"
        )
    coords = info.coords
    sd_rv, cor_rv, re_rv, fixed_rv = info.sd_rv, info.cor_rv, info.re_rv, info.fixed_rv
    Xc = design.X - info.xmeans

    with pm.Model(coords=coords) as model:
        betas = []
        for name, rv in zip(design.xnames, fixed_rv, strict=True):
            betas.append(priors.fixed[name].create(rv))
        beta = pt.stack(betas) if betas else pt.zeros((0,))
        sigma = priors.sigma.create("sigma")

        # all SDs first, then all correlations: the unconstrained layout of the NumPy density
        sd_vars = [[priors.sd[n].create(n) for n in sd_rv[ti]] for ti in range(len(design.terms))]
        Ls = []
        for ti, t in enumerate(design.terms):
            sds = sd_vars[ti]
            if t.k > 1:
                eta = float(priors.cor[cor_rv[ti]].params.get("eta", 1.0))
                bp = _cpc_betas(t.k, eta)
                u = pm.Beta(cor_rv[ti], alpha=bp, beta=bp, dims=f"{t.name}__cpc")
                Lc = _chol_from_cpc(2.0 * u - 1.0, t.k)
            else:
                Lc = [[pt.constant(1.0)]]
            L = [
                [None if Lc[a][b] is None else sds[a] * Lc[a][b] for b in range(t.k)]
                for a in range(t.k)
            ]
            Ls.append(L)

        Lms = [
            pt.stack(
                [
                    pt.stack([Ls[ti][a][b] if b <= a else pt.constant(0.0) for b in range(t.k)])
                    for a in range(t.k)
                ]
            )
            for ti, t in enumerate(design.terms)
        ]
        if parameterization == "marginal":
            op = MarginalLogLik(MarginalModel(design, Xc))
            pm.Potential("marginal_loglik", op(beta, sigma, *Lms))
        else:
            mu = pt.dot(Xc, beta) if design.p else pt.zeros(design.n)
            for ti, t in enumerate(design.terms):
                dims = (f"{t.name}__level", f"{t.name}__coef")
                Lm = Lms[ti]
                if parameterization == "noncentered":
                    z = pm.Normal(re_rv[ti], 0.0, 1.0, dims=dims)
                    b = pt.dot(z, Lm.T)
                elif t.k == 1:
                    b = pm.Normal(re_rv[ti], 0.0, Lm[0, 0], dims=dims)
                else:
                    b = pm.MvNormal(re_rv[ti], mu=pt.zeros(t.k), chol=Lm, dims=dims)
                mu = mu + pt.sum(t.X * b[t.codes], axis=1)
            y_obs = design.y
            if mutable_y:
                name = "y_data"
                while name in model.named_vars:
                    name += "_"
                y_obs = pm.Data(name, design.y, dims="obs")
                info.y_data = name
            pm.Normal("y", mu=mu, sigma=sigma, observed=y_obs, dims="obs")

    return model, info
