"""`oracle model clear`: the double-auction market clearing on an orders file."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from models.errors import ModelError as ModelFailure
from models.pricing import clear_by_node, clear_market, split_orders
from oracle.cli._common import (
    ConfigOpt,
    InputOpt,
    OutputOpt,
    check_output,
    read_table,
    settings_for,
    write_output,
)
from oracle.config import ApiSettings
from oracle.limits import Limits, check_at_most
from oracle.model_errors import translate

REQUIRED = ["order_id", "side", "quantity_kwh", "limit_price", "ts"]


class Rule(StrEnum):
    """Pricing rule of the clearing."""

    uniform = "uniform"
    pay_as_bid = "pay_as_bid"


RuleOpt = Annotated[Rule, typer.Option("--rule", help="uniform (pay-as-clear) or pay_as_bid.")]
FloorOpt = Annotated[float, typer.Option("--floor", help="Lowest allowed price per kWh.")]
CapOpt = Annotated[float, typer.Option("--cap", help="Highest allowed price per kWh.")]
ByNodeOpt = Annotated[bool, typer.Option("--by-node", help="Clear each node_id on its own.")]


def clear_file(input_path: Path, output: Path, rule: str = "uniform", floor: float = 0.05,
               cap: float = 0.50, by_node: bool = False,
               limits: Limits | None = None) -> dict[str, Any]:
    """Clear the orders in ``input_path`` and write the clearing as JSON; returns the summary."""
    limits = limits or ApiSettings()
    check_output(output, document=True)
    orders = read_table(input_path, required=REQUIRED)
    try:
        bids, offers = split_orders(orders)
        for side, book in (("bids", bids), ("offers", offers)):
            check_at_most(f"{input_path} {side}", len(book), limits.max_orders, "max_orders",
                          "orders")
        if by_node:
            nodes = clear_by_node(bids, offers, rule=rule, floor=floor, cap=cap)
            result: dict[str, Any] = {"rule": rule, "nodes": {
                str(node): clearing.to_dict() for node, clearing in nodes.items()}}
        else:
            result = clear_market(bids, offers, rule=rule, floor=floor, cap=cap).to_dict()
    except ModelFailure as err:
        raise translate(err, str(input_path)) from err
    write_output(result, output)
    return result


def _summary(result: dict[str, Any]) -> str:
    if "nodes" in result:
        traded = sum(1 for c in result["nodes"].values() if c["price"] is not None)
        volume = sum(c["volume_kwh"] for c in result["nodes"].values())
        return f"{len(result['nodes'])} nodes, {traded} traded, {volume:.3f} kWh"
    if result["price"] is None:
        return "no trade: the books do not cross"
    return (f"price {result['price']:.4f}, {result['volume_kwh']:.3f} kWh in "
            f"{len(result['matches'])} matches")


def register(app: typer.Typer) -> None:
    """Add `clear` to the `model` sub-app."""

    @app.command("clear")
    def clear(input: InputOpt, output: OutputOpt, rule: RuleOpt = Rule.uniform,
              floor: FloorOpt = 0.05, cap: CapOpt = 0.50, by_node: ByNodeOpt = False,
              config: ConfigOpt = None) -> None:
        """Clear a double auction: orders (order_id, side bid/offer, quantity_kwh, limit_price,
        ts[, user_id, meter_id, node_id]) to a clearing JSON (price, volume, matches, surplus,
        unmatched remainders)."""
        result = clear_file(input, output, rule.value, floor, cap, by_node,
                            settings_for(config).api)
        typer.echo(f"{_summary(result)}; written to {output}")
