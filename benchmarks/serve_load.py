"""Load-test ``hmrec serve``: start it on loopback in its own process, drive it from this one
with an async HTTP client for a while, and print requests per second, latency percentiles and
errors.

    .venv/bin/python benchmarks/serve_load.py --artifacts DIR/artifacts/submit --seconds 30 --concurrency 16

Requests cycle over known customers' recommendations (k=12), with one request in ``--unknown-every``
asking for an unknown customer (the popular list). ``--mode explain`` asks for them with
``explain=true`` (artifacts written with ``--explain``), ``--mode similar`` cycles over the
articles' ``/articles/{id}/similar?k=12`` instead: run each mode on the same artifacts to see
what explanations and similar articles add to a request.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import polars as pl

from hmrec.schema import Col


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(artifacts: Path, port: int) -> subprocess.Popen[bytes]:
    hmrec = Path(sys.executable).with_name("hmrec")
    command = [str(hmrec), "serve", "--artifacts", str(artifacts), "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
        if server.poll() is not None:
            raise SystemExit(f"the server stopped: {server.stderr.read().decode() if server.stderr else ''}")
    server.kill()
    raise SystemExit("the server did not answer /health within 300 s")


async def drive(base: str, paths: list[str], seconds: float, concurrency: int) -> tuple[list[float], int, int]:
    latencies: list[float] = []
    errors = 0
    sent = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as client:

        async def worker(offset: int) -> None:
            nonlocal errors, sent
            i = offset
            while time.perf_counter() < stop:
                path = paths[i % len(paths)]
                i += concurrency
                start = time.perf_counter()
                try:
                    response = await client.get(path)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - start)
                sent += 1
                errors += not ok

        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return latencies, sent, errors


def drive_wrk(base: str, paths: list[str], seconds: float, concurrency: int) -> str:
    """The same paths through wrk (a C client, so the client's own cost stays out of the figures)."""
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    with script:
        script.write("paths = {" + ",".join(f'"{p}"' for p in paths) + "}\n")
        script.write(
            "i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format(nil, paths[(i % #paths) + 1])\nend\n"
        )
    command = ["wrk", "-t", "1", "-c", str(concurrency), "-d", f"{seconds:.0f}s", "--latency", "-s", script.name, base]
    try:
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        Path(script.name).unlink()


def wrk_row(output: str) -> str:
    """``requests/s | p50 | p99 | max | errors`` from wrk's --latency report (times in ms)."""

    def ms(text: str) -> float:
        value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = ms(re.search(r"50%\s+(\S+)", output).group(1))
    p99 = ms(re.search(r"99%\s+(\S+)", output).group(1))
    top = ms(re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", output).group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    n_errors = (int(errors.group(1)) if errors else 0) + (sum(map(int, socket_errors.groups())) if socket_errors else 0)
    return f"{requests:,} | {rate:.0f} | {p50:.1f} | {p99:.1f} | {top:.1f} | {n_errors}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artifacts", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--unknown-every", type=int, default=20)
    parser.add_argument("--customers", type=int, default=20_000, help="distinct known customers to cycle over")
    parser.add_argument("--client", choices=["python", "wrk"], default="python", help="wrk: Debian's wrk drives it")
    parser.add_argument("--mode", choices=["recommendations", "explain", "similar"], default="recommendations")
    args = parser.parse_args()

    ids = (
        pl.scan_parquet(args.artifacts / "recommendations.parquet", glob=False)
        .select(Col.CUSTOMER_ID)
        .unique()
        .head(args.customers)
        .collect()[Col.CUSTOMER_ID]
        .to_list()
    )
    random.Random(0).shuffle(ids)
    query = "?k=12&explain=true" if args.mode == "explain" else "?k=12"
    paths = [f"/customers/{c}/recommendations{query}" for c in ids]
    for i in range(0, len(paths), args.unknown_every):
        paths[i] = f"/customers/{os.urandom(32).hex()}/recommendations{query}"
    if args.mode == "similar":
        articles = (
            pl.scan_parquet(args.artifacts / "articles.parquet", glob=False)
            .select(Col.ARTICLE_ID)
            .head(args.customers)
            .collect()[Col.ARTICLE_ID]
            .to_list()
        )
        random.Random(0).shuffle(articles)
        paths = [f"/articles/{a}/similar?k=12" for a in articles]

    port = free_port()
    started = time.perf_counter()
    server = start_server(args.artifacts, port)
    print(f"server up in {time.perf_counter() - started:.1f} s (pid {server.pid})", flush=True)
    try:
        asyncio.run(drive(f"http://127.0.0.1:{port}", paths[:200], 2, args.concurrency))  # warm-up
        if args.client == "wrk":
            row = wrk_row(drive_wrk(f"http://127.0.0.1:{port}", paths, args.seconds, args.concurrency))
        else:
            latencies, sent, errors = asyncio.run(
                drive(f"http://127.0.0.1:{port}", paths, args.seconds, args.concurrency)
            )
        status = Path(f"/proc/{server.pid}/status")
        peak = re.search(r"VmHWM:\s+(\d+) kB", status.read_text()) if status.exists() else None
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    server_gb = int(peak.group(1)) / 1024**2 if peak else float("nan")
    if args.client == "python":
        ms = sorted(x * 1000 for x in latencies)
        p = statistics.quantiles(ms, n=100)
        row = f"{sent:,} | {sent / args.seconds:.0f} | {p[49]:.1f} | {p[98]:.1f} | {ms[-1]:.1f} | {errors}"
    print(f"| {args.mode} | {args.client} | {args.seconds:.0f} s | {args.concurrency} | {row} | {server_gb:.2f} |")
    print(
        "(mode | client | duration | concurrency | requests | requests/s | p50 ms | p99 ms | max ms | errors | "
        "server peak RSS GB)"
    )


if __name__ == "__main__":
    main()
