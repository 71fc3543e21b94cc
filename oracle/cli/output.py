"""One `--format table|json|jsonl|csv` for every command whose output is a list of rows."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import typer

from oracle.errors import ConfigError


class OutputFormat(StrEnum):
    table = "table"
    json = "json"    # one JSON array
    jsonl = "jsonl"  # one JSON object per line
    csv = "csv"


FormatOpt = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="Output: table (for people), json, jsonl or csv.",
                 case_sensitive=False),
]
# The old spelling: hidden, and an error that names the new one (never silently ignored).
LegacyJsonOpt = Annotated[bool, typer.Option("--json", hidden=True)]


def reject_legacy_json(used: bool) -> None:
    """Fail with a pointer to --format when the retired --json flag is given."""
    if used:
        raise ConfigError("--json was replaced by --format: use --format json (an array) or "
                          "--format jsonl (one object per line)", key="--json", value=True)


@dataclass(frozen=True)
class Column:
    """One column: its header, the record key, and how the table shows the value (an empty
    key hands `show` the whole record, for a column derived from several keys)."""

    header: str
    key: str
    show: Callable[[Any], str] = str


def _csv_cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return "" if value is None else value


def emit(records: Sequence[dict[str, Any]], fmt: OutputFormat, columns: Sequence[Column],
         *, footer: str | None = None) -> None:
    """Print `records`: machine formats carry every key, the table the given columns."""
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(list(records), indent=1, default=str))
    elif fmt is OutputFormat.jsonl:
        for record in records:
            typer.echo(json.dumps(record, sort_keys=True, default=str))
    elif fmt is OutputFormat.csv:
        fields = list(records[0]) if records else [c.key for c in columns if c.key]
        writer = csv.DictWriter(sys.stdout, fieldnames=fields, extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        for record in records:
            writer.writerow({k: _csv_cell(record.get(k)) for k in fields})
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*(c.header for c in columns))
        for record in records:
            table.add_row(*(c.show(record.get(c.key) if c.key else record) for c in columns))
        console = Console()
        console.print(table)
        if footer:
            console.print(footer)
