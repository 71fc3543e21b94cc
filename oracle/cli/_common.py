"""Options and file helpers shared by the command groups."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from oracle import jsonsafe
from oracle.config import Settings, load_settings
from oracle.errors import ConfigError, SourceDataInvalid
from oracle.jsonsafe import excerpt

if TYPE_CHECKING:  # pandas is imported by the commands that read or write tables
    import pandas as pd

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


def _input_text(path: Path) -> str:
    """The input file as UTF-8 text; a missing, unreadable or binary file is one clear line."""
    if not path.exists():
        raise ConfigError(f"--input: file {str(path)!r} does not exist", key="input",
                          value=str(path))
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise SourceDataInvalid(f"--input {path}: not UTF-8 text (byte {err.start}); give a "
                                ".csv or .json file", field="input", value=str(path)) from None
    except OSError as err:
        raise ConfigError(f"--input: cannot read {str(path)!r}: {err.strerror or err}",
                          key="input", value=str(path)) from None


def nonfinite_at(doc: Any, where: str = "") -> str | None:
    """The path of the first NaN or infinite number in a parsed JSON document, if any."""
    if isinstance(doc, float) and not math.isfinite(doc):
        return where or "(document)"
    items = (doc.items() if isinstance(doc, dict)
             else enumerate(doc) if isinstance(doc, list) else ())
    for key, value in items:
        inner = f"{where}[{key}]" if isinstance(key, int) else (f"{where}.{key}" if where else key)
        found = nonfinite_at(value, inner)
        if found is not None:
            return found
    return None


def read_json(path: Path) -> Any:
    """A JSON document nested at most ``jsonsafe.MAX_DEPTH`` deep, every number finite."""
    text = _input_text(path)
    try:
        doc = jsonsafe.loads(text)
    except jsonsafe.JsonRejected as err:
        raise SourceDataInvalid(f"--input {path}: {err}", field="input", value=str(path)) from None
    bad = nonfinite_at(doc)
    if bad is not None:
        raise SourceDataInvalid(f"--input {path}: {bad} is NaN or infinite; give a finite "
                                "number (or null where a default applies)", field=bad,
                                value=None)
    return doc


def read_table(path: Path, *, required: list[str] | None = None) -> pd.DataFrame:
    """Read a CSV or JSON (list of records) file into a frame; names missing columns."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ConfigError(f"--input: unsupported file type {suffix!r}; use .csv or .json",
                          key="input", value=str(path))
    try:
        if suffix == ".json":
            frame = pd.DataFrame(read_json(path))
        else:
            _input_text(path)  # exists, readable, text
            frame = pd.read_csv(path)
    except (ValueError, TypeError, pd.errors.ParserError) as err:
        raise SourceDataInvalid(f"--input {path}: cannot parse: {excerpt(str(err))}",
                                field="input", value=str(path)) from None
    missing = [c for c in (required or []) if c not in frame.columns]
    if missing:
        found = excerpt(", ".join(map(str, frame.columns)))
        raise SourceDataInvalid(f"--input {path}: missing column(s) {', '.join(missing)}; "
                                f"found {found}", field=missing[0], value=None)
    return frame


def check_output(path: Path, *, document: bool = False) -> None:
    """Fail before any work if ``--output`` has the wrong type or cannot be written."""
    suffix = path.suffix.lower()
    allowed = (".json",) if document else (".csv", ".json")
    if suffix not in allowed:
        what = "this result is a document; use a .json file" if document else "use .csv or .json"
        raise ConfigError(f"--output: unsupported file type {suffix!r}; {what}", key="output",
                          value=str(path))
    if path.is_dir():
        raise ConfigError(f"--output: {str(path)!r} is a directory", key="output",
                          value=str(path))
    probe = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise ConfigError(f"--output: cannot write {str(path)!r}: {err.strerror or err}",
                          key="output", value=str(path)) from None


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    pandas = sys.modules.get("pandas")  # a Timestamp exists only if pandas was imported
    if pandas is not None and isinstance(value, pandas.Timestamp):
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
    import pandas as pd

    check_output(path, document=not isinstance(obj, pd.DataFrame))
    tmp = path.with_name(path.name + ".tmp")
    try:
        if isinstance(obj, pd.DataFrame):
            if path.suffix.lower() == ".csv":
                obj.to_csv(tmp, index=index)
            else:
                frame = obj.reset_index() if index else obj
                tmp.write_text(frame.to_json(orient="records", date_format="iso", indent=1))
        else:
            tmp.write_text(json.dumps(_jsonable(obj), indent=1, default=str))
        tmp.replace(path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"--output: cannot write {str(path)!r}: {err.strerror or err}",
                          key="output", value=str(path)) from None


CommandRegistrar = Callable[[typer.Typer], None]


def settings_for(config: Path | None, db_url: str | None = None, **overrides: Any) -> Settings:
    """Settings from --config and ORACLE_*, with command-line overrides on top."""
    return load_settings(config, database_url=db_url, **overrides)
