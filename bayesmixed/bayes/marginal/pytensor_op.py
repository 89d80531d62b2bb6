"""PyTensor Ops exposing the NumPy marginal likelihood to PyMC graphs (and to JAX).

Writing the blocked factorization as a symbolic graph works but scales badly: unrolled k×k
block algebra for a three-column term produced gradient graphs whose rewriting alone took
minutes. Wrapping :class:`~bayesmixed.bayes.marginal.MarginalModel` in an Op keeps the PyMC
model small (it compiles in a second or two), reuses the exact analytic gradient, and gives
every sampler the same implementation: PyMC's NUTS through ``perform``, NumPyro through a
JAX ``pure_callback`` with a custom VJP.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from .likelihood import MarginalModel

__all__ = ["MarginalLogLik", "MarginalLogLikGrad"]


class _Cache:
    """Last (inputs → value, gradients) pair: NUTS asks for ℓ and ∇ℓ at the same point."""

    def __init__(self, mm: MarginalModel):
        self.mm = mm
        self.key: bytes | None = None
        self.value: tuple | None = None

    def __call__(self, beta, sigma, Ls):
        key = b"".join(np.ascontiguousarray(a, dtype=float).tobytes() for a in (beta, sigma, *Ls))
        if key != self.key:
            ll, db, ds, dS = self.mm.loglik_grad(beta, float(sigma), Ls)
            # Σ = LL' so ∂ℓ/∂L = 2 G L, lower triangle only
            dL = [np.tril(2.0 * G @ L) for G, L in zip(dS, Ls, strict=True)]
            self.key = key
            self.value = (ll, db, ds, dL)
        return self.value


class MarginalLogLik(Op):
    """ℓ(β, σ, L₁, …, L_T): log marginal likelihood with the random effects integrated out.

    Inputs are the fixed effects (for the centred X the model was built with), the residual
    SD, and each term's covariance Cholesky factor (k×k, lower triangular).
    """

    def __init__(self, mm: MarginalModel):
        self.mm = mm
        self.cache = _Cache(mm)
        self.grad_op = MarginalLogLikGrad(self)

    # Ops are compared by props; this one holds data, so identity is the only equality.
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def make_node(self, beta, sigma, *Ls):
        inputs = [pt.as_tensor_variable(beta), pt.as_tensor_variable(sigma)]
        inputs += [pt.as_tensor_variable(L) for L in Ls]
        return Apply(self, inputs, [pt.dscalar()])

    def perform(self, node, inputs, outputs):
        beta, sigma, *Ls = inputs
        outputs[0][0] = np.asarray(self.cache(beta, sigma, Ls)[0], dtype="float64")

    def grad(self, inputs, output_grads):
        (g,) = output_grads
        return [g * d for d in self.grad_op(*inputs)]


class MarginalLogLikGrad(Op):
    """Gradient of :class:`MarginalLogLik` with respect to each of its inputs."""

    def __init__(self, parent: MarginalLogLik):
        self.parent = parent

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def make_node(self, beta, sigma, *Ls):
        inputs = [pt.as_tensor_variable(beta), pt.as_tensor_variable(sigma)]
        inputs += [pt.as_tensor_variable(L) for L in Ls]
        return Apply(self, inputs, [inp.type() for inp in inputs])

    def perform(self, node, inputs, outputs):
        beta, sigma, *Ls = inputs
        _, db, ds, dL = self.parent.cache(beta, sigma, Ls)
        outputs[0][0] = np.asarray(db, dtype="float64")
        outputs[1][0] = np.asarray(ds, dtype="float64")
        for i, d in enumerate(dL):
            outputs[2 + i][0] = np.asarray(d, dtype="float64")


def _register_jax() -> None:
    """Let NumPyro (via PyMC's JAX conversion) call the NumPy likelihood."""
    try:
        import jax
        import jax.numpy as jnp
        from pytensor.link.jax.dispatch import jax_funcify
    except ImportError:  # JAX is optional
        return

    @jax_funcify.register(MarginalLogLik)
    def _funcify(op, **kwargs):
        def host_value_grad(beta, sigma, *Ls):
            ll, db, ds, dL = op.cache(
                np.asarray(beta), np.asarray(sigma), [np.asarray(L) for L in Ls]
            )
            return (
                np.float64(ll),
                np.asarray(db, "float64"),
                np.float64(ds),
                *[np.asarray(d, "float64") for d in dL],
            )

        def shapes(beta, sigma, *Ls):
            f64 = jnp.float64
            return (
                jax.ShapeDtypeStruct((), f64),
                jax.ShapeDtypeStruct(beta.shape, f64),
                jax.ShapeDtypeStruct((), f64),
                *[jax.ShapeDtypeStruct(L.shape, f64) for L in Ls],
            )

        def value_and_grads(beta, sigma, *Ls):
            # one host call gives ℓ and all its gradients: the value is the forward result,
            # the gradients are kept as the residuals the backward pass scales
            return jax.pure_callback(
                host_value_grad,
                shapes(beta, sigma, *Ls),
                beta,
                sigma,
                *Ls,
                vmap_method="sequential",
            )

        @jax.custom_vjp
        def loglik(beta, sigma, *Ls):
            return value_and_grads(beta, sigma, *Ls)[0]

        def fwd(beta, sigma, *Ls):
            out = value_and_grads(beta, sigma, *Ls)
            return out[0], out[1:]

        def bwd(res, g):
            return tuple(g * r for r in res)

        loglik.defvjp(fwd, bwd)
        return loglik


_register_jax()
