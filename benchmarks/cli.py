"""CLI start-up: wall time and peak RSS of the common `oracle` commands.

Each command runs in a fresh interpreter (`python -c "from oracle.cli import run; run()"`,
what the console script does), on a small SQLite database upgraded once beforehand. The
peak RSS is the child's `ru_maxrss` read through `resource.getrusage(RUSAGE_CHILDREN)` in a
per-command parent process (RUSAGE_CHILDREN keeps the maximum over all children, so every
command gets a parent of its own). Goal: `--help` and `audit verify` under 1 s.

    .venv/bin/python benchmarks/cli.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS: list[list[str]] = [
    ["--help"],
    ["--version"],
    ["audit", "--help"],
    ["db", "current"],
    ["audit", "verify"],
    ["audit", "list"],
    ["model", "list"],
    ["keys", "--help"],
    ["contracts", "list"],
]
# The parent: runs one command as its only child, prints wall time and the child's peak RSS.
MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True)
wall = time.perf_counter() - start
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"wall_s": wall, "rss_mib": peak_kib / 1024, "code": done.returncode}))
"""


def measure(args: list[str], env: dict[str, str]) -> dict[str, float]:
    cli = [sys.executable, "-c", "import sys; sys.argv[0] = 'oracle'; "
           "from oracle.cli import run; run()", *args]
    done = subprocess.run([sys.executable, "-c", MEASURE, *cli], capture_output=True,
                          text=True, env=env, check=True)
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per command (median shown)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(ROOT),
               "ORACLE_DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.db'}"}
        setup = measure(["db", "upgrade"], env)
        if setup["code"] != 0:
            raise SystemExit("db upgrade failed; cannot measure")
        print(f"{'command':<22} {'exit':>4} {'wall s (median)':>16} {'peak RSS MiB':>13}")
        for command in COMMANDS:
            runs = [measure(command, env) for _ in range(args.repeat)]
            wall = statistics.median(r["wall_s"] for r in runs)
            rss = max(r["rss_mib"] for r in runs)
            code = int(runs[-1]["code"])
            print(f"{' '.join(command):<22} {code:>4} {wall:>16.2f} {rss:>13.0f}")


if __name__ == "__main__":
    main()
