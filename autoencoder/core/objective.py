"""The objective ``J(W, b)`` and its gradient by the backpropagation of Appendix A.

This module is the straightforward, equation-by-equation implementation: one
line per equation of the paper's Appendix A, vectorized over the rows of ``X``
(rows are examples).  With ``m`` examples,

.. math::

    a^{(2)} &= f(z^{(2)}), \\quad z^{(2)} = X W_1^\\top + b_1
        &&\\text{(hidden layer, shape (m, p))}\\\\
    h &= g(z^{(3)}), \\quad z^{(3)} = a^{(2)} W_2^\\top + b_2
        &&\\text{(output layer, shape (m, n))}\\\\
    \\hat\\rho &= \\tfrac1m \\textstyle\\sum_i a^{(2)}_i\\\\
    J &= \\tfrac1m \\textstyle\\sum_i \\tfrac12 \\lVert h_i - x_i \\rVert^2
        + \\tfrac\\lambda2 (\\lVert W_1 \\rVert_F^2 + \\lVert W_2 \\rVert_F^2)
        + \\beta \\textstyle\\sum_j \\varphi(\\hat\\rho_j)\\\\
    \\delta^{(3)} &= (h - X) \\odot g'(z^{(3)})\\\\
    \\delta^{(2)} &= \\bigl(\\delta^{(3)} W_2 + \\beta \\varphi'(\\hat\\rho)\\bigr) \\odot f'(z^{(2)})
        &&\\text{(the modified backpropagation)}\\\\
    \\nabla_{W_2} J &= \\tfrac1m \\delta^{(3)\\top} a^{(2)} + \\lambda W_2, \\quad
    \\nabla_{b_2} J = \\tfrac1m \\textstyle\\sum_i \\delta^{(3)}_i\\\\
    \\nabla_{W_1} J &= \\tfrac1m \\delta^{(2)\\top} X + \\lambda W_1, \\quad
    \\nabla_{b_1} J = \\tfrac1m \\textstyle\\sum_i \\delta^{(2)}_i

:class:`Objective` holds what ``J`` depends on besides the parameters and
the data, and evaluates it three ways: :meth:`Objective.reference` is this
module's equation-by-equation implementation, :meth:`Objective.fast` the one
used for training (:mod:`autoencoder.core._fast`), which must agree with it (tests
check it to 1e-12 relative in float64), and :meth:`Objective.covariance` the
covariance form of an affine network (:mod:`autoencoder.core.covariance`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _fast, covariance
from .activations import Activation
from .params import Params
from .sparsity import SparsityPenalty

__all__ = ["Objective", "hidden", "output"]


def hidden(f: Activation, params: Params, X: np.ndarray):
    """Hidden pre-activations and activations ``z2 = X W1ᵀ + b1``, ``a2 = f(z2)``."""
    z2 = X @ params.W1.T + params.b1
    return z2, f.forward(z2)


def output(g: Activation, params: Params, a2: np.ndarray):
    """Output pre-activations and reconstructions ``z3 = a2 W2ᵀ + b2``, ``h = g(z3)``."""
    z3 = a2 @ params.W2.T + params.b2
    return z3, g.forward(z3)


@dataclass(frozen=True)
class Objective:
    """``J`` without its parameters and data: the transfer functions, the penalty, ``ρ``, ``β`` and ``λ``.

    :attr:`autoencoder.Autoencoder.objective` hands it out.

    Parameters
    ----------
    f, g : Activation
        Hidden and output transfer functions.
    penalty : SparsityPenalty
        ``φ``.
    rho : float
        ``ρ``.
    beta : float
        ``β``; 0 disables the sparsity term.
    weight_decay : float
        ``λ``.
    """

    f: Activation
    g: Activation
    penalty: SparsityPenalty
    rho: float
    beta: float
    weight_decay: float

    @property
    def affine(self) -> bool:
        """Whether both transfer functions are affine, so that :meth:`covariance` applies."""
        return covariance.applies(self.f, self.g)

    def terms(self, params: Params, X: np.ndarray) -> dict[str, float]:
        """The three terms of ``J`` and their sum.

        Parameters
        ----------
        params : Params
        X : ndarray of shape (m, n)
            Examples in rows, same dtype as ``params``.

        Returns
        -------
        dict
            ``reconstruction`` (``(1/m) Σ ½‖h − x‖²``), ``weight_decay``
            (``λ ½ (‖W1‖² + ‖W2‖²)``), ``sparsity`` (``β Σ φ(ρ̂)``) and
            ``total``, as Python floats.
        """
        _, a2 = hidden(self.f, params, X)
        _, h = output(self.g, params, a2)
        return self.terms_of(params, X, a2, h)

    def terms_of(self, params: Params, X: np.ndarray, a2: np.ndarray, h: np.ndarray) -> dict[str, float]:
        """:meth:`terms` from a forward pass already made: ``a2 = f(X W1ᵀ + b1)``, ``h = g(a2 W2ᵀ + b2)``.

        Parameters
        ----------
        params : Params
        X : ndarray of shape (m, n)
        a2 : ndarray of shape (m, p)
            Hidden activations of ``X``.
        h : ndarray of shape (m, n)
            Reconstructions of ``X``.
        """
        m = X.shape[0]
        recon = 0.5 * float(np.sum((h - X) ** 2)) / m
        decay = 0.5 * self.weight_decay * float(np.sum(params.W1**2) + np.sum(params.W2**2))
        sparse = self.beta * float(np.sum(self.penalty.value(a2.mean(axis=0), self.rho))) if self.beta else 0.0
        return {
            "reconstruction": recon,
            "weight_decay": decay,
            "sparsity": sparse,
            "total": recon + decay + sparse,
        }

    def reference(self, params: Params, X: np.ndarray) -> tuple[float, Params]:
        """``J`` and its gradient, straightforwardly, one line per equation.

        Parameters
        ----------
        params : Params
            The point at which to evaluate.
        X : ndarray of shape (m, n)
            Examples in rows, same dtype as ``params``.

        Returns
        -------
        loss : float
        grad : Params
            In a fresh flat vector of the parameters' dtype.
        """
        f, g, penalty, rho, beta, weight_decay = self.f, self.g, self.penalty, self.rho, self.beta, self.weight_decay
        m = X.shape[0]
        z2, a2 = hidden(f, params, X)
        z3, h = output(g, params, a2)
        rho_hat = a2.mean(axis=0)
        diff = h - X
        loss = (
            0.5 * float(np.sum(diff**2)) / m
            + 0.5 * weight_decay * float(np.sum(params.W1**2) + np.sum(params.W2**2))
            + (beta * float(np.sum(penalty.value(rho_hat, rho))) if beta else 0.0)
        )
        delta3 = diff * g.derivative(z3, h)
        sparsity_term = beta * penalty.derivative(rho_hat, rho) if beta else 0.0
        delta2 = (delta3 @ params.W2 + sparsity_term) * f.derivative(z2, a2)
        grad = Params.zeros(params.n_visible, params.n_hidden, params.dtype)
        grad.W2[...] = delta3.T @ a2 / m + weight_decay * params.W2
        grad.b2[...] = delta3.sum(axis=0) / m
        grad.W1[...] = delta2.T @ X / m + weight_decay * params.W1
        grad.b1[...] = delta2.sum(axis=0) / m
        return loss, grad

    def fast(
        self,
        params: Params,
        X: np.ndarray,
        grad: Params,
        *,
        workspace: _fast.Workspace | None = None,
        terms: bool = False,
    ):
        """``J`` on the data, its gradient written into ``grad`` (:func:`autoencoder.core._fast.loss_and_grad`).

        Returns
        -------
        loss : float
        terms : dict, only when ``terms`` is True
        """
        return _fast.loss_and_grad(self, params, X, grad, workspace=workspace, terms=terms)

    def covariance(
        self,
        params: Params,
        moments: covariance.Moments,
        grad: Params,
        *,
        workspace: covariance.Workspace | None = None,
        terms: bool = False,
    ):
        """``J`` of an affine network from the data's moments (:func:`autoencoder.core.covariance.loss_and_grad`).

        Returns
        -------
        loss : float
        terms : dict, only when ``terms`` is True
        """
        return covariance.loss_and_grad(self, params, moments, grad, workspace=workspace, terms=terms)
