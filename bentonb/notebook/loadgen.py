"""A closed-loop load generator, run as its own process so that it never shares the
served kernel's interpreter lock:

    python -m bentonb.notebook.loadgen --url http://127.0.0.1:5000/predict \\
        --concurrency 1,8,32 --duration 2 --body-file body.json \\
        --content-type application/json

Each of N threads sends the body, waits for the answer, and sends again (keep-alive
``http.client`` connections) for ``--duration`` seconds; then the next N. The API
key, if any, comes from ``$BENTONB_API_KEY`` (not the command line, which other users
of the machine can read). Prints one JSON list: per concurrency the requests, errors,
requests per second, p50 and p99 latency in ms, and the first error seen.
It imports nothing from bentonb, so that it starts fast.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import sys
import threading
import time
from typing import Any
from urllib.parse import urlsplit


def percentile(sorted_values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of already sorted values, nearest rank; None if empty."""
    if not sorted_values:
        return None
    rank = math.ceil(q * len(sorted_values))  # the nearest-rank definition
    return sorted_values[max(0, min(len(sorted_values), rank) - 1)]


class _Worker(threading.Thread):
    """One closed-loop client: send, read the whole answer, repeat until the deadline."""

    def __init__(self, url: str, body: bytes, headers: dict[str, str],
                 start: threading.Barrier, deadline: list[float]) -> None:
        super().__init__(daemon=True)
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.https = parts.scheme == "https"
        self.path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.body, self.headers = body, headers
        self.start_barrier, self.deadline = start, deadline
        self.latencies: list[float] = []
        self.errors = 0
        self.first_error: str | None = None

    def _connect(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        return kind(self.host, self.port, timeout=60)

    def _error(self, text: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = text[:300]

    def run(self) -> None:
        conn = self._connect()
        self.start_barrier.wait()
        while time.perf_counter() < self.deadline[0]:
            started = time.perf_counter()
            try:
                conn.request("POST", self.path, body=self.body, headers=self.headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self._error(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = self._connect()
                continue
            if response.status == 200:
                self.latencies.append(time.perf_counter() - started)
            else:
                self._error(f"HTTP {response.status}: {payload.decode('utf-8', 'replace')}")
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = self._connect()
        conn.close()


def run_point(url: str, body: bytes, headers: dict[str, str], concurrency: int,
              duration: float) -> dict[str, Any]:
    """``concurrency`` closed-loop clients for ``duration`` seconds; their numbers."""
    deadline = [0.0]
    barrier = threading.Barrier(concurrency + 1)
    workers = [_Worker(url, body, headers, barrier, deadline) for _ in range(concurrency)]
    for worker in workers:
        worker.start()
    deadline[0] = time.perf_counter() + duration
    barrier.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    latencies = sorted(x for w in workers for x in w.latencies)
    errors = sum(w.errors for w in workers)
    first_error = next((w.first_error for w in workers if w.first_error), None)
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    return {"concurrency": concurrency, "requests": len(latencies), "errors": errors,
            "seconds": round(elapsed, 3), "req_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": None if p50 is None else round(p50 * 1000, 2),
            "p99_ms": None if p99 is None else round(p99 * 1000, 2),
            "first_error": first_error}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bentonb.notebook.loadgen")
    parser.add_argument("--url", required=True, help="The API's URL (http://host:port/route).")
    parser.add_argument("--concurrency", default="1,8,32", help="Clients per point: 1,8,32.")
    parser.add_argument("--duration", type=float, default=2.0, help="Seconds per point.")
    parser.add_argument("--body-file", required=True, help="The request body, as bytes.")
    parser.add_argument("--content-type", default="application/json")
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.concurrency.split(",")]
    with open(args.body_file, "rb") as f:
        body = f.read()
    headers = {"Content-Type": args.content_type, "Connection": "keep-alive"}
    key = os.environ.get("BENTONB_API_KEY")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    results = [run_point(args.url, body, headers, n, args.duration) for n in levels]
    json.dump(results, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
