"""The engine: every training of the book, on this process, an embedded cluster or a Dask cluster.

A training is a :class:`~autoencoder.experiments.runs.Run`; a *chain*
(:class:`~autoencoder.experiments.runs.Chain`) is trainings done one after
another in one task, each starting from the previous one's solution when the
chain warm-starts (continuation in β or in the L1 smoothing), so a chain
keeps its order wherever it runs; independent runs are chains of one.
:func:`train` checks and hashes each data set once, looks every run up in
the model cache, maps the missing ones over an :class:`Engine` and writes
what comes back; :func:`fit_cached` is one run through it.  Every chapter
trains through :func:`train`, so with a scheduler configured
(``$DASK_SCHEDULER_ADDRESS``) the process building the book trains nothing
itself.

* **Embedded by default.**  Without configuration the engine starts, when
  there is more than one chain to train, an in-process
  ``distributed.LocalCluster`` of worker processes sized to the machine,
  each with one thread and one BLAS thread (so cores are not oversubscribed
  and each training runs one evaluation worker), and closes it afterwards.
  A single chain to train trains in this process instead, its evaluations
  on the process's worker count; ``n_workers=1`` trains every chain in this
  process, on one core.
* **A real cluster when given one.**  A scheduler address (the ``scheduler``
  argument, else Dask's own ``scheduler-address`` configuration, e.g.
  ``$DASK_SCHEDULER_ADDRESS``) or a ``distributed.Client`` sends the same
  sweep to an existing cluster.  Its workers need this package installed,
  nothing else: the data are scattered to them, each task returns its
  :class:`~autoencoder.FitResult` objects, and the client writes the model
  cache (:mod:`autoencoder.experiments.cache`), which it checks first so that only
  missing points are submitted.  Nothing assumes a shared filesystem.
* **The same bits everywhere.**  A training's bits depend on its chain only,
  never on the worker it ran on or how many there are
  (:mod:`autoencoder.core._fast`), given the same BLAS kernel; an entry trained
  with another kernel is stored under that kernel's key.
* **Faults.**  A worker lost in the middle of a sweep is Dask's business: the
  scheduler reschedules its task (and the client submits again, up to
  :data:`RESUBMISSIONS` times, a task the cluster lost), and the results are
  the same.  A point that fails (a bad configuration, a training that ends
  in NaN) fails the sweep with :class:`SweepError` naming the point, after
  every other task has finished and been written to the cache.  A scheduler
  that does not answer within :data:`CONNECT_TIMEOUT` seconds, or that is
  lost during the sweep, ends it with :class:`SchedulerError`, naming its
  address and how many of the sweep's points are in the model cache (those
  that were there, and those trained and written before it was lost): run
  the sweep again once it is back, and only the rest is trained.

The command line that trains a sweep from a TOML file is :mod:`autoencoder.experiments.sweep`.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core._fast import single_worker
from ..core._validation import check_int
from ..core.model import Autoencoder, FitResult
from ..core.params import Params
from .model_store import Data, cache_dir, checked_data, find, keep, numerics, training_label
from .progress import ENV_MODE, fit_progress
from .runs import Chain, Run
from .training import train_run

__all__ = [
    "CONNECT_TIMEOUT",
    "Chain",
    "Engine",
    "RESUBMISSIONS",
    "SchedulerError",
    "SweepError",
    "WORKER_ENVIRONMENT",
    "Run",
    "describe_point",
    "fit_cached",
    "run_chains",
    "tally",
    "train",
]

WORKER_ENVIRONMENT = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    ENV_MODE: "0",
}
"""Environment of the embedded cluster's worker processes: one BLAS thread, no progress bar.

A worker's stderr is not where the reader looks; a progress file, when the
client has one, still gets the workers' lines."""

RESUBMISSIONS = 3
"""How many times a task lost by the cluster (not a failed training) is submitted again.

Dask itself reschedules the task of a worker that dies; a task cancelled
with its data or killed too often is submitted again by the client."""

CONNECT_TIMEOUT = 10
"""Seconds a client waits for a scheduler given by address to answer, and to answer again once lost.

Dask's own default (``distributed.comm.timeouts.connect``, 30 s) is meant
for a scheduler that is still starting; a sweep's scheduler is already up,
so one that is silent for this long is taken to be unreachable."""


class SweepError(RuntimeError):
    """A point of a sweep failed; the message names it.  The points that finished are in the cache."""


class SchedulerError(ConnectionError):
    """The scheduler could not be reached, or was lost during the sweep.

    The message names its address and how many of the sweep's points are in
    the model cache; they stay there, so a second run trains only the rest.
    """


def tally(advance: Callable[[int], None]) -> Callable[[int], None]:
    """``count(more)`` for :func:`run_chains`: adds up the points done and passes the total to ``advance``.

    ``advance`` is that of :func:`autoencoder.experiments.progress.task_progress`, so
    several calls of :func:`run_chains` can report to one bar.
    """
    done = 0

    def count(more: int) -> None:
        nonlocal done
        done += more
        advance(done)

    return count


def describe_point(model: Autoencoder, m: int, max_iter: int, seed: int) -> str:
    """A point as ``key=value`` pairs, for error messages."""
    settings = {"n_train": m, **model.to_dict(), "max_iter": max_iter, "seed": seed}
    return ", ".join(
        f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}" for key, value in settings.items()
    )


def _train_chain(chain: Chain, X, one_core: bool = True) -> tuple[list[FitResult], tuple[int, str] | None, dict]:
    """Train a chain here (on a worker or in the client): its results, the first failure, the numerics.

    ``X`` is checked already.  ``one_core``: every evaluation on one worker
    and one BLAS thread (a task beside others); otherwise the evaluations use
    the process's default worker count.  Neither changes a bit.  A failure
    ends the chain (the later points would start from it) and is returned,
    not raised, with the results before it, so that the client keeps them.
    """
    # Data scattered to a worker arrive in a buffer that need not be aligned, and every product on
    # unaligned rows is several times slower; an aligned copy has the same values.
    X = np.require(X, requirements=("C", "A"))
    results, start = [], chain.start
    with single_worker() if one_core else nullcontext():
        for index in range(len(chain.models)):
            run = chain.run(index, start)
            try:
                with fit_progress(training_label(run.model, X.shape[0]), run.max_iter) as callback:
                    result = train_run(
                        run.model,
                        X,
                        max_iter=run.max_iter,
                        seed=run.seed,
                        params=run.start,
                        tol=run.tol,
                        optimizer=run.optimizer,
                        callback=callback,
                    )
                if not (np.isfinite(result.params.flat).all() and np.isfinite(result.loss)):
                    raise FloatingPointError(f"the training ended at J = {result.loss!r} with non-finite parameters")
            except Exception as err:  # reported to the client with the point's name
                return results, (index, f"{type(err).__name__}: {err}"), numerics()
            results.append(result)
            start = chain.start_after(result.params)
    return results, None, numerics()


class Engine:
    """Where a sweep runs: this process, an embedded ``LocalCluster``, or an existing Dask cluster.

    Nothing starts until :meth:`client` is first called, so a sweep read
    entirely from the model cache starts no cluster.  Use it as a context
    manager; leaving it closes what it started (never a ``Client`` given to it).

    Parameters
    ----------
    scheduler : str or distributed.Client, optional
        The address of a Dask scheduler (``"tcp://host:8786"``) or a client
        connected to one.  Default: Dask's ``scheduler-address``
        configuration (``$DASK_SCHEDULER_ADDRESS``), else an embedded cluster.
    n_workers : int, optional
        Worker processes of the embedded cluster; default the cores available
        to this process.  1 trains in this process.  Ignored with a scheduler.

    Raises
    ------
    ValueError
        If ``scheduler`` is neither a non-empty string nor a Client, or
        ``n_workers < 1``.
    """

    def __init__(self, scheduler=None, *, n_workers: int | None = None):
        import dask

        if scheduler is None:
            scheduler = dask.config.get("scheduler-address", None) or None
        if scheduler is not None and not _is_client(scheduler):
            if not isinstance(scheduler, str) or not scheduler.strip():
                raise ValueError(
                    f"scheduler must be a Dask scheduler address such as 'tcp://127.0.0.1:8786' or a "
                    f"distributed.Client; got {scheduler!r}"
                )
            scheduler = scheduler.strip()
        if n_workers is None:
            n_workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        self.scheduler = scheduler
        self.n_workers = check_int("n_workers", n_workers, 1)
        self._client = self._cluster = None
        self._restore_main = _nothing

    @property
    def in_process(self) -> bool:
        """Whether chains are trained in this process (no scheduler and one worker)."""
        return self.scheduler is None and self.n_workers == 1

    def client(self):
        """The ``distributed.Client`` of the cluster, started on the first call; None when in process."""
        if self.in_process:
            return None
        if self._client is None:
            from distributed import Client, LocalCluster

            if _is_client(self.scheduler):
                self._client = self.scheduler
            elif self.scheduler is not None:
                self._client = Client(self.scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
            else:
                self._restore_main = _hide_main_path()
                self._cluster = LocalCluster(
                    n_workers=self.n_workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    silence_logs=logging.ERROR,
                    env=WORKER_ENVIRONMENT,
                )
                self._client = Client(self._cluster, set_as_default=False)
        return self._client

    def close(self) -> None:
        """Close the client and the cluster this engine started."""
        client, cluster, self._client, self._cluster = self._client, self._cluster, None, None
        if client is not None and client is not self.scheduler:
            with _quiet(client.status != "running"):  # closing stops its reconnection, which logs a traceback
                client.close()
        if cluster is not None:
            cluster.close()
        self._restore_main()
        self._restore_main = _nothing

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _nothing() -> None:
    pass


@contextmanager
def _quiet(lost: bool):
    """Keep the client's log quiet while it closes, when it has lost its scheduler (:class:`SchedulerError` says so)."""
    log = logging.getLogger("distributed.client")
    disabled, log.disabled = log.disabled, log.disabled or lost
    try:
        yield
    finally:
        log.disabled = disabled


def _hide_main_path() -> Callable[[], None]:
    """Keep the embedded cluster's worker processes from running the main script; return the undo.

    A spawned process runs the parent's main script again, by its path, before
    it unpickles anything: a script read from standard input has no path to
    run (the process pool died with BrokenProcessPool), and one without an
    ``if __name__ == "__main__"`` guard would start its sweep again in every
    worker.  The tasks of a sweep need nothing from the main script, so while
    the cluster lives the script's path is hidden from :mod:`multiprocessing`.
    A main module imported by name (``python -m``, Jupyter) is left alone.
    """
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None or "__file__" not in vars(main):
        return _nothing
    path = main.__file__
    del main.__file__

    def restore() -> None:
        main.__file__ = path

    return restore


def _is_client(value) -> bool:
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - dask is pinned in requirements.txt
        return False
    return isinstance(value, Client)


@dataclass
class _Collector:
    """The results of the chains as they arrive, and the first failure."""

    chains: Sequence[Chain]
    datasets: Mapping[str, Data]
    directory: Path | None
    advance: Callable[[int], None]
    results: list[list[FitResult]] = field(default_factory=list)
    failure: str | None = None
    foreign: bool = False

    def __post_init__(self):
        self.results = [[] for _ in self.chains]

    def cached(self, verb: str) -> str:
        """How many of the chains' points ``verb`` (are, were) in the cache, in words."""
        done, total = sum(len(r) for r in self.results), sum(len(chain.models) for chain in self.chains)
        return f"{done} of the sweep's {total} points {verb} in the model cache ({self.directory or cache_dir()})"

    def take(self, index: int, chain: Chain, results, failure, trained_with) -> None:
        """Store the results of ``chain`` (the rest of ``self.chains[index]``) and note its failure."""
        data = self.datasets[chain.data]
        begin = chain.start
        if trained_with != numerics() and not self.foreign:
            self.foreign = True
            warnings.warn(
                f"the cluster trains with other numerics ({trained_with}) than this process ({numerics()}); "
                "its results are cached under their own key",
                stacklevel=4,
            )
        for position, result in enumerate(results):
            keep(chain.run(position, begin), data, result, self.directory, trained_with)
            self.results[index].append(result)
            begin = chain.start_after(result.params)
        self.advance(len(results))
        if failure is not None and self.failure is None:
            position, message = failure
            n_iter = chain.iterations[position]
            point = describe_point(chain.models[position], data.X.shape[0], n_iter, chain.seed)
            self.failure = f"the sweep's point {point} failed: {message}"


def train(
    chains: Sequence[Chain | Run],
    datasets: Mapping[str, np.ndarray] | np.ndarray,
    *,
    engine: Engine | None = None,
    directory: Path | None = None,
    advance: Callable[[int], None] | None = None,
) -> list[list[FitResult]]:
    """Train runs and chains through the model cache, on ``engine``: the one way the book trains.

    Each data set is checked once (for every model that trains on it) and
    hashed once; every run is looked up in the cache, only the missing ones
    go to the engine, and what comes back is written to the cache here, in
    the calling process.

    Parameters
    ----------
    chains : sequence of Chain or Run
        What to train; a :class:`Run` is a chain of one.
    datasets : mapping of str to ndarray of shape (m, n), or one ndarray
        The training data by name (the ``data`` of the chains; a Run trains
        on ``"X"``), or the data of every chain, named ``"X"``.  Scattered
        to the cluster's workers when something is trained there.
    engine : Engine, optional
        Default ``Engine()``: Dask's configured scheduler
        (``$DASK_SCHEDULER_ADDRESS``), else an embedded cluster when more
        than one chain is to be trained, else this process; closed on return.
    directory : Path, optional
        Cache directory; default :func:`autoencoder.experiments.model_store.cache_dir`.
    advance : callable, optional
        ``advance(count)`` after ``count`` more points are done (read from
        the cache, or trained).

    Returns
    -------
    list of list of FitResult
        ``results[i][j]``: the ``j``-th stage of ``chains[i]``.

    Raises
    ------
    ValueError
        Before anything is submitted: a chain names unknown data, or data
        its models cannot train on.
    SweepError
        When a point failed, naming it, once every other task is done and stored.
    SchedulerError
        When the engine's scheduler cannot be reached (within
        :data:`CONNECT_TIMEOUT` seconds) or is lost, naming its address and
        how many points are in the cache.
    """
    advance = advance or (lambda count: None)
    if not isinstance(datasets, Mapping):
        datasets = {"X": datasets}
    chains = [_as_chain(chain) for chain in chains]
    users = {}
    for chain in chains:
        if chain.data not in datasets:
            raise ValueError(f"a chain trains on data {chain.data!r}, which is not among {sorted(datasets)}")
        users.setdefault(chain.data, []).extend(chain.models)
    checked = {name: checked_data(datasets[name], models) for name, models in users.items()}
    collector = _Collector(chains, checked, directory, advance)
    pending = []
    for index, chain in enumerate(chains):
        start, data = chain.start, checked[chain.data]
        for position in range(len(chain.models)):
            found = find(chain.run(position, start), data, directory)
            if found is None:
                pending.append((index, chain.rest(position, start)))
                break
            collector.results[index].append(found)
            start = chain.start_after(found.params)
    if any(collector.results):
        advance(sum(len(r) for r in collector.results))
    if pending:
        own = engine is None
        engine = engine or Engine()
        try:
            _submit(engine, pending, checked, collector)
        finally:
            if own:
                engine.close()
    if collector.failure is not None:
        raise SweepError(collector.failure)
    return collector.results


run_chains = train
"""The name :func:`train` had when it trained only sweeps' chains."""


def _as_chain(item: Chain | Run) -> Chain:
    if isinstance(item, Chain):
        return item
    if isinstance(item, Run):
        return Chain((item.model,), "X", item.max_iter, item.seed, item.tol, item.start, optimizer=item.optimizer)
    raise ValueError(f"chains must hold Chain or Run values; got {type(item).__name__}")


def fit_cached(
    model: Autoencoder,
    X,
    *,
    max_iter: int = 400,
    seed: int = 0,
    params: Params | None = None,
    tol: float = 1e-12,
    directory: Path | None = None,
    optimizer=None,
) -> FitResult:
    """:meth:`Autoencoder.fit`, or its stored result when this exact run was done before.

    One :class:`Run` through :func:`train`: with a Dask scheduler configured
    (``$DASK_SCHEDULER_ADDRESS``) it trains there, else in this process.

    Parameters
    ----------
    model : Autoencoder
    X : ndarray of shape (m, n)
    max_iter, seed, params, tol
        As for :meth:`Autoencoder.fit`; all are part of the key.
    directory : Path, optional
        Cache directory; default :func:`autoencoder.experiments.model_store.cache_dir`.
    optimizer : autoencoder.core.adam.Adam, optional
        A minibatch optimizer instead of L-BFGS (its settings join the key;
        ``max_iter`` must be its ``max_epochs``).  Runs without one keep the
        keys they always had.

    Returns
    -------
    FitResult
        ``wall_time`` is that of the original training run.

    Notes
    -----
    While it trains, :func:`autoencoder.experiments.progress.fit_progress` shows the
    iterations and ``J`` (a bar in Jupyter or a terminal, a line in the book
    build's progress file; nothing when ``$AUTOENCODER_PROGRESS`` is ``0``).
    """
    ((result,),) = train([Run(model, max_iter, seed, tol, params, optimizer)], {"X": X}, directory=directory)
    return result


def _submit(engine: Engine, pending, datasets: Mapping[str, Data], collector: _Collector) -> None:
    """Train the pending chains on the engine, storing each as it arrives.

    One chain alone, with no scheduler given, trains in this process (a
    cluster would add its start-up and nothing else), its evaluations on
    the process's default worker count unless the engine was given one
    worker.  A scheduler that cannot be reached, or is lost, raises
    :class:`SchedulerError`.
    """
    try:
        client = None if engine.scheduler is None and len(pending) == 1 else engine.client()
    except OSError:
        if engine.scheduler is None:
            raise
        raise SchedulerError(
            f"no Dask scheduler answered at {_address(engine)} within {CONNECT_TIMEOUT} s; "
            f"{collector.cached('were already')}, nothing was trained"
        ) from None
    if client is None:
        one_core = engine.n_workers == 1
        for index, chain in pending:
            collector.take(index, chain, *_train_chain(chain, datasets[chain.data].X, one_core))
        return
    try:
        _submit_to(client, pending, {name: data.X for name, data in datasets.items()}, collector)
    except Exception as err:
        if not _lost(client, err):
            raise
        raise SchedulerError(
            f"lost the Dask scheduler at {_address(engine)} during the sweep; "
            f"{collector.cached('are')}, a second run trains only the rest"
        ) from None


def _submit_to(client, pending, datasets, collector: _Collector) -> None:
    """:func:`_submit` on a cluster: submit every chain, store each result as it comes, resubmit lost tasks."""
    from distributed import as_completed

    token, scattered, futures = uuid.uuid4().hex[:12], {}, {}

    def send(order, index, chain, attempt):
        if chain.data not in scattered:
            scattered[chain.data] = client.scatter(datasets[chain.data], broadcast=True, hash=False)
        key = f"train-chain-{token}-{order}-{attempt}"
        future = client.submit(_train_chain, chain, scattered[chain.data], pure=False, key=key, priority=-order)
        futures[future] = (order, index, chain, attempt)
        return future

    running = as_completed(
        [send(order, index, chain, 0) for order, (index, chain) in enumerate(pending)], loop=client.loop
    )
    for future in running:
        order, index, chain, attempt = futures.pop(future)
        try:
            outcome = future.result()
        except Exception as err:  # the task was lost, not the training (which reports its own failure)
            if _lost(client, err):
                raise
            if attempt < RESUBMISSIONS:
                scattered.pop(chain.data, None)  # the data may have gone with a worker: send them again
                running.add(send(order, index, chain, attempt + 1))
                continue
            outcome = ([], (0, f"{type(err).__name__}: {err}"), numerics())
        collector.take(index, chain, *outcome)
        future.release()


def _lost(client, err: Exception) -> bool:
    """Whether ``err`` came from the client losing its scheduler (not from a worker, nor a training)."""
    return client.status != "running" or getattr(err, "reason", None) == "scheduler-connection-lost"


def _address(engine: Engine) -> str:
    return engine.scheduler.scheduler.address if _is_client(engine.scheduler) else engine.scheduler


# -- the command line ---------------------------------------------------------------------------
