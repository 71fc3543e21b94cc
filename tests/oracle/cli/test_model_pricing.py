"""`oracle model clear` on files, through Typer's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from oracle.cli.model_pricing import clear_file, register
from oracle.errors import ConfigError, SourceDataInvalid

ORDERS = pd.DataFrame([
    {"order_id": "b1", "side": "bid", "quantity_kwh": 5, "limit_price": 0.30,
     "ts": "2024-06-01T12:00:00Z", "user_id": "u1", "node_id": "A"},
    {"order_id": "b2", "side": "bid", "quantity_kwh": 3, "limit_price": 0.20,
     "ts": "2024-06-01T12:00:01Z", "user_id": "u2", "node_id": "B"},
    {"order_id": "o1", "side": "offer", "quantity_kwh": 4, "limit_price": 0.10,
     "ts": "2024-06-01T12:00:00Z", "user_id": "u3", "node_id": "A"},
    {"order_id": "o2", "side": "offer", "quantity_kwh": 4, "limit_price": 0.25,
     "ts": "2024-06-01T12:00:00Z", "user_id": "u4", "node_id": "B"},
])


@pytest.fixture()
def app() -> typer.Typer:
    model = typer.Typer()

    @model.callback()
    def _group() -> None:
        """model"""

    register(model)
    return model


def write_orders(tmp_path: Path, frame: pd.DataFrame = ORDERS) -> Path:
    path = tmp_path / "orders.csv"
    frame.to_csv(path, index=False)
    return path


def test_clear_writes_the_clearing(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "clearing.json"
    result = CliRunner().invoke(app, ["clear", "--input", str(write_orders(tmp_path)),
                                      "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "price 0.2500" in result.output
    doc = json.loads(out.read_text())
    assert doc["price"] == pytest.approx(0.25) and doc["volume_kwh"] == pytest.approx(5)
    assert [m["bid_id"] for m in doc["matches"]] == ["b1", "b1"]
    assert doc["unmatched_bids"][0]["order_id"] == "b2"


def test_clear_pay_as_bid_and_by_node(app: typer.Typer, tmp_path: Path) -> None:
    orders = write_orders(tmp_path)
    out = tmp_path / "pab.json"
    result = CliRunner().invoke(app, ["clear", "-i", str(orders), "-o", str(out),
                                      "--rule", "pay_as_bid"])
    assert result.exit_code == 0, result.output
    assert [m["price"] for m in json.loads(out.read_text())["matches"]] == \
        pytest.approx([0.20, 0.275])
    result = CliRunner().invoke(app, ["clear", "-i", str(orders), "-o", str(out), "--by-node"])
    assert result.exit_code == 0, result.output
    nodes = json.loads(out.read_text())["nodes"]
    assert nodes["A"]["volume_kwh"] == pytest.approx(4) and nodes["B"]["price"] is None


def test_clear_translates_bad_orders(tmp_path: Path) -> None:
    bad = ORDERS.copy()
    bad.loc[3, "quantity_kwh"] = -2
    with pytest.raises(SourceDataInvalid, match="o2") as info:
        clear_file(write_orders(tmp_path, bad), tmp_path / "c.json")
    assert (info.value.field, info.value.row, info.value.value) == ("quantity_kwh", "o2", -2)
    bad = ORDERS.copy()
    bad.loc[0, "side"] = "buy"
    with pytest.raises(SourceDataInvalid, match="side"):
        clear_file(write_orders(tmp_path, bad), tmp_path / "c.json")
    with pytest.raises(SourceDataInvalid, match="missing column"):
        clear_file(write_orders(tmp_path, ORDERS.drop(columns="side")), tmp_path / "c.json")
    with pytest.raises(SourceDataInvalid, match="cap"):
        clear_file(write_orders(tmp_path), tmp_path / "c.json", cap=0.2)
    with pytest.raises(ConfigError, match=r"\.json"):
        clear_file(write_orders(tmp_path), tmp_path / "c.csv")


def test_clear_rejects_unknown_rule(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["clear", "-i", str(write_orders(tmp_path)),
                                      "-o", str(tmp_path / "c.json"), "--rule", "vickrey"])
    assert result.exit_code == 2 and not (tmp_path / "c.json").exists()
