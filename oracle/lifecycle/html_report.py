"""The evaluation report: one self-contained HTML file with PNG plots embedded as base64.

Sections (each drawn only when its data is present): forecast against actual with intervals,
error by horizon, interval calibration, anomaly timeline per meter, clearing prices and volumes,
dispatch (storage state of charge, grid imports, line loading), and the metrics tables.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass
class ReportData:
    """What the report shows; any part may be None or empty."""

    forecast: pd.DataFrame | None = None       # index ts; actual, mean, lo_80, hi_80, lo_95, hi_95
    by_horizon: pd.DataFrame | None = None     # index horizon (steps); one column per error metric
    calibration: pd.DataFrame | None = None    # nominal (%), empirical (%)
    anomalies: pd.DataFrame | None = None      # meter_id, ts, type, severity
    clearing: pd.DataFrame | None = None       # index interval_start; price, volume_kwh
    soc: pd.DataFrame | None = None            # index hour; one column per storage node (kWh)
    grid_import: pd.Series | None = None       # index hour; kW
    line_loading: pd.DataFrame | None = None   # index hour; one column per line (fraction)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    title: str = "SolChain Oracle: model evaluation"


def _figure(width: float = 10, height: float = 3.6) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    ax.grid(alpha=0.3)
    return fig, ax


def _png(fig: Any) -> str:
    from matplotlib import pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def plot_forecast(frame: pd.DataFrame) -> str:
    fig, ax = _figure()
    for level, alpha in ((95, 0.15), (80, 0.3)):
        if {f"lo_{level}", f"hi_{level}"} <= set(frame.columns):
            ax.fill_between(frame.index, frame[f"lo_{level}"], frame[f"hi_{level}"], alpha=alpha,
                            color="tab:blue", label=f"{level}% interval")
    ax.plot(frame.index, frame["mean"], color="tab:blue", label="forecast")
    ax.plot(frame.index, frame["actual"], color="black", lw=1, label="actual")
    ax.set(title="Demand forecast against actual", ylabel="kWh")
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


def plot_by_horizon(frame: pd.DataFrame) -> str:
    fig, ax = _figure()
    for column in frame.columns:
        ax.plot(frame.index, frame[column], marker="o", ms=3, label=column)
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.set(title="Error by horizon", xlabel="steps ahead", ylabel="error")
    ax.legend(fontsize=8)
    return _png(fig)


def plot_calibration(frame: pd.DataFrame) -> str:
    fig, ax = _figure(5, 4)
    ax.plot([0, 100], [0, 100], ls="--", color="grey", label="perfect")
    ax.plot(frame["nominal"], frame["empirical"], marker="o", color="tab:red", label="observed")
    ax.set(title="Interval calibration", xlabel="nominal coverage (%)",
           ylabel="empirical coverage (%)", xlim=(0, 100), ylim=(0, 100))
    ax.legend(fontsize=8)
    return _png(fig)


def plot_anomalies(frame: pd.DataFrame) -> str:
    meters = sorted(frame["meter_id"].astype(str).unique())
    fig, ax = _figure(10, max(2.5, 0.35 * len(meters) + 1.5))
    colours = {"low": "tab:green", "medium": "tab:orange", "high": "tab:red",
               "critical": "darkred"}
    rows = {m: i for i, m in enumerate(meters)}
    for severity, part in frame.groupby("severity"):
        ax.scatter(pd.to_datetime(part["ts"]), part["meter_id"].astype(str).map(rows),
                   label=str(severity), color=colours.get(str(severity), "tab:blue"), s=18)
    ax.set_yticks(range(len(meters)), meters)
    ax.set(title="Anomaly timeline per meter", xlabel="time")
    ax.legend(fontsize=8, title="severity")
    return _png(fig)


def plot_clearing(frame: pd.DataFrame) -> str:
    fig, ax = _figure()
    ax.bar(frame.index, frame["volume_kwh"], width=0.03, color="tab:grey", alpha=0.6,
           label="volume (kWh)")
    ax.set_ylabel("volume (kWh)")
    price = ax.twinx()
    price.plot(frame.index, frame["price"], color="tab:purple", marker=".", label="price")
    price.set_ylabel("price (per kWh)")
    ax.set(title="Clearing prices and volumes")
    return _png(fig)


def plot_dispatch(soc: pd.DataFrame | None, imports: pd.Series | None,
                  loading: pd.DataFrame | None) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    panels = [p for p in (soc, imports, loading) if p is not None and len(p)]
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.6 * len(panels)), dpi=100,
                             sharex=True, squeeze=False)
    slots = iter(axes[:, 0])
    if soc is not None and len(soc):
        ax = next(slots)
        soc.plot(ax=ax, title="Storage state of charge", ylabel="kWh")
    if imports is not None and len(imports):
        ax = next(slots)
        ax.step(range(len(imports)), imports.to_numpy(), where="post", color="tab:brown")
        ax.set(title="Grid imports", ylabel="kW")
    if loading is not None and len(loading):
        ax = next(slots)
        (100 * loading.reset_index(drop=True)).plot(ax=ax, title="Line loading", ylabel="% of capacity")
        ax.axhline(100, color="red", ls="--", lw=1)
    return _png(fig)


def _section(title: str, png: str | None = None, body: str = "") -> str:
    image = (f'<img alt="{html.escape(title)}" src="data:image/png;base64,{png}">'
             if png else "")
    return f"<section><h2>{html.escape(title)}</h2>{image}{body}</section>"


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
    if _present(data.anomalies):
        sections.append(_section("Anomaly timeline per meter", plot_anomalies(data.anomalies)))
    if _present(data.clearing):
        sections.append(_section("Clearing prices and volumes", plot_clearing(data.clearing)))
    if any(_present(p) for p in (data.soc, data.grid_import, data.line_loading)):
        sections.append(_section("Dispatch", plot_dispatch(data.soc, data.grid_import,
                                                           data.line_loading)))
    for name, table in data.tables.items():
        sections.append(_section(name, body=table.to_html(float_format="%.4g", na_rep="")))
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
