"""The evaluation report: one self-contained HTML file with PNG plots embedded as base64.

Sections (each drawn only when its data is present): forecast against actual with intervals,
error by horizon, interval calibration, live calibration, anomaly timeline per meter, clearing prices and volumes,
dispatch (storage state of charge, grid imports, line loading), and the metrics tables.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class ReportData:
    """What the report shows; any part may be None or empty."""

    forecast: pd.DataFrame | None = None       # index ts; actual, mean, lo_80, hi_80, lo_95, hi_95
    by_horizon: pd.DataFrame | None = None     # index horizon (steps); one column per error metric
    calibration: pd.DataFrame | None = None    # nominal (%), empirical (%)
    live: pd.DataFrame | None = None           # per level: live one-step coverage, bias, scale
    anomalies: pd.DataFrame | None = None      # meter_id, ts, type, severity
    clearing: pd.DataFrame | None = None       # index interval_start; price, volume_kwh
    soc: pd.DataFrame | None = None            # index hour (UTC); one column per storage node (kWh)
    grid_import: pd.Series | None = None       # index hour (UTC); kW
    line_loading: pd.DataFrame | None = None   # index hour (UTC); one column per line (fraction)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    title: str = "SolChain Oracle: model evaluation"


def _figure(width: float = 10, height: float = 3.6) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    ax.grid(alpha=0.3)
    return fig, ax


@dataclass(frozen=True)
class Chart:
    """One drawn plot: the PNG (base64) and the labels its time axis shows, as drawn."""

    png: str
    time_labels: tuple[str, ...] = ()


def utc_times(values: Any) -> np.ndarray:
    """Times as naive UTC ``datetime64`` (what matplotlib's date axis draws without shifting)."""
    times = pd.DatetimeIndex(pd.to_datetime(values, utc=True))
    return times.tz_localize(None).to_numpy()


def _time_axis(ax: Any, times: np.ndarray) -> None:
    """A date axis spanning exactly the data (an hour either side of a single point): never
    matplotlib's default of two years around one day, never step numbers."""
    from matplotlib import dates as mdates

    lo, hi = times.min(), times.max()
    if lo == hi:
        lo, hi = lo - np.timedelta64(1, "h"), hi + np.timedelta64(1, "h")
    ax.set_xlim(lo, hi)
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=True))
    ax.set_xlabel("time (UTC)")


def _png(fig: Any, time_axis: Any | None = None) -> Chart:
    from matplotlib import pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    labels: tuple[str, ...] = ()
    if time_axis is not None:  # the tick labels and the offset (the date) as drawn just now
        ticks = [t.get_text() for t in time_axis.get_xticklabels() if t.get_text()]
        offset = time_axis.xaxis.get_major_formatter().get_offset()
        labels = tuple(ticks + ([offset] if offset else []))
    plt.close(fig)
    return Chart(base64.b64encode(buffer.getvalue()).decode(), labels)


def plot_forecast(frame: pd.DataFrame) -> Chart:
    fig, ax = _figure()
    times = utc_times(frame.index)
    for level, alpha in ((95, 0.15), (80, 0.3)):
        if {f"lo_{level}", f"hi_{level}"} <= set(frame.columns):
            ax.fill_between(times, frame[f"lo_{level}"].to_numpy(dtype=float),
                            frame[f"hi_{level}"].to_numpy(dtype=float), alpha=alpha,
                            color="tab:blue", label=f"{level}% interval")
    ax.plot(times, frame["mean"].to_numpy(dtype=float), color="tab:blue", marker=".", ms=3,
            label="forecast")
    ax.plot(times, frame["actual"].to_numpy(dtype=float), color="black", lw=1, marker=".", ms=3,
            label="actual")
    ax.set(title="Demand forecast against actual", ylabel="kWh")
    _time_axis(ax, times)
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig, ax)


def plot_by_horizon(frame: pd.DataFrame) -> Chart:
    fig, ax = _figure()
    for column in frame.columns:
        ax.plot(frame.index, frame[column], marker="o", ms=3, label=column)
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.set(title="Error by horizon", xlabel="steps ahead", ylabel="error")
    ax.legend(fontsize=8)
    return _png(fig)


def plot_calibration(frame: pd.DataFrame) -> Chart:
    fig, ax = _figure(5, 4)
    ax.plot([0, 100], [0, 100], ls="--", color="grey", label="perfect")
    ax.plot(frame["nominal"], frame["empirical"], marker="o", color="tab:red", label="observed")
    ax.set(title="Interval calibration", xlabel="nominal coverage (%)",
           ylabel="empirical coverage (%)", xlim=(0, 100), ylim=(0, 100))
    ax.legend(fontsize=8)
    return _png(fig)


def plot_anomalies(frame: pd.DataFrame) -> Chart:
    meters = sorted(frame["meter_id"].astype(str).unique())
    fig, ax = _figure(10, max(2.5, 0.35 * len(meters) + 1.5))
    colours = {"low": "tab:green", "medium": "tab:orange", "high": "tab:red",
               "critical": "darkred"}
    rows = {m: i for i, m in enumerate(meters)}
    for severity, part in frame.groupby("severity"):
        ax.scatter(utc_times(part["ts"]), part["meter_id"].astype(str).map(rows),
                   label=str(severity), color=colours.get(str(severity), "tab:blue"), s=18)
    ax.set_yticks(range(len(meters)), meters)
    ax.set(title="Anomaly timeline per meter")
    _time_axis(ax, utc_times(frame["ts"]))
    ax.legend(fontsize=8, title="severity")
    return _png(fig, ax)


def plot_clearing(frame: pd.DataFrame) -> Chart:
    fig, ax = _figure()
    times = utc_times(frame.index)
    ax.bar(times, frame["volume_kwh"].to_numpy(dtype=float), width=0.03, color="tab:grey",
           alpha=0.6, label="volume (kWh)")
    ax.set_ylabel("volume (kWh)")
    price = ax.twinx()
    price.plot(times, frame["price"].to_numpy(dtype=float), color="tab:purple", marker=".",
               label="price")
    price.set_ylabel("price (per kWh)")
    ax.set(title="Clearing prices and volumes")
    _time_axis(ax, times)
    return _png(fig, ax)


def plot_dispatch(soc: pd.DataFrame | None, imports: pd.Series | None,
                  loading: pd.DataFrame | None) -> Chart:
    """Each panel against the schedule's hours (UTC), on one shared time axis."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    panels = [p for p in (soc, imports, loading) if p is not None and len(p)]
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.6 * len(panels)), dpi=100,
                             sharex=True, squeeze=False)
    slots = iter(axes[:, 0])
    times: list[np.ndarray] = []
    if soc is not None and len(soc):
        ax = next(slots)
        times.append(utc_times(soc.index))
        for column in soc.columns:
            ax.step(times[-1], soc[column].to_numpy(dtype=float), where="post", label=str(column))
        ax.set(title="Storage state of charge", ylabel="kWh")
        ax.legend(fontsize=8)
    if imports is not None and len(imports):
        ax = next(slots)
        times.append(utc_times(imports.index))
        ax.step(times[-1], imports.to_numpy(dtype=float), where="post", color="tab:brown")
        ax.set(title="Grid imports", ylabel="kW")
    if loading is not None and len(loading):
        ax = next(slots)
        times.append(utc_times(loading.index))
        for column in loading.columns:
            ax.step(times[-1], 100 * loading[column].to_numpy(dtype=float), where="post",
                    label=str(column))
        ax.axhline(100, color="red", ls="--", lw=1)
        ax.set(title="Line loading", ylabel="% of capacity")
        ax.legend(fontsize=8)
    for ax in axes[:, 0]:
        ax.grid(alpha=0.3)
    bottom = axes[-1, 0]
    _time_axis(bottom, np.concatenate(times))
    for ax in axes[:-1, 0]:
        ax.set_xlabel("")
    return _png(fig, bottom)


def _section(title: str, chart: Chart | None = None, body: str = "") -> str:
    image = ""
    if chart is not None:
        image = f'<img alt="{html.escape(title)}" src="data:image/png;base64,{chart.png}">'
        if chart.time_labels:  # the time axis in words too (screen readers, text browsers)
            labels = " · ".join(html.escape(label) for label in chart.time_labels)
            image += f'<p class="axis">Time axis (UTC): <span class="time-ticks">{labels}</span></p>'
    return f"<section><h2>{html.escape(title)}</h2>{image}{body}</section>"


def cell(value: Any) -> str:
    """A table cell a person reads: ``key: value`` pairs for mappings, times in UTC to the
    minute, numbers to four significant digits, nothing for missing values."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {cell(v)}" for k, v in value.items())
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, pd.Timestamp | datetime):
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        return stamp.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    if isinstance(value, float | np.floating):
        return f"{float(value):.4g}"
    return str(value)


def table_html(frame: pd.DataFrame) -> str:
    """``frame`` as an HTML table of readable cells (see :func:`cell`); the index is shown
    unless it is only row numbers."""
    numbered = isinstance(frame.index, pd.RangeIndex)
    shown = frame.copy()
    if not numbered:
        shown.index = pd.Index([cell(i) for i in shown.index], name=frame.index.name)
    return shown.map(cell).to_html(escape=True, index=not numbered)


def _present(frame: Any) -> bool:
    return frame is not None and len(frame) > 0


def render_report(data: ReportData, out_dir: Path) -> Path:
    """Write ``out_dir/index.html`` (plots embedded) and return its path."""
    sections = []
    if _present(data.forecast):
        sections.append(_section("Forecast against actual", plot_forecast(data.forecast)))
    if _present(data.by_horizon):
        sections.append(_section("Error by horizon", plot_by_horizon(data.by_horizon)))
    if _present(data.calibration):
        sections.append(_section("Interval calibration", plot_calibration(data.calibration),
                                 data.calibration.to_html(index=False, float_format="%.1f")  # type: ignore[union-attr]
                                 ))
    if _present(data.live):
        sections.append(_section(
            "Live calibration (one-step forecasts, past 2 days)",
            body="<p>Coverage and bias of the stored one-step zone-demand forecasts (after the "
                 "live correction) in the two days up to the last observed hour, and the "
                 "correction now applied (interval scale, bias added).</p>"
                 + table_html(data.live)))  # type: ignore[arg-type]
    if _present(data.anomalies):
        sections.append(_section("Anomaly timeline per meter", plot_anomalies(data.anomalies)))
    if _present(data.clearing):
        sections.append(_section("Clearing prices and volumes", plot_clearing(data.clearing)))
    if any(_present(p) for p in (data.soc, data.grid_import, data.line_loading)):
        sections.append(_section("Dispatch", plot_dispatch(data.soc, data.grid_import,
                                                           data.line_loading)))
    for name, table in data.tables.items():
        sections.append(_section(name, body=table_html(table)))
    if not sections:
        sections.append("<p>No stored results to evaluate yet.</p>")
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(data.title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}img{{max-width:100%}}
table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 8px}}
section{{margin-bottom:2em}}</style></head>
<body><h1>{html.escape(data.title)}</h1><p>Generated {generated}.</p>
{''.join(sections)}</body></html>"""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
