"""Sweeps on Dask: configuration checks, failures, and the same bits in process, embedded and on a real cluster.

The cluster tests start their own ``dask scheduler`` and two ``dask worker``
processes on 127.0.0.1 (free ports, a cache directory of their own that must
stay empty, stopped at the end) and are marked ``slow``.
"""

import csv
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from dask_cluster import TIMEOUT, free_port, start_cluster, stop

from autoencoder.core.model import Autoencoder
from autoencoder.experiments import grid, sweep
from autoencoder.experiments.configurations import sparse_sigmoid

RHOS = [0.05, 0.2]
BETAS = [0, 0.5, 3]
SIZE = {"n_hidden": 4, "weight_decay": 1e-3, "max_iter": 5, "seed": 3}
CONFIG = {"n_train": 40, "n_hidden": 3, "rho": [0.05, 0.2], "beta": [0.0, 3.0], "max_iter": 3, "seed": 1}


@pytest.fixture
def data():
    """60 examples of 16 features in [0, 1]."""
    return np.random.default_rng(7).uniform(size=(60, 16))


def entries(directory):
    return sorted(p.name for p in directory.glob("*.npz")) if directory.is_dir() else []


def assert_same_grid(one, two):
    assert list(one) == list(two)
    for key in one:
        np.testing.assert_array_equal(one[key].params.flat, two[key].params.flat, err_msg=str(key))
        np.testing.assert_array_equal(one[key].history["total"], two[key].history["total"], err_msg=str(key))


# -- configuration files -----------------------------------------------------------------------


def test_a_configuration_file_lists_every_key_with_defaults(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text('n_train = 1e2\nrho = [0.05, 0.1]\nbeta = 3\nactivation = "sigmoid"\n')
    config = sweep.read_config(path)
    assert list(config) == list(sweep.CONFIG_KEYS)
    assert config["n_train"] == [100] and config["rho"] == [0.05, 0.1] and config["beta"] == [3.0]
    assert config["n_hidden"] == [196] and config["sparsity"] == ["kl"]
    points = sweep.sweep_points(config)
    assert [p["rho"] for p in points] == [0.05, 0.1]


@pytest.mark.parametrize(
    "text, key",
    [
        ("n_hiden = 4\n", "n_hiden"),
        ('n_train = "many"\n', "n_train"),
        ("n_train = true\n", "n_train"),
        ("max_iter = 2.5\n", "max_iter"),
        ("rho = []\n", "rho"),
        ("rho = [0.1, 1.5]\n", r"rho\[1\]"),
        ("beta = [-1.0]\n", r"beta\[0\]"),
        ("seed = [1, 1]\n", "seed"),
        ('activation = "tanh"\n', "activation"),
        ("sparsity = 1\n", "sparsity"),
        ("weight_decay = { a = 1 }\n", "weight_decay"),
        ("rho = [0.1,\n", "TOML"),
        ('activation = "linear"\nsparsity = "kl"\n', "activation"),
    ],
)
def test_a_bad_configuration_is_refused_naming_the_key(tmp_path, text, key):
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=key):
        sweep.sweep_points(sweep.read_config(path))


def test_the_command_line_refuses_a_bad_file_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(Autoencoder, "_fit", lambda *a, **k: pytest.fail("trained"))
    path = tmp_path / "sweep.toml"
    path.write_text("rho = [0.1, 2.0]\n")
    with pytest.raises(SystemExit) as exit_info:
        sweep.main([str(path), "--workers", "1", "--cache-dir", str(tmp_path / "models")])
    assert exit_info.value.code == 2
    assert "rho[1]" in capsys.readouterr().err
    assert entries(tmp_path / "models") == [] and not (tmp_path / "sweep.csv").exists()


@pytest.mark.parametrize(
    "arguments, parameter",
    [({"scheduler": ""}, "scheduler"), ({"scheduler": 8786}, "scheduler"), ({"n_workers": 0}, "n_workers")],
)
def test_a_bad_engine_is_refused_naming_the_parameter(arguments, parameter):
    with pytest.raises(ValueError, match=parameter):
        sweep.Engine(**arguments)


def test_the_scheduler_address_comes_from_dask_configuration(monkeypatch):
    import dask

    with dask.config.set({"scheduler-address": "tcp://127.0.0.1:1"}):
        assert sweep.Engine(n_workers=1).scheduler == "tcp://127.0.0.1:1"
    assert sweep.Engine(n_workers=1).in_process


# -- failures ---------------------------------------------------------------------------------


def test_a_failing_point_fails_the_sweep_naming_it_and_keeps_the_others(data, tmp_path, monkeypatch):
    original = Autoencoder._fit

    def diverging(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        if self.beta == 3.0:
            result.params.flat[0] = np.nan
        return result

    monkeypatch.setattr(Autoencoder, "_fit", diverging)
    chains = [
        sweep.Chain([sparse_sigmoid(4, 0.1, beta, 1e-3) for beta in (0.5, 3.0, 10.0)], "X", 4, 0, warm_start=True),
        sweep.Chain([sparse_sigmoid(4, 0.2, 1.0, 1e-3)], "X", 4, 0),
    ]
    with pytest.raises(sweep.SweepError, match=r"rho=0\.1, beta=3, .*FloatingPointError"):
        sweep.run_chains(chains, {"X": data}, engine=sweep.Engine(n_workers=1), directory=tmp_path)
    # The point before the failure and the other chain are stored; the failed one and its successor are not.
    assert len(entries(tmp_path)) == 2
    monkeypatch.setattr(Autoencoder, "_fit", original)
    again = sweep.run_chains(chains, {"X": data}, engine=sweep.Engine(n_workers=1), directory=tmp_path)
    assert [len(results) for results in again] == [3, 1]
    assert len(entries(tmp_path)) == 4


def test_data_a_model_cannot_train_on_is_refused_before_training(data, tmp_path):
    chain = sweep.Chain([sparse_sigmoid(4, 0.1, 3.0, 1e-3)], "X", 4, 0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        sweep.run_chains([chain], {"X": data * 2}, engine=sweep.Engine(n_workers=1), directory=tmp_path)
    with pytest.raises(ValueError, match="'Y'"):
        sweep.run_chains([chain], {"Y": data}, engine=sweep.Engine(n_workers=1), directory=tmp_path)
    assert entries(tmp_path) == []


# -- the command line ------------------------------------------------------------------------------


def run_command_line(tmp_path, name, *options, env=None):
    config = tmp_path / f"{name}.toml"
    config.write_text("".join(f"{key} = {value!r}\n" for key, value in CONFIG.items()))
    command = [sys.executable, "-m", "autoencoder.sweep", str(config), "--cache-dir", str(tmp_path / name), *options]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    with (tmp_path / f"{name}.csv").open() as file:
        return list(csv.DictReader(file))


def test_the_command_line_writes_a_table_of_every_point(tmp_path):
    rows = run_command_line(tmp_path, "here", "--workers", "1")
    assert [(float(r["rho"]), float(r["beta"])) for r in rows] == [(0.05, 0.0), (0.05, 3.0), (0.2, 0.0), (0.2, 3.0)]
    assert list(rows[0]) == [*sweep.CONFIG_KEYS, *sweep.MEASURES, "cache_key"]
    assert {r["cache_key"] + ".npz" for r in rows} == set(entries(tmp_path / "here"))
    assert all(0 < float(r["mean_activation"]) < 1 and int(r["n_iter"]) <= 3 for r in rows)
    table = sweep.read_table(tmp_path / "here.csv")
    assert table[1]["beta"] == 3.0 and table[1]["n_hidden"] == 3 and table[1]["activation"] == "sigmoid"
    assert [repr(row["objective"]) for row in table] == [r["objective"] for r in rows]


# -- real clusters ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_grid_is_the_same_in_process_embedded_and_on_a_cluster(data, tmp_path, cluster):
    client, _ = cluster
    train = {"rhos": RHOS, "betas": BETAS, **SIZE}
    here = grid.train_grid(data, **train, n_jobs=1, directory=tmp_path / "here")
    embedded = grid.train_grid(data, **train, n_jobs=2, directory=tmp_path / "embedded")
    remote = grid.train_grid(data, **train, scheduler=client.scheduler.address, directory=tmp_path / "remote")
    assert_same_grid(here, embedded)
    assert_same_grid(here, remote)
    assert entries(tmp_path / "here") == entries(tmp_path / "embedded") == entries(tmp_path / "remote")
    # The client reads the cluster's results from its own cache the second time: nothing is submitted.
    again = grid.train_grid(data, **train, scheduler="tcp://127.0.0.1:1", directory=tmp_path / "remote")
    assert_same_grid(here, again)


@pytest.mark.slow
def test_a_worker_killed_during_a_sweep_loses_nothing(tmp_path, cluster):
    client, _ = cluster
    X = np.random.default_rng(0).uniform(size=(500, 64))
    chains = [sweep.Chain([sparse_sigmoid(16, rho, 3.0, 1e-3)], "X", 300, 0, tol=0.0) for rho in (0.02, 0.05, 0.1, 0.2)]
    killed = {}

    def kill_a_busy_worker():
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            busy = [worker for worker, tasks in client.processing().items() if tasks]
            if busy:
                tasks = client.processing()[busy[0]]
                pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed.update(pid=pid, tasks=tasks)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    faulted = sweep.run_chains(chains, {"X": X}, engine=sweep.Engine(client), directory=tmp_path / "faulted")
    killer.join(timeout=TIMEOUT)
    assert killed.get("tasks"), "no worker was killed while it trained"
    client.wait_for_workers(2, timeout=TIMEOUT)  # the nanny restarted it
    assert killed["pid"] not in client.run(os.getpid).values()
    clean = sweep.run_chains(chains, {"X": X}, engine=sweep.Engine(n_workers=1), directory=tmp_path / "clean")
    for one, two in zip(faulted, clean, strict=True):
        np.testing.assert_array_equal(one[0].params.flat, two[0].params.flat)
        assert one[0].n_iter == two[0].n_iter == 300


@pytest.mark.slow
def test_the_command_line_on_a_cluster_writes_the_same_table(tmp_path, cluster):
    client, _ = cluster
    here = run_command_line(tmp_path, "here", "--workers", "1")
    remote = run_command_line(tmp_path, "remote", "--scheduler", client.scheduler.address)
    assert here == remote
    env = {**os.environ, "DASK_SCHEDULER_ADDRESS": client.scheduler.address}
    assert run_command_line(tmp_path, "configured", env=env) == here


@pytest.mark.slow
def test_a_grid_from_a_script_on_standard_input_trains_on_two_workers(tmp_path):
    script = (
        "import numpy as np\n"
        "from autoencoder.experiments import grid\n"
        "X = np.random.default_rng(7).uniform(size=(60, 16))\n"
        f"r = grid.train_grid(X, {RHOS}, {BETAS}, **{SIZE}, n_jobs=2, directory={str(tmp_path)!r})\n"
        "print(len(r))\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "DASK_SCHEDULER_ADDRESS"}
    done = subprocess.run(
        [sys.executable, "-"], input=script, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(len(RHOS) * len(BETAS))]


# -- a scheduler that cannot be reached, or is lost ------------------------------------------------


def start_command_line(config, cache, *options):
    command = [sys.executable, "-m", "autoencoder.sweep", str(config), "--cache-dir", str(cache), *options]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_an_unreachable_scheduler_ends_the_command_in_one_line_naming_it(tmp_path):
    cache = tmp_path / "models"
    sweep.run_sweep(sweep.read_config({**CONFIG, "rho": 0.05, "beta": 0.0}), n_workers=1, directory=cache)
    config = tmp_path / "sweep.toml"
    config.write_text("".join(f"{key} = {value!r}\n" for key, value in CONFIG.items()))
    address = f"tcp://127.0.0.1:{free_port()}"  # free, so nothing listens there
    started = time.monotonic()
    command = start_command_line(config, cache, "--scheduler", address)
    out, err = command.communicate(timeout=300)
    took = time.monotonic() - started
    assert err.splitlines() == [
        f"error: no Dask scheduler answered at {address} within {sweep.CONNECT_TIMEOUT} s; "
        f"1 of the sweep's 4 points were already in the model cache ({cache}), nothing was trained"
    ]
    assert command.returncode == 1 and out == ""
    assert took < sweep.CONNECT_TIMEOUT + 50, f"{took:.0f} s"
    assert len(entries(cache)) == 1 and not (tmp_path / "sweep.csv").exists()


@pytest.fixture
def scheduler_and_worker(tmp_path):
    """A dask scheduler and one single-threaded worker on 127.0.0.1: the scheduler's process and its address."""
    from distributed import Client

    address, scheduler, workers = start_cluster(tmp_path, tmp_path / "worker-cache", 1)
    try:
        with Client(address, timeout=TIMEOUT, set_as_default=False) as client:
            client.wait_for_workers(1, timeout=TIMEOUT)
        yield scheduler, address
    finally:
        for process in (*workers, scheduler):
            stop(process)


@pytest.mark.slow
def test_a_scheduler_lost_during_a_sweep_ends_it_in_one_line_naming_it(tmp_path, scheduler_and_worker):
    scheduler, address = scheduler_and_worker
    cache = tmp_path / "models"
    config = tmp_path / "sweep.toml"
    # Four points on one worker, in order: the first takes 5 iterations, the second 400 on 2,000 images,
    # seconds on any machine.  The scheduler is killed as soon as the first point is in the cache.
    config.write_text("n_train = 2000\nn_hidden = 25\nrho = [0.05, 0.1]\nbeta = 3.0\nmax_iter = [5, 400]\n")
    command = start_command_line(config, cache, "--scheduler", address)
    try:
        deadline = time.monotonic() + 300
        while not entries(cache) and command.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        scheduler.kill()
        killed = time.monotonic()
        out, err = command.communicate(timeout=300)
    finally:
        stop(command)
    assert err.splitlines() == [
        f"error: lost the Dask scheduler at {address} during the sweep; "
        f"1 of the sweep's 4 points are in the model cache ({cache}), a second run trains only the rest"
    ]
    assert command.returncode == 1 and out == ""
    assert time.monotonic() - killed < sweep.CONNECT_TIMEOUT + 50
    assert len(entries(cache)) == 1 and not (tmp_path / "sweep.csv").exists()
