"""The Ray executor on a real local Ray runtime gives exactly the local executor's numbers.

Starting Ray takes seconds, so one module-scoped fixture runs the sweep on Ray once (run_studies
starts a local runtime with 2 CPUs and shuts it down); the tests compare its results. Another
joins a cluster that ``ray start --head`` started, as a user would with ``--address``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

try:
    import ray
except ImportError:  # pragma: no cover - CI installs the extra
    pytest.skip("ray is not installed (pip install 'digitlab[ray]')", allow_module_level=True)

from digitlab.errors import DigitlabError
from digitlab.studies.runner import run_studies
from digitlab.studies.store import TrialStore

GRID = """
[base]
hidden = [8]
epochs = 2
max_train_samples = 300
[grid]
activation = ["tanh", "relu"]
optimizer = ["sgd", "adam"]
lr = [0.01]
"""
SEEDS = 2
N_TRIALS = 2 * 2 * SEEDS


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    """(Ray result, local result) of the same grid, each in its own output folder."""
    folder = tmp_path_factory.mktemp("sweep_ray")
    grid = folder / "grid.toml"
    grid.write_text(GRID)
    assert not ray.is_initialized()
    try:
        on_ray = run_studies([], folder / "ray", grid_file=grid, executor="ray", workers=2,
                           seeds=SEEDS, progress=False)
        assert not ray.is_initialized()  # the runtime run_studies started is shut down
    finally:
        ray.shutdown()
    local = run_studies([], folder / "local", grid_file=grid, executor="local", workers=2,
                      seeds=SEEDS, progress=False)
    return on_ray, local


def test_ray_runs_every_trial(sweeps):
    on_ray, _ = sweeps
    assert on_ray.ran == N_TRIALS >= 4
    assert all(row["status"] == "ok" for row in on_ray.rows)
    assert len(TrialStore(on_ray.out_dir).keys()) == N_TRIALS
    summary = json.loads((on_ray.out_dir / "summary.json").read_text())
    assert summary["executor"] == "ray" and summary["trials"] == N_TRIALS


def test_ray_matches_local_exactly(sweeps):
    on_ray, local = sweeps
    by_key = {row["key"]: row for row in local.rows}
    assert sorted(by_key) == sorted(row["key"] for row in on_ray.rows)
    for row in on_ray.rows:
        twin = by_key[row["key"]]
        assert row["test_accuracy"] == twin["test_accuracy"]
        assert row["train_accuracy"] == twin["train_accuracy"]
        assert row["history"] == [dict(r, seconds=a["seconds"])
                                  for r, a in zip(twin["history"], row["history"], strict=True)]
    # different seeds and configs do give different networks: the comparison has teeth
    assert len({row["train_loss"] for row in on_ray.rows}) == N_TRIALS


def test_ray_sweep_resumes_without_starting_ray(sweeps):
    on_ray, _ = sweeps
    again = run_studies([], on_ray.out_dir, grid_file=on_ray.out_dir.parent / "grid.toml",
                      executor="ray", workers=2, seeds=SEEDS, progress=False)
    assert (again.ran, again.skipped) == (0, N_TRIALS)
    assert not ray.is_initialized()
    assert [r["test_accuracy"] for r in again.rows] == [r["test_accuracy"] for r in on_ray.rows]


def test_unreachable_cluster_fails_fast_with_one_message(tmp_path, sweeps):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    grid = sweeps[0].out_dir.parent / "grid.toml"
    with pytest.raises(DigitlabError, match=f"nothing answers at 127.0.0.1:{port}"):
        run_studies([], tmp_path, grid_file=grid, executor="ray", address=f"127.0.0.1:{port}",
                  seeds=1, progress=False)
    assert not ray.is_initialized() and not (tmp_path / "trials").exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def cluster_address(tmp_path_factory):
    """A one-node cluster from ``ray start --head --block`` on free ports, with its session files
    in a temporary folder; stopping that command stops the processes it started (and nothing
    else of Ray's on the machine). Works with the minimal ``pip install ray``."""
    ray_command = Path(sys.executable).with_name("ray")
    if not ray_command.exists():
        pytest.skip(f"no ray command beside {sys.executable}")
    port, session_files = free_port(), tmp_path_factory.mktemp("ray")
    head = subprocess.Popen(
        [str(ray_command), "start", "--head", f"--port={port}", "--num-cpus=2",
         f"--temp-dir={session_files}", f"--dashboard-agent-listen-port={free_port()}",
         "--include-dashboard=false",
         "--disable-usage-stats", "--block"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert head.poll() is None, f"ray start --head exited with {head.returncode}"
            assert time.monotonic() < deadline, "the Ray head node did not come up in 90 s"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        yield f"127.0.0.1:{port}", session_files
    finally:
        head.terminate()
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck head node
            os.killpg(head.pid, signal.SIGKILL)  # its own session: Ray's processes only
            head.wait()


def test_sweep_on_a_cluster_from_ray_start_matches_local(sweeps, cluster_address, tmp_path):
    address, session_files = cluster_address
    _, local = sweeps
    grid = local.out_dir.parent / "grid.toml"
    joined = run_studies([], tmp_path, grid_file=grid, executor="ray", address=address,
                       seeds=SEEDS, progress=False)
    # the head node logged this process as a driver: the trials went to that cluster
    drivers = [p.name for p in session_files.glob("session_*/logs/*driver*")]
    assert any(name.endswith(f"_{os.getpid()}.log") for name in drivers), drivers
    assert joined.ran == N_TRIALS
    assert all(row["status"] == "ok" for row in joined.rows)
    assert not ray.is_initialized()  # disconnected again; the cluster keeps running
    summary = json.loads((joined.out_dir / "summary.json").read_text())
    assert summary["executor"] == "ray" and summary["trials"] == N_TRIALS
    accuracies = {row["key"]: row["test_accuracy"] for row in joined.rows}
    assert accuracies == {row["key"]: row["test_accuracy"] for row in local.rows}
