"""Detection metrics: precision, recall, F1, ROC-AUC and PR-AUC, overall and per type.

Scoring is point-level by default: each reading ``(meter_id, ts)`` is one unit, labelled with
a class ("" = normal). For class ``k``: TP = true ``k`` and predicted ``k``; FP = predicted
``k`` but truly something else (normal or another class); FN = true ``k`` not predicted ``k``.
ROC-AUC and PR-AUC for ``k`` rank all points by ``score`` with positives = true ``k`` and
negatives = normal points (other classes are left out). ``overall`` is binary: anomalous vs
normal, whatever the type. Event-level recall (:func:`event_recall`) counts an event found when
at least one of its points is flagged; it is reported next to, never instead of, point scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from models.errors import InvalidInput

KEY = ["meter_id", "ts"]


def align(points: pd.DataFrame, labels: pd.DataFrame, predictions: pd.DataFrame, *,
          label: str = "type", predicted: str = "type", score: str = "score") -> pd.DataFrame:
    """One row per ``(meter_id, ts)`` of ``points``: ``truth``, ``pred`` ("" = normal), ``score``.

    A point missing from ``predictions`` is predicted normal with score 0.
    """
    for name, frame, cols in (("points", points, KEY), ("labels", labels, [*KEY, label]),
                              ("predictions", predictions, [*KEY, predicted])):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise InvalidInput(f"{name}: missing column(s) {', '.join(missing)}",
                               field=missing[0], value=None)
    base = points[KEY].drop_duplicates().reset_index(drop=True)
    lab = labels.drop_duplicates(KEY)[[*KEY, label]].rename(columns={label: "truth"})
    pred = predictions.drop_duplicates(KEY, keep="last")
    pred = pred[[*KEY, predicted, *([score] if score in pred else [])]].rename(
        columns={predicted: "pred", score: "score"})
    out = base.merge(lab, on=KEY, how="left").merge(pred, on=KEY, how="left")
    out["truth"] = out["truth"].fillna("").astype(str)
    out["pred"] = out["pred"].fillna("").astype(str)
    out["score"] = out["score"].astype(float).fillna(0.0) if "score" in out else 0.0
    return out


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _aucs(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    if y.all() or not y.any():
        return float("nan"), float("nan")
    return float(roc_auc_score(y, s)), float(average_precision_score(y, s))


def binary_scores(truth: np.ndarray, pred: np.ndarray,
                  score: np.ndarray | None = None) -> dict[str, float]:
    """Precision, recall, F1 (and ROC-AUC, PR-AUC when scores are given) of boolean arrays."""
    t, p = np.asarray(truth, dtype=bool), np.asarray(pred, dtype=bool)
    tp, fp, fn = int((t & p).sum()), int((~t & p).sum()), int((t & ~p).sum())
    prec, rec, f1 = _prf(tp, fp, fn)
    roc, pr = _aucs(t, np.asarray(score, dtype=float)) if score is not None else (np.nan, np.nan)
    return {"precision": prec, "recall": rec, "f1": f1, "roc_auc": roc, "pr_auc": pr,
            "support": int(t.sum()), "tp": tp, "fp": fp, "fn": fn}


def detection_report(aligned: pd.DataFrame, classes: list[str] | None = None) -> pd.DataFrame:
    """Per-class rows (point-level, typed) plus ``overall`` (binary) and ``macro`` (mean F1)."""
    truth, pred = aligned["truth"].to_numpy(), aligned["pred"].to_numpy()
    score = aligned["score"].to_numpy(dtype=float)
    names = classes or sorted(set(truth[truth != ""]))
    rows = {}
    for k in names:
        row = binary_scores(truth == k, pred == k)
        keep = (truth == k) | (truth == "")
        row["roc_auc"], row["pr_auc"] = _aucs(truth[keep] == k, score[keep])
        rows[k] = row
    rows["overall"] = binary_scores(truth != "", pred != "", score)
    report = pd.DataFrame.from_dict(rows, orient="index")
    report.loc["macro", ["precision", "recall", "f1"]] = report.loc[names, [
        "precision", "recall", "f1"]].mean().to_numpy() if names else np.nan
    return report


def event_recall(labels: pd.DataFrame, flagged: pd.DataFrame, *, event: str = "event",
                 by: str = "kind") -> pd.Series:
    """Share of events (rows of ``labels`` sharing ``event``) with at least one flagged point."""
    hit = labels.merge(flagged[KEY].drop_duplicates().assign(_hit=True), on=KEY, how="left")
    per_event = hit.groupby(event).agg(kind=(by, "first"), found=("_hit", "any"))
    return per_event.groupby("kind")["found"].mean()
