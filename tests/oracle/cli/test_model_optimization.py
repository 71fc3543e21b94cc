"""`oracle model optimize` on the example grid file and on bad files."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from oracle.cli.model_optimization import register
from oracle.errors import ModelError

EXAMPLE = Path(__file__).parents[2] / "data" / "grid_small.json"


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def main() -> None:
        """Test root."""

    return app


def test_optimize_writes_a_balanced_plan(tmp_path: Path) -> None:
    out = tmp_path / "dispatch.json"
    result = CliRunner().invoke(_app(), ["optimize", "--input", str(EXAMPLE), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "written to" in result.output
    plan = json.loads(out.read_text())
    doc = json.loads(EXAMPLE.read_text())
    assert len(plan["hours"]) == 24 and plan["hours"][0].startswith("2024-06-03T00:00")
    assert plan["summary"]["status"] == "optimal"
    # the whole microgrid balances every hour: imports + PV used + diesel + battery = served load
    for t in range(24):
        supply = (plan["grid_import"][t] - plan["grid_export"][t]
                  + doc["generation"]["prosumer"][t]
                  - sum(v[t] for v in plan["renewable_spilled"].values())
                  + sum(v[t] for v in plan["generation"].values())
                  + sum(v[t] for v in plan["storage_discharge"].values())
                  - sum(v[t] for v in plan["storage_charge"].values()))
        served = sum(v[t] for v in plan["served_demand"].values())
        assert abs(supply - served) < 1e-6
    assert max(abs(f) for f in plan["flows"]["feeder->consumer"]) <= 6.0 + 1e-6
    assert set(plan["nodal_prices"]) == {"feeder", "prosumer", "consumer"}


def test_bad_value_exits_2_naming_the_field(tmp_path: Path) -> None:
    doc = json.loads(EXAMPLE.read_text())
    doc["grid"]["nodes"][1]["storage_kwh"] = -5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    result = CliRunner().invoke(_app(), ["optimize", "-i", str(bad), "-o", str(tmp_path / "o.json")])
    assert result.exit_code != 0
    assert isinstance(result.exception, Exception)
    assert "nodes.storage_kwh" in str(result.exception)
    assert type(result.exception).__name__ == "SourceDataInvalid"


def test_infeasible_plan_is_a_model_error(tmp_path: Path) -> None:
    doc = json.loads(EXAMPLE.read_text())
    doc["grid"]["lines"][1]["capacity_kw"] = 1.0
    doc["grid"]["generators"] = []
    bad = tmp_path / "tight.json"
    bad.write_text(json.dumps(doc))
    result = CliRunner().invoke(_app(), ["optimize", "-i", str(bad), "-o", str(tmp_path / "o.json")])
    assert isinstance(result.exception, ModelError)  # a SolveFailed, naming the binding group
    assert type(result.exception).__name__ == "SolveFailed"
    assert result.exception.binding == "line_limits" and "line_limits" in str(result.exception)
    assert not (tmp_path / "o.json").exists()  # never a partial plan
