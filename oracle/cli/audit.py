"""`oracle audit`: query the hash-chained audit log and verify it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console

from oracle.cli._common import ConfigOpt, DbUrlOpt, settings_for
from oracle.cli.output import Column, FormatOpt, OutputFormat, emit
from oracle.errors import AuditChainBroken, ConfigError
from oracle.store.audit import AuditLog, as_utc
from oracle.store.connect import open_store
from oracle.store.tables import AuditEntry

app = typer.Typer(help="Query and verify the tamper-evident audit log.", no_args_is_help=True)
console = Console()
_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


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


def _cut(limit: int) -> Callable[[Any], str]:
    def show(value: Any) -> str:
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        return text if len(text) <= limit else text[:limit - 3] + "..."
    return show


_AUDIT_COLUMNS = [Column("seq", "seq"), Column("time (UTC)", "ts", lambda v: str(v)[:19]),
                  Column("kind", "kind"), Column("ref", "ref", lambda v: v or ""),
                  Column("payload", "payload", _cut(60)),
                  Column("hash", "hash", lambda v: str(v)[:12])]


@app.command("list")
def list_(
    since: Annotated[str | None, typer.Option(help="From this time (ISO 8601 or an age: 6h, 2d).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this time (ISO 8601 or an age).")] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind, e.g. price.round, job.run.")] = None,
    ref: Annotated[str | None, typer.Option(help="Only entries about this reference (report id...).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many entries.")] = None,
    fmt: FormatOpt = OutputFormat.table,
    config: ConfigOpt = None,
    db_url: DbUrlOpt = None,
) -> None:
    """List audit entries, oldest first."""
    log = AuditLog(open_store(settings_for(config, db_url)))
    entries = log.list(since=parse_time("--since", since), until=parse_time("--until", until),
                       kind=kind, ref=ref, limit=limit)
    records = [_record(e) for e in entries]
    emit(records, fmt, _AUDIT_COLUMNS,
         footer=f"{len(records)} entr{'y' if len(records) == 1 else 'ies'}")


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
