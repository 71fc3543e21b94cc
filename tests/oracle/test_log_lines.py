"""Every log line is one JSON object; alembic and APScheduler stay below INFO."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import logging, sys
from apscheduler.schedulers.background import BackgroundScheduler
from oracle import logs
from oracle.store.engine import make_engine
from oracle.store.migrate import upgrade

logs.configure("INFO")
upgrade(make_engine(f"sqlite:///{sys.argv[1]}"))
scheduler = BackgroundScheduler()
scheduler.add_job(lambda: None, "interval", seconds=60)
scheduler.start()
scheduler.shutdown()
logging.getLogger("uvicorn.error").info("Started server process [1]")
logging.getLogger("oracle.jobs").info("an operator event")
"""


def test_library_chatter_is_kept_out_and_every_line_is_json(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "o.db")],
                          capture_output=True, text=True, timeout=120, check=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout == ""
    lines = [json.loads(line) for line in done.stderr.splitlines()]  # each one JSON
    loggers = [entry["logger"] for entry in lines]
    assert loggers == ["uvicorn.error", "oracle.jobs"], lines
    assert lines[0]["message"] == "Started server process [1]" and lines[0]["level"] == "info"


QUIET = """
import logging
import psycopg  # sets its own logger to WARNING on import
from oracle import logs

logs.configure(LEVEL, json_lines=False)
logging.getLogger("psycopg").warning("error ignored terminating <psycopg.Pipeline [BAD]>")
logging.getLogger("oracle.cli").error("the one error line")
"""


def test_a_command_at_error_level_prints_no_psycopg_clean_up_note() -> None:
    def run(level: str) -> str:
        return subprocess.run([sys.executable, "-c", QUIET.replace("LEVEL", repr(level))],
                              capture_output=True, text=True, timeout=120, check=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}).stderr

    quiet = run("ERROR").splitlines()
    assert len(quiet) == 1 and quiet[0].endswith("ERROR oracle.cli: the one error line")
    assert "error ignored terminating" in run("INFO")  # the daemon's log still has it
