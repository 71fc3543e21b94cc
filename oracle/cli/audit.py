"""`oracle audit`: query the hash-chained audit log and verify it."""

from __future__ import annotations

import csv
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from oracle.cli._common import ConfigOpt, DbUrlOpt, settings_for
from oracle.errors import AuditChainBroken, ConfigError
from oracle.store.audit import AuditLog, as_utc
from oracle.store.connect import open_store
from oracle.store.tables import AuditEntry

app = typer.Typer(help="Query and verify the tamper-evident audit log.", no_args_is_help=True)
console = Console()
_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def parse_time(option: str, value: str | None) -> datetime | None:
    """ISO 8601 (UTC if no zone) or a relative age such as 30m, 6h, 2d, 1w."""
    if value is None:
        return None
    match = _RELATIVE.match(value.strip())
    if match:
        return datetime.now(UTC) - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError as err:
        raise ConfigError(f"{option} {value!r}: use ISO 8601 (2026-01-31T12:00Z) or an age like 6h, 2d",
                          key=option, value=value) from err


def _record(entry: AuditEntry) -> dict[str, Any]:
    return {"seq": entry.seq, "ts": as_utc(entry.ts).isoformat(), "kind": entry.kind,
            "ref": entry.ref, "actor": entry.actor, "payload": json.loads(entry.payload),
            "prev_hash": entry.prev_hash, "hash": entry.hash}


@app.command("list")
def list_(
    since: Annotated[str | None, typer.Option(help="From this time (ISO 8601 or an age: 6h, 2d).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this time (ISO 8601 or an age).")] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind, e.g. price.round, job.run.")] = None,
    ref: Annotated[str | None, typer.Option(help="Only entries about this reference (report id...).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many entries.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    config: ConfigOpt = None,
    db_url: DbUrlOpt = None,
) -> None:
    """List audit entries, oldest first."""
    log = AuditLog(open_store(settings_for(config, db_url)))
    entries = log.list(since=parse_time("--since", since), until=parse_time("--until", until),
                       kind=kind, ref=ref, limit=limit)
    records = [_record(e) for e in entries]
    if fmt is Format.json:
        typer.echo(json.dumps(records, indent=1))
    elif fmt is Format.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=["seq", "ts", "kind", "ref", "actor", "payload", "hash"],
                                extrasaction="ignore")
        writer.writeheader()
        for r in records:
            writer.writerow({**r, "payload": json.dumps(r["payload"], sort_keys=True)})
    else:
        table = Table("seq", "time (UTC)", "kind", "ref", "payload", "hash")
        for r in records:
            payload = json.dumps(r["payload"], sort_keys=True)
            table.add_row(str(r["seq"]), r["ts"][:19], r["kind"], r["ref"] or "",
                          payload if len(payload) <= 60 else payload[:57] + "...", r["hash"][:12])
        console.print(table)
        console.print(f"{len(records)} entr{'y' if len(records) == 1 else 'ies'}")


@app.command()
def show(seq: Annotated[int, typer.Argument(help="Entry number (seq).")],
         config: ConfigOpt = None, db_url: DbUrlOpt = None) -> None:
    """Show one entry in full, as JSON."""
    entry = AuditLog(open_store(settings_for(config, db_url))).get(seq)
    if entry is None:
        raise ConfigError(f"no audit entry {seq}", key="ID", value=seq)
    typer.echo(json.dumps(_record(entry), indent=1))


@app.command()
def verify(config: ConfigOpt = None, db_url: DbUrlOpt = None) -> None:
    """Recompute the hash chain; exit 1 naming the first entry that does not verify."""
    result = AuditLog(open_store(settings_for(config, db_url))).verify()
    if not result.ok:
        assert result.broken_seq is not None
        raise AuditChainBroken(f"audit log BROKEN after {result.checked} good entries: {result.reason}",
                               seq=result.broken_seq)
    console.print(f"audit log intact: {result.checked} entries verified")
