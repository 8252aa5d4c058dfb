"""A Dask scheduler and workers on 127.0.0.1, started and stopped by the tests that need them."""

import os
import socket
import subprocess
import sys

TIMEOUT = 60
"""Seconds a test waits for its cluster's scheduler and workers."""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


def start_cluster(tmp_path, worker_cache, n_workers):
    """A scheduler and ``n_workers`` single-threaded workers on 127.0.0.1: their address and processes."""
    address = f"tcp://127.0.0.1:{free_port()}"
    env = {**os.environ, "AUTOENCODER_CACHE_DIR": str(worker_cache), "OPENBLAS_NUM_THREADS": "1"}
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    common = {"cwd": tmp_path, "env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
         "--port", address.rsplit(":", 1)[1], "--no-dashboard"],
        **common,
    )  # fmt: skip
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_worker",
                address,
                "--host",
                "127.0.0.1",
                "--nthreads",
                "1",
                "--no-dashboard",
                "--local-directory",
                str(tmp_path / f"worker-{i}"),
            ],
            **common,
        )  # fmt: skip
        for i in range(n_workers)
    ]
    return address, scheduler, workers
