"""The model CLIs on hostile files, through the real entry point: each bad input is one line on
stderr with exit code 2, no traceback, nothing allocated beyond the limits and no output file."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from oracle.cli import main

EXAMPLE = Path(__file__).parents[2] / "data" / "grid_small.json"


def grid_doc(**changes: Any) -> dict[str, Any]:
    doc = json.loads(EXAMPLE.read_text())
    doc.update(changes)
    return doc


def nan_capacity() -> str:
    doc = grid_doc()
    doc["grid"]["lines"][1]["capacity_kw"] = float("nan")
    return json.dumps(doc)  # Python writes the bare NaN token, as a hostile file would


def many_nodes() -> str:
    nodes = [{"node_id": f"n{i}"} for i in range(500)]
    return json.dumps({"grid": {"nodes": nodes, "import_price": 0.2}, "horizon": 168})


# (case, file name, content, needle in the one error line)
OPTIMIZE: list[tuple[str, str, Callable[[], str | bytes], str]] = [
    ("horizon 1e9", "grid.json", lambda: json.dumps(grid_doc(horizon=1e9)),
     "horizon has 1000000000 hours, more than the limit of 168 (api.max_dispatch_hours)"),
    ("horizon of a string", "grid.json", lambda: json.dumps(grid_doc(horizon="abc")),
     "horizon must be a whole number"),
    ("horizon 1.5", "grid.json", lambda: json.dumps(grid_doc(horizon=1.5)),
     "horizon must be a whole number"),
    ("horizon true", "grid.json", lambda: json.dumps(grid_doc(horizon=True)),
     "horizon must be a whole number"),
    ("500 nodes x 168 h", "grid.json", many_nodes, "(api.max_node_hours)"),
    ("demand as a list", "grid.json", lambda: json.dumps(grid_doc(demand=[1, 2, 3])),
     "demand must be an object of hourly lists per node"),
    ("generation of numbers", "grid.json",
     lambda: json.dumps(grid_doc(generation={"prosumer": 5})), "generation must be an object"),
    ("prices of words", "grid.json", lambda: json.dumps(grid_doc(prices="cheap")),
     "prices must be a number"),
    ("weights as a list", "grid.json", lambda: json.dumps(grid_doc(weights=[1, 2])),
     "weights must be an object"),
    ("carbon price of a string", "grid.json", lambda: json.dumps(grid_doc(carbon_price="x")),
     "carbon_price must be a number"),
    ("capacity_kw NaN", "grid.json", nan_capacity,
     "grid.lines[1].capacity_kw is NaN or infinite"),
    ("Infinity", "grid.json",
     lambda: json.dumps(grid_doc(carbon_price=12345.5)).replace("12345.5", "-Infinity"),
     "carbon_price is NaN or infinite"),
    ("no grid", "grid.json", lambda: json.dumps({"horizon": 3}), "grid needs a 'nodes' list"),
    ("a JSON array", "grid.json", lambda: "[1, 2]", "input must be a JSON object"),
    ("binary junk", "grid.json", lambda: bytes(range(256)) * 40, "not UTF-8 text"),
    ("deep nesting", "grid.json", lambda: "[" * 100_000 + "]" * 100_000,
     "nested deeper than 64 levels"),
    ("truncated JSON", "grid.json", lambda: json.dumps(grid_doc())[:200], "not valid JSON"),
]


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def assert_one_line(err: str, needle: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert needle in lines[0], err
    assert "Traceback" not in err and len(lines[0]) < 400


@pytest.mark.parametrize(("case", "name", "content", "needle"), OPTIMIZE,
                         ids=[c[0] for c in OPTIMIZE])
def test_optimize_refuses_hostile_files(case: str, name: str, content: Callable[[], str | bytes],
                                        needle: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    data = content()
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    out = tmp_path / "plan.json"
    started = time.perf_counter()
    code, err = run(capsys, ["model", "optimize", "-i", str(path), "-o", str(out)])
    assert code == 2, err
    assert_one_line(err, needle)
    assert time.perf_counter() - started < 10  # refused before anything of that size exists
    assert not out.exists() and not (tmp_path / "plan.json.tmp").exists()


@pytest.mark.parametrize("output", ["a-file/plan.json", "plan.json/", "plan.txt"],
                         ids=["parent is a file", "a directory", "wrong type"])
def test_an_unwritable_output_is_refused_before_the_solve(output: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    (tmp_path / "plan.json").mkdir()
    started = time.perf_counter()
    code, err = run(capsys, ["model", "optimize", "-i", str(EXAMPLE), "-o",
                             str(tmp_path / output)])
    assert code == 2, err
    assert_one_line(err, "--output")
    assert time.perf_counter() - started < 5


def test_the_example_still_solves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(capsys, ["model", "optimize", "-i", str(EXAMPLE), "-o",
                           str(tmp_path / "plan.json")])
    assert code == 0 and json.loads((tmp_path / "plan.json").read_text())["summary"]


SERIES = "ts,value\n" + "".join(f"2024-01-01T{h:02d}:00:00Z,{h}\n" for h in range(24))
# (case, argv after the command, file name, content, needle)
OTHERS: list[tuple[str, list[str], str, str | bytes, str]] = [
    ("forecast horizon beyond the limit", ["forecast", "--horizon", "100000"], "y.csv", SERIES,
     "more than the limit of 336 (api.max_horizon)"),
    ("forecast on binary junk", ["forecast", "--horizon", "3"], "y.csv", b"\x89PNG\r\n\x1a\n\xff",
     "not UTF-8 text"),
    ("forecast on deep JSON", ["forecast", "--horizon", "3"], "y.json", "{\"a\":" * 200,
     "nested deeper than 64 levels"),
    ("detect on a JSON scalar", ["detect"], "r.json", "42", "cannot parse"),
    ("detect with NaN", ["detect"], "r.json",
     '[{"meter_id": "m", "ts": "2024-01-01T00:00:00Z", "consumption_kwh": NaN, '
     '"production_kwh": 0}]', "[0].consumption_kwh is NaN or infinite"),
    ("clear with junk columns", ["clear"], "o.csv", "\x00\x01,\x02\n1,2\n", "missing column(s)"),
    ("clear on an empty file", ["clear"], "o.csv", "", "cannot parse"),
]


@pytest.mark.parametrize(("case", "args", "name", "content", "needle"), OTHERS,
                         ids=[o[0] for o in OTHERS])
def test_the_other_model_commands_refuse_hostile_files(
        case: str, args: list[str], name: str, content: str | bytes, needle: str,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    out = tmp_path / ("result.json" if args[0] == "clear" else "result.csv")
    code, err = run(capsys, ["model", *args, "-i", str(path), "-o", str(out)])
    assert code == 2, err
    assert_one_line(err, needle)
    assert not out.exists()
