"""What one request or input file may ask of the models, checked before anything is allocated.

The ``[api]`` settings choose the working limits (``api.max_points``, ``api.max_node_hours``...);
the ceilings here bound what a configuration may choose and what the request schemas parse.
The HTTP API and the model CLIs apply the same checks; a breach raises ``InputTooLarge``
naming the field, the value and the setting (a 413 or 422 in the API, exit 2 on the CLI).
"""

from __future__ import annotations

from typing import Protocol

from oracle.errors import InputTooLarge

CEILING_POINTS = 500_000
CEILING_ORDERS = 200_000
CEILING_CURVE_POINTS = 50_000
CEILING_HORIZON = 24 * 366
CEILING_NODES = 5_000
CEILING_LINES = 20_000
CEILING_DISPATCH_HOURS = 24 * 31
CEILING_NODE_HOURS = 1_000_000
CEILING_JSON_DEPTH = 512


class Limits(Protocol):
    """The working limits (``settings.api``)."""

    max_points: int
    max_orders: int
    max_curve_points: int
    max_horizon: int
    max_nodes: int
    max_dispatch_hours: int
    max_node_hours: int


def check_at_most(field: str, value: int, limit: int, setting: str, what: str = "items") -> None:
    """``value`` (a length, a horizon) must not exceed ``limit``, the value of ``setting``."""
    if value > limit:
        raise InputTooLarge(f"{field} has {value} {what}, more than the limit of {limit} "
                            f"(api.{setting})", field=field, setting=f"api.{setting}",
                            limit=limit)


def check_dispatch(limits: Limits, nodes: int, hours: int) -> None:
    """A dispatch problem of ``nodes`` x ``hours`` fits the limits (checked before the model
    allocates its variables)."""
    check_at_most("grid.nodes", nodes, limits.max_nodes, "max_nodes", "nodes")
    check_at_most("horizon", hours, limits.max_dispatch_hours, "max_dispatch_hours", "hours")
    if nodes * hours > limits.max_node_hours:
        raise InputTooLarge(f"the dispatch problem has {nodes} nodes x {hours} hours = "
                            f"{nodes * hours} node-hours, more than the limit of "
                            f"{limits.max_node_hours} (api.max_node_hours)", field="horizon",
                            setting="api.max_node_hours", limit=limits.max_node_hours)
