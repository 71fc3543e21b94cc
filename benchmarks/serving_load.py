"""The model API under hostile load: is /healthz still quick while oversized requests arrive?

`oracle serve` runs in its own process on loopback (defaults of ``[api]``: 2 model workers,
30 s budget, 5 MB bodies). Two phases, each of fixed length: a baseline with only the
well-behaved clients (/healthz pollers and small demand forecasts), then the same clients
while hostile ones send, in turn: a 50 MB Content-Length (413 from the header), 200 KB of
``[`` (422, depth), 500 nodes x 168 h (422, node-hours), 4.5 MB of 130,000 timestamps (422,
points), a large body announced and never sent (408 after the body deadline), a head that never
ends (dropped after the head deadline) and a dispatch within the limits that keeps a worker
busy. Prints p50/p99 latency of /healthz and of
the small forecast in both phases (timed in a process of their own, apart from the hostile
clients), the answers by kind and status, and the peak RSS of the server and of its whole
process tree (server, forkserver, workers).

Goal: /healthz p99 under 100 ms while the oversized requests arrive.

Run: ``.venv/bin/python benchmarks/serving_load.py [--quick] [--clients N]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
FULL_S, QUICK_S = 60.0, 12.0
WARMUP_S = 3.0  # well-behaved traffic before the baseline, not counted (first-request imports)
BASELINE_FRACTION = 0.25  # of the duration, before the hostile clients start
GOAL_HEALTHZ_P99_MS = 100.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hour(i: int) -> str:
    return f"2024-03-{4 + i // 24:02d}T{i % 24:02d}:00:00+00:00"


def small_forecast() -> dict[str, Any]:
    n = 24 * 8
    values = [round(50 + 20 * math.sin(2 * math.pi * (i % 24) / 24) + (i * 7) % 5, 3)
              for i in range(n)]
    return {"history": {"timestamps": [hour(i) for i in range(n)], "values": values},
            "horizon": 24}


def dispatch(nodes: int, hours: int) -> dict[str, Any]:
    ids = [f"n{i}" for i in range(nodes)]
    return {"grid": {"nodes": [{"node_id": n, "demand_kw": 1 + i % 5, "storage_kwh": 5.0,
                                "storage_kw": 2.0} for i, n in enumerate(ids)],
                     "lines": [{"from": ids[(i - 1) // 2], "to": ids[i],
                                "capacity_kw": 10.0 * nodes} for i in range(1, nodes)],
                     "import_price": 0.25},
            "horizon": hours}


# ---------------------------------------------------------------- the server


def start_server(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORACLE_")}
    env.update({"PYTHONPATH": str(ROOT), "ORACLE_API__PORT": str(port),
                "ORACLE_DATABASE_URL": f"sqlite:///{workdir}/oracle.db",
                "ORACLE_DATA_DIR": str(workdir / "var"), "ORACLE_LOG_LEVEL": "WARNING"})
    oracle = [sys.executable, "-c", "from oracle.cli import run; run()"]
    subprocess.run([*oracle, "db", "upgrade"], env=env, cwd=workdir, check=True,
                   capture_output=True)
    return subprocess.Popen([*oracle, "serve"], env=env, cwd=workdir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children[ppid].append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Peak:
    """Peak RSS of the server alone and of its whole process tree, sampled every 0.25 s."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.server = 0.0
        self.total = 0.0

    async def watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.server = max(self.server, rss_mb(self.pid))
            self.total = max(self.total, sum(rss_mb(p) for p in tree(self.pid)))
            await asyncio.sleep(0.25)


# ---------------------------------------------------------------- the clients


class Tally:
    def __init__(self) -> None:
        self.latency: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.answers: Counter[tuple[str, str, str]] = Counter()

    def add(self, phase: str, kind: str, status: str, seconds: float | None = None) -> None:
        self.answers[(phase, kind, status)] += 1
        if seconds is not None and status.startswith("2"):
            self.latency[(phase, kind)].append(seconds)


async def well_behaved(base: str, kind: str, tally: Tally, phase: dict[str, str],
                       stop: asyncio.Event) -> None:
    body = small_forecast()
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                if kind == "healthz":
                    r = await client.get("/healthz")
                else:
                    r = await client.post("/forecast/demand", json=body)
                status = str(r.status_code)
            except httpx.HTTPError as err:
                status = type(err).__name__
            tally.add(phase["now"], kind, status, time.perf_counter() - started)
            await asyncio.sleep(0.05 if kind == "healthz" else 0.2)


async def raw(port: int, head: bytes, body: bytes = b"", wait_s: float = 30.0) -> str:
    """Send a raw request; the status the server answers with, or how it hung up."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + body)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), wait_s)
        return line.split()[1].decode() if line.startswith(b"HTTP/") else "dropped"
    except (TimeoutError, ConnectionError):
        return "no answer"
    finally:
        writer.close()


def post_head(path: str, length: int) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


async def hostile(base: str, port: int, offset: int, tally: Tally, stop: asyncio.Event) -> None:
    deep = b"[" * 200_000
    n = 130_000  # 4.5 MB, within the body limit: parsed (in a worker), then over api.max_points
    points = json.dumps({"history": {"timestamps": [hour(i % 5000) for i in range(n)],
                                     "values": [1.0] * n}, "horizon": 3}).encode()
    too_big = json.dumps(dispatch(500, 168)).encode()
    heavy = dispatch(200, 60)  # 12,000 node-hours: within the default limit, a busy worker
    kinds = ["413 body", "422 depth", "422 node-hours", "422 points", "408 slow body",
             "slow head", "busy worker"]
    i = offset
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        while not stop.is_set():
            kind = kinds[i % len(kinds)]
            i += 1
            started = time.perf_counter()
            if kind == "413 body":
                status = await raw(port, post_head("/optimize/grid", 50_000_000))
            elif kind == "422 depth":
                status = await raw(port, post_head("/optimize/grid", len(deep)), deep)
            elif kind == "422 points":
                status = await raw(port, post_head("/forecast/demand", len(points)), points)
            elif kind == "422 node-hours":
                status = await raw(port, post_head("/optimize/grid", len(too_big)), too_big)
            elif kind == "408 slow body":
                status = await raw(port, post_head("/optimize/grid", 4_000_000), b'{"grid": ')
            elif kind == "slow head":
                status = await raw(port, b"POST /optimize/grid HTTP/1.1\r\nHost: x\r\n")
            else:
                try:
                    status = str((await client.post("/optimize/grid", json=heavy)).status_code)
                except httpx.HTTPError as err:
                    status = type(err).__name__
            tally.add("hostile", kind, status, time.perf_counter() - started)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else math.nan


def hostile_process(port: int, clients: int, duration_s: float, out: Any) -> None:
    """The hostile clients, in a process of their own: their traffic must not delay the event
    loop that times the well-behaved requests."""

    async def main() -> Counter[tuple[str, str, str]]:
        tally, stop = Tally(), asyncio.Event()
        tasks = [asyncio.create_task(hostile(f"http://127.0.0.1:{port}", port, i, tally, stop))
                 for i in range(clients)]
        await asyncio.sleep(duration_s)
        stop.set()
        await asyncio.wait(tasks, timeout=60)
        for task in tasks:
            if task.done() and task.exception() is not None:
                raise RuntimeError(f"a hostile client failed: {task.exception()!r}")
        return tally.answers

    out.put(asyncio.run(main()))


async def load(port: int, server_pid: int, duration_s: float, clients: int) -> tuple[Tally, Peak]:
    import multiprocessing

    base = f"http://127.0.0.1:{port}"
    tally, peak, stop = Tally(), Peak(server_pid), asyncio.Event()
    phase = {"now": "warm-up"}
    polite = max(2, clients // 2)
    tasks = [asyncio.create_task(peak.watch(stop))]
    tasks += [asyncio.create_task(well_behaved(base, "healthz" if i % 2 == 0 else "forecast",
                                               tally, phase, stop)) for i in range(polite)]
    await asyncio.sleep(WARMUP_S)
    phase["now"] = "baseline"
    await asyncio.sleep(duration_s * BASELINE_FRACTION)
    phase["now"] = "hostile"
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    attacker = context.Process(target=hostile_process, args=(
        port, clients - polite, duration_s * (1 - BASELINE_FRACTION), answers))
    attacker.start()
    await asyncio.sleep(duration_s * (1 - BASELINE_FRACTION))
    stop.set()
    await asyncio.wait(tasks, timeout=60)
    tally.answers.update(await asyncio.to_thread(answers.get, True, 120))
    attacker.join(timeout=60)
    for task in tasks:  # a client that crashed would silently thin the load
        if task.done() and task.exception() is not None:
            raise RuntimeError(f"a client failed: {task.exception()!r}")
    return tally, peak


def report(tally: Tally, peak: Peak, duration_s: float, clients: int) -> None:
    print(f"duration {duration_s:g} s after a {WARMUP_S:g} s warm-up (baseline "
          f"{duration_s * BASELINE_FRACTION:g} s, then "
          f"hostile {duration_s * (1 - BASELINE_FRACTION):g} s), {clients} clients "
          f"({max(2, clients // 2)} well-behaved), oracle serve with the [api] defaults")
    print()
    print(f"{'phase':<10} {'request':<10} {'ok':>6} {'p50 ms':>8} {'p99 ms':>8}")
    for phase in ("baseline", "hostile"):
        for kind in ("healthz", "forecast"):
            values = tally.latency[(phase, kind)]
            print(f"{phase:<10} {kind:<10} {len(values):>6} {pct(values, 0.5):>8.1f} "
                  f"{pct(values, 0.99):>8.1f}")
    base = pct(tally.latency[("baseline", "healthz")], 0.99)
    under = pct(tally.latency[("hostile", "healthz")], 0.99)
    print()
    print(f"{'hostile request':<16} {'answers by status':<60}")
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    for (phase, kind, status), n in tally.answers.items():
        if phase == "hostile" and kind not in ("healthz", "forecast"):
            kinds[kind][status] += n
    refused = 0
    for kind, statuses in sorted(kinds.items()):
        refused += sum(n for s, n in statuses.items() if s.startswith("4"))
        print(f"{kind:<16} {', '.join(f'{s}: {n}' for s, n in sorted(statuses.items())):<60}")
    errors = sum(n for (p, k, s), n in tally.answers.items()
                 if k in ("healthz", "forecast") and not s.startswith("2"))
    print(f"refused with 4xx: {refused}; well-behaved requests not answered 2xx: {errors}")
    print(f"peak RSS: server {peak.server:.0f} MB, with forkserver and workers "
          f"{peak.total:.0f} MB")
    print(f"/healthz p99 under hostile load {under:.1f} ms (baseline {base:.1f} ms, x"
          f"{under / base:.2f}); goal < {GOAL_HEALTHZ_P99_MS:g} ms: "
          f"{'met' if under < GOAL_HEALTHZ_P99_MS else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_S:g} s instead of "
                        f"{FULL_S:g} s")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    args = parser.parse_args()
    duration = QUICK_S if args.quick else FULL_S
    with tempfile.TemporaryDirectory(prefix="serving-load-") as tmp:
        port = free_port()
        server = start_server(Path(tmp), port)
        try:
            deadline = time.monotonic() + 120
            while True:  # up, and its model workers started (the first forecast waits)
                try:
                    if httpx.post(f"http://127.0.0.1:{port}/forecast/demand",
                                  json=small_forecast(), timeout=60).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("oracle serve did not come up")
                time.sleep(0.5)
            tally, peak = asyncio.run(load(port, server.pid, duration, args.clients))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    report(tally, peak, duration, args.clients)


if __name__ == "__main__":
    main()
