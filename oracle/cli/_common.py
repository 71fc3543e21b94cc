"""Options and file helpers shared by the command groups."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from oracle.config import Settings, load_settings
from oracle.errors import ConfigError, SourceDataInvalid

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="Settings file (TOML); ORACLE_* variables override it.",
                 envvar="ORACLE_CONFIG", dir_okay=False),
]
DbUrlOpt = Annotated[
    str | None,
    typer.Option("--db-url", help="Database URL (overrides database_url / ORACLE_DATABASE_URL)."),
]
InputOpt = Annotated[Path, typer.Option("--input", "-i", help="Input file: .csv or .json.")]
OutputOpt = Annotated[Path, typer.Option("--output", "-o", help="Output file: .csv or .json.")]


def read_table(path: Path, *, required: list[str] | None = None) -> pd.DataFrame:
    """Read a CSV or JSON (list of records) file into a frame; names missing columns."""
    if not path.exists():
        raise ConfigError(f"--input: file {str(path)!r} does not exist", key="input",
                          value=str(path))
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path)
        elif suffix == ".json":
            frame = pd.DataFrame(json.loads(path.read_text()))
        else:
            raise ConfigError(f"--input: unsupported file type {suffix!r}; use .csv or .json",
                              key="input", value=str(path))
    except (ValueError, pd.errors.ParserError) as err:
        raise SourceDataInvalid(f"{path}: cannot parse: {err}", field="input",
                                value=str(path)) from err
    missing = [c for c in (required or []) if c not in frame.columns]
    if missing:
        raise SourceDataInvalid(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, frame.columns))}",
            field=missing[0], value=None)
    return frame


def read_json(path: Path) -> Any:
    """Read a JSON document, naming the file on failure."""
    if not path.exists():
        raise ConfigError(f"--input: file {str(path)!r} does not exist", key="input",
                          value=str(path))
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise SourceDataInvalid(f"{path}: not valid JSON: {err}", field="input",
                                value=str(path)) from err


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def write_output(obj: pd.DataFrame | dict[str, Any] | list[Any], path: Path,
                 *, index: bool = False) -> None:
    """Write a frame (CSV or JSON records) or a plain object (JSON) atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    suffix = path.suffix.lower()
    if isinstance(obj, pd.DataFrame):
        if suffix == ".csv":
            obj.to_csv(tmp, index=index)
        elif suffix == ".json":
            frame = obj.reset_index() if index else obj
            tmp.write_text(frame.to_json(orient="records", date_format="iso", indent=1))
        else:
            raise ConfigError(f"--output: unsupported file type {suffix!r}; use .csv or .json",
                              key="output", value=str(path))
    else:
        if suffix != ".json":
            raise ConfigError(f"--output: this result is a document; use a .json file, not {suffix!r}",
                              key="output", value=str(path))
        tmp.write_text(json.dumps(_jsonable(obj), indent=1, default=str))
    tmp.replace(path)


CommandRegistrar = Callable[[typer.Typer], None]


def settings_for(config: Path | None, db_url: str | None = None, **overrides: Any) -> Settings:
    """Settings from --config and ORACLE_*, with command-line overrides on top."""
    return load_settings(config, database_url=db_url, **overrides)
