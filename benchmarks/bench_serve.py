"""How fast ``digitlab serve`` answers POST /api/predict, alone, under load and during a training.

Starts ``digitlab serve`` in a process of its own on 127.0.0.1 (a free port) over a runs folder
holding the report network (784-1024-1024-10, swish, softmax): a trained run given with
``--runs DIR --model ID``, else a randomly initialised one saved as a run (the timing does not
depend on the weights). The request body is a test digit drawn as a 280×280 PNG, dark on white,
as a browser canvas sends it. Three measurements:

1. one client, sequential requests: the server's own time per request (its ``Server-Timing``
   header: from the request's arrival to the answer) and the client's round trip, medians;
2. ``--clients`` concurrent clients sending ``--requests`` requests in all: p50, p95, p99
   latency, throughput and errors;
3. the same while a training (the assignment preset) runs in the server's training process
   (into a run folder ``bench-training-TIME`` that is removed afterwards).

    python benchmarks/bench_serve.py [--clients 8] [--requests 1000] [--runs DIR --model ID]

The clients are threads of this process (httpx, one keep-alive connection each), so on a small
machine they compete with the server for the cores; the figures are an upper bound.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from digitlab.config import preset
from digitlab.data import load_run_dataset
from digitlab.modelio import save_model
from digitlab.training import build_network

SEQUENTIAL = 200


def http_client(url: str, timeout: float) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=timeout)


def digit_png() -> bytes:
    """The first test digit of the embedded sample, 10× larger, dark ink on white."""
    test = load_run_dataset(preset("report"), require=("test",)).test
    image = Image.fromarray((255 - test.images[0].reshape(28, 28) * 255).astype(np.uint8))
    buffer = io.BytesIO()
    image.resize((280, 280), Image.Resampling.BILINEAR).save(buffer, "PNG")
    return buffer.getvalue()


def random_report_run(folder: Path) -> str:
    config = preset("report")
    save_model(folder / "report" / "model.npz", build_network(config), config=config)
    return "report"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(runs: Path, port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "digitlab", "serve", "--runs", str(runs), "--port", str(port),
         "--no-open"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1)
            return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start: " + server.stderr.read().decode()[-500:])


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def sequential(url: str, body: bytes) -> tuple[float, float]:
    """Median server time and median round trip (ms) of one client's requests."""
    server_ms, round_trip_ms = [], []
    with http_client(url, 30) as client:
        for _ in range(SEQUENTIAL):
            start = time.perf_counter()
            response = client.post("/api/predict", content=body,
                                   headers={"Content-Type": "image/png"})
            round_trip_ms.append((time.perf_counter() - start) * 1000)
            response.raise_for_status()
            timing = response.headers["server-timing"]
            server_ms.append(float(timing.split("dur=")[1]))
    return statistics.median(server_ms), statistics.median(round_trip_ms)


def concurrent(url: str, body: bytes, clients: int, requests: int) -> dict[str, float]:
    """``clients`` threads sending ``requests`` in all: latency percentiles, throughput."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    share = [requests // clients + (i < requests % clients) for i in range(clients)]

    def client_thread(count: int) -> None:
        with http_client(url, 60) as client:
            for _ in range(count):
                start = time.perf_counter()
                try:
                    response = client.post("/api/predict", content=body,
                                           headers={"Content-Type": "image/png"})
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                elapsed = (time.perf_counter() - start) * 1000
                with lock:
                    latencies.append(elapsed)
                    errors[0] += not ok

    threads = [threading.Thread(target=client_thread, args=(n,)) for n in share]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    return {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
            "p99": percentile(latencies, 99), "throughput": len(latencies) / seconds,
            "errors": errors[0], "n": len(latencies)}


def show(title: str, result: dict[str, float]) -> None:
    print(f"{title}: {result['n']} requests, p50 {result['p50']:.1f} ms, p95 "
          f"{result['p95']:.1f} ms, p99 {result['p99']:.1f} ms, {result['throughput']:.0f} "
          f"requests/s, {result['errors']} errors")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--runs", type=Path, default=None, help="runs folder with a trained run")
    parser.add_argument("--model", default=None, help="the run's id under --runs")
    args = parser.parse_args()
    body = digit_png()
    with tempfile.TemporaryDirectory() as scratch:
        runs = args.runs if args.runs is not None else Path(scratch)
        model = args.model if args.runs is not None else random_report_run(runs)
        print(f"network: {model} under {'--runs' if args.runs else 'a temporary folder'} "
              f"({'as given' if args.runs else 'randomly initialised 784-1024-1024-10'}); "
              f"{os.cpu_count()} CPU cores")
        port = free_port()
        server = start_server(runs, port)
        url = f"http://127.0.0.1:{port}"
        try:
            httpx.post(f"{url}/api/models/active", json={"id": model}).raise_for_status()
            sequential(url, body)  # warm-up: loads and caches the model
            server_ms, round_trip_ms = sequential(url, body)
            print(f"one client, {SEQUENTIAL} sequential requests: median server time "
                  f"{server_ms:.2f} ms, median round trip {round_trip_ms:.2f} ms")
            show(f"{args.clients} concurrent clients", concurrent(url, body, args.clients,
                                                                  args.requests))
            name = f"bench-training-{int(time.time())}"
            started = httpx.post(f"{url}/api/train", json={
                "name": name, "preset": "assignment", "epochs": 50}, timeout=30)
            started.raise_for_status()
            while httpx.get(f"{url}/api/train").json().get("samples") is None:
                time.sleep(0.1)  # the training process is past its start-up
            result = concurrent(url, body, args.clients, args.requests)
            state = httpx.get(f"{url}/api/train").json()
            show(f"{args.clients} concurrent clients during a training (epoch "
                 f"{state['epoch'] + 1}, {state['state']})", result)
            httpx.post(f"{url}/api/train/cancel", timeout=30)
            while httpx.get(f"{url}/api/train").json()["state"] == "running":
                time.sleep(0.1)
        finally:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(runs / name, ignore_errors=True)  # the benchmark's own training run
    return 0


if __name__ == "__main__":
    sys.exit(main())
