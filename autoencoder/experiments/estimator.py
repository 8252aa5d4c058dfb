"""The library's sparse autoencoder as a scikit-learn transformer.

:class:`SparseAutoencoder` takes the options of
:class:`~autoencoder.core.model.Autoencoder` under their own names, and those
of :meth:`~autoencoder.core.model.Autoencoder.fit`, stores them as given and
checks them in :meth:`~SparseAutoencoder.fit`, where the library's own
validation names any bad one.  ``fit`` trains with the library (through the
model cache, :func:`autoencoder.experiments.cache.fit_cached`, when
``cache`` asks for it); ``transform`` gives the hidden activations
``f(W1 x + b1)`` and ``inverse_transform`` the decoder's reconstruction
``g(W2 a + b2)``, so that it fits in a :class:`~sklearn.pipeline.Pipeline`
before a classifier and is tuned by :class:`~sklearn.model_selection.GridSearchCV`.

Training is deterministic: the same options and data give the same bits,
after a refit, a :func:`~sklearn.base.clone` or a pickle round trip.
"""

from __future__ import annotations

import os

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ..core._validation import check_int, check_real
from ..core.activations import get_activation
from ..core.model import TERMS, Autoencoder, FitResult
from ..core.objective import output
from ..core.params import Params
from ..core.sparsity import L1_SMOOTHING
from .engine import fit_cached
from .measures import reconstruction_mse
from .training import train_run

__all__ = ["SparseAutoencoder", "expected_failed_checks"]

_FLOATS = [np.float64, np.float32]


class SparseAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """A single-hidden-layer autoencoder ``h(x) = g(W2 f(W1 x + b1) + b2)`` trained with L-BFGS.

    The features are the hidden activations ``f(W1 x + b1)``, one column per
    hidden unit.  The objective is ``J`` of :mod:`autoencoder.core.model`:
    the mean squared reconstruction error, the weight decay ``λ`` and the
    sparsity penalty ``β Σ φ(ρ̂_j)``.

    Parameters
    ----------
    n_hidden : int, default 25
        Number of hidden units ``p`` (≥ 1; with ``top_k``, at least ``top_k``).
    activation : str, default "sigmoid"
        Hidden transfer function ``f``: ``"sigmoid"``, ``"linear"``,
        ``"taylor1"``, ``"taylor3"``, ``"taylor5"`` or ``"relu"``.
    output_activation : str or None, default None
        Output transfer function ``g``; None uses ``activation``.  A sigmoid
        output reconstructs values in [0, 1] only, so it refuses to be fitted
        on data outside [0, 1]; ``"linear"`` takes any data.
    sparsity : str, default "kl"
        Sparsity penalty ``φ``: ``"kl"`` (needs a sigmoid hidden layer),
        ``"l2"``, ``"l1"`` or ``"none"``.
    rho : float, default 0.1
        Target mean activation ``ρ``.
    beta : float, default 3.0
        Weight ``β ≥ 0`` of the sparsity penalty.
    weight_decay : float, default 3e-3
        Weight decay ``λ ≥ 0``.
    top_k : int or None, default None
        Keep the ``top_k`` largest activations of each example (ReLU only).
    l1_smoothing : float, default 1e-4
        Width ``ε > 0`` of the smoothed ``"l1"`` penalty (only with ``sparsity="l1"``).
    max_iter : int, default 400
        L-BFGS iterations at most (≥ 0; 0 keeps the initial weights).
    tol : float, default 1e-12
        Relative reduction of ``J`` below which L-BFGS stops (≥ 0).
    random_state : int or None, default None
        Seed of the initial weights (an integer ≥ 0); None means 0, so that
        every fit is reproducible.  A ``RandomState`` or ``Generator`` is
        refused: the library draws its weights from a seed.
    cache : bool, str or os.PathLike, default False
        Train through the model cache (:func:`autoencoder.experiments.cache.fit_cached`):
        True uses the cache directory (``$AUTOENCODER_CACHE_DIR`` or the user
        cache), a path that directory.  A cached fit returns the bits of the
        training it stands for.

    Attributes
    ----------
    model_ : Autoencoder
        The validated configuration.
    fit_result_ : FitResult
        What the training returned.
    params_ : Params
        The trained ``W1, b1, W2, b2``.
    components_ : ndarray of shape (n_hidden, n_features_in_)
        The encoder weights ``W1``: one feature per row.
    history_ : dict of str to ndarray of shape (n_iter_ + 1,)
        ``reconstruction``, ``weight_decay``, ``sparsity`` and ``total`` at the
        start and after every iteration.
    loss_ : float
        The final value of ``J``.
    n_iter_ : int
        L-BFGS iterations taken.
    converged_ : bool
        Whether the training converged by the library's criterion
        (:attr:`autoencoder.FitResult.converged`: L-BFGS stopped on its own
        tolerance, or ``‖∇J‖∞ ≤ GRAD_TOL · max(1, |J|)``).
    grad_norm_ : float
        ``‖∇J‖∞`` at the trained parameters.
    stop_reason_ : str
        L-BFGS's stopping message.
    n_workers_ : int
        Evaluation threads the training ran on (they change the speed, not the bits).
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Their names, when ``X`` has string column names.

    Notes
    -----
    :meth:`score` is minus the mean over examples of ``‖x − h(x)‖²``, so that
    a grid search picks the configuration that reconstructs held-out data
    best (higher is better).  It is neither ``J`` nor its reconstruction term
    (``½`` of this mean): the penalties do not enter.

    float32 data trains and transforms in float32, float64 in float64; other
    numbers are converted to float64.

    Threads: each evaluation of ``J`` runs on
    :func:`autoencoder.core._fast.default_workers` threads, at most the BLAS
    threads NumPy was given, with BLAS itself at one thread.  Under joblib's
    process backends (``GridSearchCV(..., n_jobs=2)``), joblib gives each
    worker process ``cores // n_jobs`` BLAS threads, and so each fit that many
    evaluation threads (:attr:`n_workers_` records them).  Under a threading
    backend, limit them with ``threadpoolctl.threadpool_limits(k)`` around
    the search.  ``$AUTOENCODER_WORKERS``, when set, fixes the count in every
    process instead.  The count changes the speed, never the bits.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> X, y = load_digits(return_X_y=True)
    >>> pipe = make_pipeline(SparseAutoencoder(32, max_iter=50), LogisticRegression(max_iter=1000))
    >>> pipe.fit(X / 16, y).score(X / 16, y) > 0.8
    True
    """

    def __init__(
        self,
        n_hidden=25,
        *,
        activation="sigmoid",
        output_activation=None,
        sparsity="kl",
        rho=0.1,
        beta=3.0,
        weight_decay=3e-3,
        top_k=None,
        l1_smoothing=L1_SMOOTHING,
        max_iter=400,
        tol=1e-12,
        random_state=None,
        cache=False,
    ):
        self.n_hidden = n_hidden
        self.activation = activation
        self.output_activation = output_activation
        self.sparsity = sparsity
        self.rho = rho
        self.beta = beta
        self.weight_decay = weight_decay
        self.top_k = top_k
        self.l1_smoothing = l1_smoothing
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.cache = cache

    # -- the one validation point --------------------------------------------------------------
    def _model(self) -> Autoencoder:
        """The configuration, validated by the library (its ``ValueError`` names the parameter)."""
        return Autoencoder(
            n_hidden=self.n_hidden,
            activation=self.activation,
            output_activation=self.output_activation,
            sparsity=self.sparsity,
            rho=self.rho,
            beta=self.beta,
            weight_decay=self.weight_decay,
            top_k=self.top_k,
            l1_smoothing=self.l1_smoothing,
        )

    def _training(self) -> dict:
        """``max_iter``, ``tol`` and the seed, checked, as :meth:`Autoencoder.fit` takes them; ``cache`` checked."""
        seed = 0 if self.random_state is None else self.random_state
        if isinstance(seed, np.random.RandomState | np.random.Generator):
            raise ValueError(
                f"random_state must be None or an integer >= 0 (the seed of the initial weights); "
                f"got a {type(seed).__name__}: pass an integer"
            )
        if not isinstance(self.cache, bool | str | os.PathLike):
            raise ValueError(f"cache must be True, False or a directory; got {self.cache!r}")
        return {
            "max_iter": check_int("max_iter", self.max_iter, 0),
            "tol": check_real("tol", self.tol, low=0),
            "seed": check_int("random_state", seed, 0),
        }

    # -- scikit-learn's interface ----------------------------------------------------------------
    def fit(self, X, y=None):
        """Train on ``X``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Examples in rows; within [0, 1] for a sigmoid output.
        y : None
            Ignored.

        Returns
        -------
        self : SparseAutoencoder

        Raises
        ------
        ValueError
            If an option is invalid (the message names it and what is
            allowed), or ``X`` is not a finite 2-D array of numbers, or leaves
            [0, 1] with a sigmoid output.
        """
        model = self._model()
        training = self._training()
        X = validate_data(self, X, dtype=_FLOATS)
        if self.cache is False:
            result = train_run(model, model._check_X(X), **training)
        else:
            result = fit_cached(model, X, directory=None if self.cache is True else self.cache, **training)
        self.model_ = model
        self.fit_result_ = result
        return self

    def transform(self, X):
        """The hidden activations ``f(X W1ᵀ + b1)``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features_in_)

        Returns
        -------
        ndarray of shape (n_samples, n_hidden)
            In ``X``'s dtype when float32 or float64, else float64.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=_FLOATS)
        return self.model_.encode(self.fit_result_.params, X)

    def inverse_transform(self, X):
        """The decoder's reconstruction ``g(A W2ᵀ + b2)`` of hidden activations ``A``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_hidden)
            Hidden activations, as :meth:`transform` returns them.

        Returns
        -------
        ndarray of shape (n_samples, n_features_in_)
            ``inverse_transform(transform(X))`` is the network's reconstruction of ``X``.
        """
        check_is_fitted(self)
        A = check_array(X, dtype=_FLOATS, input_name="X")
        if A.shape[1] != self.model_.n_hidden:
            raise ValueError(
                f"X has {A.shape[1]} columns, but inverse_transform takes the {self.model_.n_hidden} hidden "
                "activations that transform returns"
            )
        return output(self.model_.g, self.fit_result_.params.astype(A.dtype), A)[1]

    def score(self, X, y=None):
        """Minus the mean squared reconstruction error: ``−(1/m) Σ ‖x − h(x)‖²`` (higher is better).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features_in_)
        y : None
            Ignored.

        Returns
        -------
        float
            At most 0; the penalties of ``J`` do not enter.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=_FLOATS)
        return -reconstruction_mse(X, self.model_.reconstruct(self.fit_result_.params, X))

    @property
    def _n_features_out(self) -> int:
        """Number of features :meth:`transform` gives (names ``sparseautoencoder0``, …)."""
        return self.model_.n_hidden

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # -- what the training found -------------------------------------------------------------------
    @property
    def params_(self) -> Params:
        return self.fit_result_.params

    @property
    def components_(self) -> np.ndarray:
        return self.fit_result_.params.W1

    @property
    def history_(self) -> dict[str, np.ndarray]:
        return self.fit_result_.history

    @property
    def loss_(self) -> float:
        return self.fit_result_.loss

    @property
    def n_iter_(self) -> int:
        return self.fit_result_.n_iter

    @property
    def converged_(self) -> bool:
        return self.fit_result_.converged

    @property
    def grad_norm_(self) -> float:
        return self.fit_result_.grad_norm

    @property
    def stop_reason_(self) -> str:
        return self.fit_result_.message

    @property
    def n_workers_(self) -> int:
        return self.fit_result_.workers

    @classmethod
    def from_fit(cls, model: Autoencoder, result: FitResult | Params, *, n_features_in: int | None = None):
        """A fitted estimator holding a network trained elsewhere (a sweep, a continuation, the cache).

        Parameters
        ----------
        model : Autoencoder
            The configuration it was trained with.
        result : FitResult or Params
            What the training returned, or its parameters alone (then the
            history is unknown: one NaN per term, and no iteration).
        n_features_in : int, optional
            Checked against the parameters when given.

        Returns
        -------
        SparseAutoencoder
            Its options are ``model``'s (the training's are the defaults);
            refitting it trains anew.
        """
        if isinstance(result, Params):
            unknown = {term: np.array([np.nan]) for term in TERMS}
            result = FitResult(
                params=result,
                history=unknown,
                n_iter=0,
                n_evals=0,
                message="trained elsewhere",
                success=False,
                wall_time=0.0,
            )
        params = result.params
        if params.n_hidden != model.n_hidden:
            raise ValueError(f"params has {params.n_hidden} hidden units, but model has n_hidden={model.n_hidden}")
        if n_features_in is not None and n_features_in != params.n_visible:
            raise ValueError(f"n_features_in={n_features_in}, but params takes {params.n_visible} features")
        options = model.to_dict()
        estimator = cls(**options)
        estimator.model_ = model
        estimator.fit_result_ = result
        estimator.n_features_in_ = params.n_visible
        return estimator


def _sigmoid_output(estimator: SparseAutoencoder) -> bool:
    """Whether the output transfer reconstructs values in [0, 1] only (False when the option is unknown)."""
    name = estimator.output_activation if estimator.output_activation is not None else estimator.activation
    try:
        return get_activation(name).unit_range
    except ValueError:
        return False


def expected_failed_checks(estimator: SparseAutoencoder) -> dict[str, str]:
    """scikit-learn's estimator checks that cannot apply to ``estimator``, each with the reason.

    For :func:`sklearn.utils.estimator_checks.check_estimator` and
    :func:`~sklearn.utils.estimator_checks.parametrize_with_checks`
    (``expected_failed_checks=``): scikit-learn 1.6 moved the expected
    failures out of the estimator tags into this argument.  A network with
    a linear (or any unbounded) output passes every check; one with a
    sigmoid output refuses data outside [0, 1], which the random data of
    most checks leave.

    Returns
    -------
    dict of str to str
        The check's name and why it cannot pass; empty for an unbounded output.
    """
    if not _sigmoid_output(estimator):
        return {}
    reason = "a sigmoid output refuses data outside [0, 1], and this check fits on such data"
    failed = dict.fromkeys(_CHECKS_ON_DATA_OUTSIDE_THE_UNIT_INTERVAL, reason)
    failed["check_positive_only_tag_during_fit"] = (
        "a sigmoid output refuses negative data with the library's message, which names [0, 1], not "
        "scikit-learn's 'Negative values in data'; the positive_only tag would not help, since the checks "
        "shift such data to start at 0, not to end at 1"
    )
    return failed


_CHECKS_ON_DATA_OUTSIDE_THE_UNIT_INTERVAL = (
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_estimators_dtypes",
    "check_estimators_fit_returns_self",
    "check_estimators_overwrite_params",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_fit2d_1feature",
    "check_fit2d_1sample",
    "check_fit2d_predict1d",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_array_api_input",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_n_features_in",
    "check_n_features_in_after_fitting",
    "check_pipeline_consistency",
    "check_readonly_memmap_input",
    "check_transformer_data_not_an_array",
    "check_transformer_general",
    "check_transformer_n_iter",
    "check_transformer_preserve_dtypes",
)
"""The checks of scikit-learn 1.9 that fit on random data with values outside [0, 1].

``check_array_api_input`` is among them; scikit-learn runs it only when
``$SCIPY_ARRAY_API`` is set at start-up (and skips it otherwise)."""
