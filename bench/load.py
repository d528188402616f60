"""Load generators: wrk in closed loop, a closed loop up to a request count, an open loop.

wrk runs one thread; ``-c`` connections each keep one request in flight.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from pathlib import Path

from scenarios import Body

WRK_TIMEOUT_S = 10  # a slow server shows as latency rather than as timeouts


def _script(body: Body, workdir: Path) -> Path:
    body_file = workdir / "body.bin"
    body_file.write_bytes(body.data)
    script = workdir / "post.lua"
    script.write_text('wrk.method = "POST"\n'
                      f'wrk.headers["Content-Type"] = "{body.content_type}"\n'
                      f'local f = io.open("{body_file}", "rb")\nwrk.body = f:read("*all")\n'
                      'f:close()\n')
    return script


def _parse(out: str) -> dict:
    def latency(label: str) -> float | None:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return None
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    requests = re.search(r"(\d+) requests in", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    answered = int(requests.group(1)) if requests else 0
    refused = int(non_2xx.group(1)) if non_2xx else 0
    all_rps = float(rps.group(1)) if rps else 0.0
    # req/s counts successful answers only: a server that refuses fast (503) is not faster.
    return {"rps": all_rps * (answered - refused) / answered if answered else 0.0,
            "all_rps": all_rps, "p50": latency("50"), "p99": latency("99"),
            "requests": answered,
            "errors": refused + (sum(int(g) for g in socket.groups()) if socket else 0)}


def wrk(url: str, body: Body, seconds: float, connections: int, workdir: Path) -> dict:
    """One closed-loop run: 2xx answers per second, p50 and p99 in ms (of all answers),
    errors (non-2xx answers and socket errors)."""
    script = _script(body, workdir)
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s",
                          f"--timeout={WRK_TIMEOUT_S}s", "--latency", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    return _parse(out)


def _request(url: str, body: Body) -> tuple[str, int, bytes]:
    host, port_path = url.split("//", 1)[1].split(":", 1)
    port, path = port_path.split("/", 1)
    request = (f"POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {body.content_type}"
               f"\r\nContent-Length: {len(body.data)}\r\n\r\n").encode() + body.data
    return host, int(port), request


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    request: bytes) -> bool:
    """Send one request on a kept-alive connection and read its answer; True if 200."""
    writer.write(request)
    status_line = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return b" 200 " in status_line


async def _closed_count(url: str, body: Body, requests: int, connections: int) -> dict:
    host, port, request = _request(url, body)
    left, errors = requests, 0

    async def worker() -> None:
        nonlocal left, errors
        reader, writer = await asyncio.open_connection(host, port)
        while left > 0:
            left -= 1
            errors += not await _exchange(reader, writer, request)
        writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return {"requests": requests, "errors": errors}


def closed_count(url: str, body: Body, requests: int, connections: int = 64) -> dict:
    """Send exactly ``requests`` requests, ``connections`` at a time (wrk has no count limit)."""
    return asyncio.run(_closed_count(url, body, requests, connections))


async def _open_loop(url: str, body: Body, rate: float, seconds: float,
                     connections: int) -> dict:
    host, port, request = _request(url, body)
    total = int(rate * seconds)
    start = time.perf_counter() + 0.2
    latencies: list[float] = []
    errors = 0
    next_index = 0

    async def worker() -> None:
        nonlocal next_index, errors
        reader, writer = await asyncio.open_connection(host, port)
        while next_index < total:
            index = next_index
            next_index += 1
            scheduled = start + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            ok = await _exchange(reader, writer, request)
            latencies.append(time.perf_counter() - scheduled)
            errors += not ok
        writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    latencies.sort()
    return {"p50": latencies[len(latencies) // 2] * 1000,
            "p99": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000, "errors": errors}


def open_loop(url: str, body: Body, rate: float, seconds: float, connections: int = 64) -> dict:
    """Send at a fixed ``rate``; p50/p99 count from each request's scheduled send time."""
    return asyncio.run(_open_loop(url, body, rate, seconds, connections))
