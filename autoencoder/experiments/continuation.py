"""Training an ``l1`` network by continuation in the width of its smoothing.

The ``l1`` penalty is the smoothed ``sqrt(d² + ε²) − ε`` of
:func:`autoencoder.core.sparsity.l1_value`, ``d = ρ̂_j − ρ``.  L1 is an exact
penalty: its optimum puts many ``ρ̂_j`` on the kink ``d = 0``, where at the
documented ``ε = 10⁻⁴`` the curvature ``1/ε`` is ten thousand times that of
the rest of the objective and L-BFGS crawls.  A continuation trains with a
wide ``ε`` first (near the target the penalty is then the gentle quadratic
``d²/(2ε)``), then with narrower ones down to the model's own, each stage
warm-started from the previous stage's parameters: one chain
(:class:`autoencoder.experiments.runs.Chain`) of the engine, every stage
through the model cache (the warm start is part of the key).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core._validation import check_int, check_real, check_values, real_interval
from ..core.model import Autoencoder, FitResult
from ..core.params import Params
from .engine import train
from .runs import Chain

__all__ = ["ContinuationResult", "check_widths", "fit_l1_continuation", "stage_iterations"]


@dataclass(frozen=True)
class ContinuationResult:
    """What :func:`fit_l1_continuation` returns.

    Attributes
    ----------
    widths : tuple of float
        The smoothing width ``ε`` of each stage, decreasing; the last is the
        model's ``l1_smoothing``.
    stages : tuple of FitResult
        The result of each stage, in order.
    """

    widths: tuple[float, ...]
    stages: tuple[FitResult, ...]

    @property
    def final(self) -> FitResult:
        """The last stage's result (at the model's own width)."""
        return self.stages[-1]

    @property
    def params(self) -> Params:
        """The trained parameters (those of the last stage)."""
        return self.final.params

    @property
    def loss(self) -> float:
        """Final ``J`` at the model's own width."""
        return self.final.loss

    @property
    def message(self) -> str:
        """Why the last stage stopped (its optimizer's message)."""
        return self.final.message

    @property
    def n_iter(self) -> int:
        """L-BFGS iterations of all stages together."""
        return sum(stage.n_iter for stage in self.stages)

    @property
    def wall_time(self) -> float:
        """Seconds of the original trainings of all stages together."""
        return sum(stage.wall_time for stage in self.stages)

    @property
    def history(self) -> dict[str, np.ndarray]:
        """Every stage's history, concatenated (each term, of shape (n_iter + len(stages),)).

        Each stage contributes its starting point and every iteration; a
        stage's starting point is the previous stage's end, evaluated at the
        new width, so ``sparsity`` and ``total`` step up there.
        """
        return {k: np.concatenate([stage.history[k] for stage in self.stages]) for k in self.final.history}

    def relative_decrease(self, last: int) -> float:
        """``(J_{-last-1} − J_{-1}) / J_{-1}`` over the last stage's last ``last`` iterations.

        Parameters
        ----------
        last : int
            Iterations, ``1 <= last <= final.n_iter``.

        Returns
        -------
        float
            How much the objective still fell at the end: near 0 once the
            run is converged.
        """
        total = self.final.history["total"]
        last = check_int("last", last, 1, len(total) - 1)
        return float((total[-last - 1] - total[-1]) / abs(total[-1]))


def check_widths(widths, smoothing: float, name: str = "widths") -> tuple[float, ...]:
    """Validate a schedule of smoothing widths and return it as floats.

    Parameters
    ----------
    widths : sequence of float
        Strictly decreasing, each finite and > 0.
    smoothing : float
        The model's ``l1_smoothing``; the last width must equal it.
    name : str, default "widths"
        The parameter's name in the messages (a chapter's knob, say).

    Returns
    -------
    tuple of float

    Raises
    ------
    ValueError
        Naming ``name``, when ``widths`` is empty, holds a value that is not a
        finite number > 0 or a value twice (:func:`autoencoder.core._validation.check_values`),
        does not decrease strictly, or does not end at ``smoothing``.
    """
    out = tuple(
        check_values(
            name,
            widths,
            lambda item, width: check_real(item, width, low=0, low_open=True),
            allowed=f"real numbers in {real_interval(0, low_open=True)}, decreasing to {smoothing:g}",
        )
    )
    if any(b >= a for a, b in zip(out[:-1], out[1:], strict=True)):
        raise ValueError(f"{name} must decrease strictly; got {widths!r}")
    if out[-1] != smoothing:
        raise ValueError(f"{name} must end at the model's l1_smoothing={smoothing:g}; got {widths!r}")
    return out


def fit_l1_continuation(
    model: Autoencoder,
    X,
    *,
    widths: Sequence[float],
    max_iter: int | Sequence[int],
    seed: int = 0,
    tol: float = 1e-12,
    directory: Path | None = None,
) -> ContinuationResult:
    """Train an ``l1`` network stage by stage, from a wide smoothing ``ε`` down to its own.

    Parameters
    ----------
    model : Autoencoder
        With ``sparsity="l1"``; its ``l1_smoothing`` is the last width.
    X : ndarray of shape (m, n)
        Training examples in rows.
    widths : sequence of float
        The width ``ε`` of each stage: finite, > 0, strictly decreasing and
        ending at ``model.l1_smoothing``.  A single width is a plain fit.
    max_iter : int or sequence of int
        L-BFGS iterations of every stage (an int), or of each (one per
        width); each >= 1.
    seed : int, default 0
        Seed of the first stage's initial weights.
    tol : float, default 1e-12
        As for :meth:`Autoencoder.fit`, every stage.
    directory : Path, optional
        Model cache directory; default :func:`autoencoder.experiments.cache.cache_dir`.

    Returns
    -------
    ContinuationResult
        The stages' results; ``params`` and ``loss`` are the last stage's.

    Raises
    ------
    ValueError
        Before any training, when ``model`` is not an ``l1`` Autoencoder, or
        ``widths``, ``max_iter`` or ``seed`` are out of range.
    """
    if not isinstance(model, Autoencoder) or model.sparsity != "l1":
        sparsity = getattr(model, "sparsity", None)
        raise ValueError(f"model must be an Autoencoder with sparsity='l1'; got sparsity={sparsity!r}")
    widths = check_widths(widths, model.l1_smoothing)
    if isinstance(max_iter, Sequence) and not isinstance(max_iter, (str, bytes)):
        if len(max_iter) != len(widths):
            raise ValueError(f"max_iter must be an int or one int per width ({len(widths)}); got {max_iter!r}")
        iterations = tuple(check_int(f"max_iter[{i}]", n, 1) for i, n in enumerate(max_iter))
    else:
        iterations = (check_int("max_iter", max_iter, 1),) * len(widths)
    seed = check_int("seed", seed, 0)
    stages = tuple(dataclasses.replace(model, l1_smoothing=width) for width in widths)
    chain = Chain(stages, "X", iterations, seed, tol, warm_start=True)
    ((*results,),) = train([chain], {"X": X}, directory=directory)
    return ContinuationResult(widths, tuple(results))


def stage_iterations(max_iter: int, n_stages: int, stage_iter: int) -> list[int]:
    """Split ``max_iter`` L-BFGS iterations over the stages of an L1 continuation.

    Every stage after the first gets ``min(stage_iter, max_iter // n_stages)``
    iterations and the first gets the rest, so the stages together take
    exactly ``max_iter``, the budget of every other network.

    Parameters
    ----------
    max_iter : int
        ``≥ n_stages``.
    n_stages : int
        ``≥ 1``.
    stage_iter : int
        ``≥ 1``: iterations of each later stage, when the budget allows.

    Returns
    -------
    list of int
        ``n_stages`` numbers ``≥ 1`` that sum to ``max_iter``.

    Raises
    ------
    ValueError
        Naming ``max_iter`` when it is below ``n_stages``.
    """
    n_stages = check_int("n_stages", n_stages, 1)
    max_iter = check_int("max_iter", max_iter, 1)
    stage_iter = check_int("stage_iter", stage_iter, 1)
    if max_iter < n_stages:
        raise ValueError(f"max_iter must be at least the {n_stages} stages of the continuation; got {max_iter}")
    later = min(stage_iter, max_iter // n_stages)
    return [max_iter - later * (n_stages - 1)] + [later] * (n_stages - 1)
