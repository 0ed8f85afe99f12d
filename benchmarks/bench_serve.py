"""How fast ``digitlab serve`` answers POST /api/predict, alone, under load and during a training.

Starts ``digitlab serve`` in a process of its own on 127.0.0.1 (a free port) over a runs folder
holding the report network (784-1024-1024-10, swish, softmax): a trained run given with
``--runs DIR --model ID``, else a randomly initialised one saved as a run (the timing does not
depend on the weights). The request body is a test digit drawn as the page sends it: a
140×140 RGBA PNG (``--side``), dark ink on an opaque white sheet; every request names the
network (``?model=``), as the page does (``--explain`` also asks for the saliency and the
layers, as the Draw tab does).
Three measurements:

1. one client, sequential requests: the server's own time per request (its ``Server-Timing``
   header: from the request's arrival to the answer) and the client's round trip, medians;
2. ``--clients`` concurrent clients sending ``--requests`` requests in all: p50, p95, p99
   latency, throughput, errors and the server's CPU time per request;
3. the same while a training (the assignment preset) runs in the server's training process
   (into a run folder ``bench-training-TIME`` that is removed afterwards; ``--no-training``
   leaves it out).

Each concurrent measurement is repeated ``--repeat`` times; the last line of each gives the
medians over the repetitions. The load average of the machine (1 minute) is printed beside
each, since other work on the machine shares its cores.

    python benchmarks/bench_serve.py [--clients 8] [--requests 1000] [--repeat 3]
        [--side 140] [--explain] [--no-training] [--runs DIR --model ID]

The clients are threads of this process (http.client, one keep-alive connection each), so on a
small machine they compete with the server for the cores; the figures are an upper bound. Beside
the client's figures each line gives the server's own p95 (its ``Server-Timing``: from the
request reaching the application to the answer leaving it) and the rows of the forward passes
that answered (``batch;desc=B``, mean over requests). Eight client processes instead of threads
did not lower the figures (p95 with threads 19–24 ms, with processes 22–30 ms for the earlier
server; 18–23 and 21–26 ms for the present one; load average about 5), and the server's own p95
is 2–4 ms below the client's: the clients' own queueing is a small part of the figures.

Measured on the 2-core machine (shared: other work ran beside it throughout; the load average
includes this benchmark's own two processes), ``--repeat 3``, medians of three, the earlier
server (a thread per request, concurrent rows batched by whichever request came first) and the
present one (one thread answering every waiting prediction in one pass) run alternately:

    8 clients, --no-training      p50 ms  p95 ms  requests/s  server CPU ms/request  load
      thread per request           12.8    20.6      595           1.54            2.8
      one answering thread          9.1    12.2      813           1.09            2.9
      thread per request           14.0    22.5      547           1.68            3.5
      one answering thread          9.0    13.1      818           1.07            3.5
      thread per request           13.8    22.3      553           1.64            3.9
      one answering thread          9.4    12.1      816           1.09            3.9
    8 clients during a training
      thread per request           14.6    26.9      486           1.67            4.0
      one answering thread         12.7    23.4      568           1.21            4.6

(one client: a median server time of 1.5–1.9 ms either way.) The passes held 7.6 rows on
average (of 8 possible). On a busier machine (load 3–4, other trainings on both cores) the same
alternation gave p95 27–30 ms against 18–31 ms: the server is then short of CPU time, which
only less work per request helps; at a load of 1.8–2.4, 26–30 ms against 14–18 ms.

An ``honest`` network (``--runs DIR --model honest``: 784-1024-1024-10 whose answers also go
through the first hidden layer's Mahalanobis test and flattening, :mod:`digitlab.calibration`)
beside a ``best`` one of the same size, ``--repeat 3 --no-training``, load 1.2–2.1: p95 13.9 ms
and 1.67 ms of server CPU per request against 10.8 ms and 1.29 ms. Before the test's constant
terms were kept and its layer taken from the answer's own forward pass, 27.7 ms and 3.30 ms.
"""

from __future__ import annotations

import argparse
import http.client
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


class ImageClient:
    """One keep-alive connection posting the image, as a page does: the standard library's
    http.client, which costs this process about 0.2 ms of CPU per request (httpx took 1.2 ms,
    half as much as the server itself, on the same cores)."""

    def __init__(self, port: int, path: str, body: bytes, timeout: float):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.path, self.body = path, body

    def post(self) -> http.client.HTTPResponse:
        """The answer, read whole; raises OSError or http.client.HTTPException on failure."""
        self.connection.request("POST", self.path, body=self.body,
                                headers={"Content-Type": "image/png"})
        response = self.connection.getresponse()
        response.read()
        return response

    def close(self) -> None:
        self.connection.close()


def digit_png(side: int = 140) -> bytes:
    """The first test digit of the embedded sample scaled to ``side`` × ``side``, dark ink on
    an opaque white sheet, an RGBA PNG as the page sends it (140 px: js/pad.js)."""
    test = load_run_dataset(preset("report"), require=("test",)).test
    ink = (255 - test.images[0].reshape(28, 28) * 255).astype(np.uint8)
    image = Image.fromarray(ink).resize((side, side), Image.Resampling.BILINEAR).convert("RGBA")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
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


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` so far (Linux's /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> float:
    return os.getloadavg()[0]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def server_timing(response: http.client.HTTPResponse) -> tuple[float, int]:
    """The server's time (ms) from its ``Server-Timing`` header (``app;dur=MS``) and the rows
    of the forward pass that answered (``batch;desc=B``; 0 when not given)."""
    entries = dict(entry.strip().split(";", 1) for entry in
                   (response.getheader("server-timing") or "").split(","))
    return (float(entries["app"].removeprefix("dur=")),
            int(entries.get("batch", "desc=0").removeprefix("desc=")))


def sequential(port: int, path: str, body: bytes) -> tuple[float, float]:
    """Median server time and median round trip (ms) of one client's requests."""
    server_ms, round_trip_ms = [], []
    client = ImageClient(port, path, body, 30)
    try:
        for _ in range(SEQUENTIAL):
            start = time.perf_counter()
            response = client.post()
            round_trip_ms.append((time.perf_counter() - start) * 1000)
            if response.status != 200:
                raise SystemExit(f"POST {path}: HTTP {response.status}")
            server_ms.append(server_timing(response)[0])
    finally:
        client.close()
    return statistics.median(server_ms), statistics.median(round_trip_ms)


def concurrent(port: int, path: str, body: bytes, clients: int, requests: int,
               server_pid: int) -> dict[str, float]:
    """``clients`` threads sending ``requests`` in all: latency percentiles, throughput, the
    server's CPU time per request and the load average after."""
    latencies: list[float] = []
    server_ms: list[float] = []  # the server's own time of each answer (Server-Timing)
    rows: list[int] = []  # the rows of the forward pass that answered each
    errors = [0]
    lock = threading.Lock()
    share = [requests // clients + (i < requests % clients) for i in range(clients)]

    def client_thread(count: int) -> None:
        client = ImageClient(port, path, body, 60)
        for _ in range(count):
            start = time.perf_counter()
            try:
                response = client.post()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                client.close()  # a new connection for the next request
                ok = False
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                latencies.append(elapsed)
                errors[0] += not ok
                if ok:
                    server, batch = server_timing(response)
                    server_ms.append(server)
                    rows.append(batch)
        client.close()

    threads = [threading.Thread(target=client_thread, args=(n,)) for n in share]
    cpu_before = cpu_seconds(server_pid)
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    cpu_after = cpu_seconds(server_pid)
    cpu_ms = (float("nan") if cpu_before is None or cpu_after is None
              else (cpu_after - cpu_before) * 1000 / len(latencies))
    return {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
            "p99": percentile(latencies, 99), "throughput": len(latencies) / seconds,
            "errors": errors[0], "n": len(latencies), "cpu_ms": cpu_ms,
            "server_p95": percentile(server_ms, 95) if server_ms else float("nan"),
            "rows": statistics.mean(rows) if rows else float("nan"),
            "load": load_average()}


def show(title: str, result: dict[str, float]) -> None:
    rows = result["rows"]  # 0: a server that does not say
    passes = f"passes of {rows:.1f} rows (mean over requests), " if rows > 0 else ""
    print(f"{title}: {result['n']} requests, p50 {result['p50']:.1f} ms, p95 "
          f"{result['p95']:.1f} ms, p99 {result['p99']:.1f} ms, {result['throughput']:.0f} "
          f"requests/s, {result['errors']} errors, server CPU {result['cpu_ms']:.2f} ms/request, "
          f"server's own p95 {result['server_p95']:.1f} ms, {passes}"
          f"load average {result['load']:.2f}", flush=True)


def repeated(title: str, repeat: int, measure) -> dict[str, float]:
    """``measure()`` ``repeat`` times, each shown, then the medians of each figure."""
    results = [measure() for _ in range(repeat)]
    for i, result in enumerate(results):
        show(f"{title} [{i + 1}/{repeat}]", result)
    median = {key: statistics.median(r[key] for r in results) for key in results[0]}
    median["errors"] = sum(r["errors"] for r in results)
    median["n"] = sum(r["n"] for r in results)
    if repeat > 1:
        show(f"{title}, medians of {repeat} (errors: all)", median)
    return median


def during_training(url: str, created: list[str], measure) -> tuple[dict[str, float], dict]:
    """``measure()`` while a training of the assignment preset runs in the server, into a new
    run folder (its name appended to ``created`` once the server made it)."""
    name = f"bench-training-{int(time.time())}"
    started = httpx.post(f"{url}/api/train", json={
        "name": name, "preset": "assignment", "epochs": 50}, timeout=30)
    started.raise_for_status()
    created.append(name)
    try:
        while httpx.get(f"{url}/api/train").json().get("samples") is None:
            time.sleep(0.1)  # the training process is past its start-up
        result = measure()
        return result, httpx.get(f"{url}/api/train").json()
    finally:
        httpx.post(f"{url}/api/train/cancel", timeout=30)
        while httpx.get(f"{url}/api/train").json()["state"] == "running":
            time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3,
                        help="repetitions of each concurrent measurement (medians shown)")
    parser.add_argument("--side", type=int, default=140,
                        help="width of the PNG sent, pixels (the page sends 140)")
    parser.add_argument("--explain", action="store_true",
                        help="ask for the saliency and the layers too (as the Draw tab)")
    parser.add_argument("--training", action=argparse.BooleanOptionalAction, default=True,
                        help="also measure while a training runs in the server")
    parser.add_argument("--runs", type=Path, default=None, help="runs folder with a trained run")
    parser.add_argument("--model", default=None, help="the run's id under --runs")
    args = parser.parse_args()
    body = digit_png(args.side)
    with tempfile.TemporaryDirectory() as scratch:
        runs = args.runs if args.runs is not None else Path(scratch)
        model = args.model if args.runs is not None else random_report_run(runs)
        print(f"network: {model} under {'--runs' if args.runs else 'a temporary folder'} "
              f"({'as given' if args.runs else 'randomly initialised 784-1024-1024-10'}); "
              f"{os.cpu_count()} CPU cores; load average {load_average():.2f}", flush=True)
        port = free_port()
        server = start_server(runs, port)
        url = f"http://127.0.0.1:{port}"
        created: list[str] = []  # the run folders of the benchmark's own trainings
        path = f"/api/predict?model={model}" + ("&explain=1&layers=1" if args.explain else "")
        try:
            sequential(port, path, body)  # warm-up: loads and caches the model
            server_ms, round_trip_ms = sequential(port, path, body)
            print(f"one client, {SEQUENTIAL} sequential requests: median server time "
                  f"{server_ms:.2f} ms, median round trip {round_trip_ms:.2f} ms", flush=True)

            def measure() -> dict[str, float]:
                return concurrent(port, path, body, args.clients, args.requests, server.pid)

            repeated(f"{args.clients} concurrent clients", args.repeat, measure)
            if args.training:
                title = f"{args.clients} concurrent clients during a training"
                result, state = during_training(
                    url, created, lambda: repeated(title, args.repeat, measure))
                print(f"(the training was in epoch {state['epoch'] + 1}, {state['state']})")
        finally:
            server.terminate()
            server.wait(timeout=30)
            for name in created:
                shutil.rmtree(runs / name, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
