"""The decision rule (scores -> label sets), per-label thresholds and the multi-label metrics.

Macro-F1 averages over the labels that occur in the gold labels or the predictions of the evaluated rows:
a label absent from both (common when one plan is the test set) has no defined F1, so its per-label
precision/recall/F1 are null and it does not count.
"""

from __future__ import annotations

import numpy as np


def decide(scores: np.ndarray, thresholds: np.ndarray, fallback_index: int) -> np.ndarray:
    """Multi-hot decisions: specific labels whose score reaches their threshold; the fallback when none does."""
    chosen = scores >= thresholds[None, :]
    chosen[:, fallback_index] = False
    chosen[~chosen.any(axis=1), fallback_index] = True
    return chosen


def _f1(tp: float, fp: float, fn: float) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0


def tune_thresholds(scores: np.ndarray, gold: np.ndarray, fallback_index: int, default: float = 0.5) -> np.ndarray:
    """Per specific label, the threshold with the best held-out F1 (the middle of the best plateau, which
    generalises better than its edge on small data). Labels without held-out positives keep `default`."""
    grid = np.round(np.arange(0.05, 0.951, 0.025), 3)
    thresholds = np.full(scores.shape[1], default, dtype=np.float64)
    for j in range(scores.shape[1]):
        if j == fallback_index or gold[:, j].sum() == 0:
            continue
        positive = gold[:, j] > 0
        f1s = []
        for t in grid:
            pred = scores[:, j] >= t
            f1s.append(_f1((pred & positive).sum(), (pred & ~positive).sum(), (~pred & positive).sum()))
        f1s = np.array(f1s)
        best = np.flatnonzero(np.isclose(f1s, f1s.max()))
        # The longest run of best thresholds containing the first one; take its middle.
        run = [best[0]]
        for k in best[1:]:
            if k == run[-1] + 1:
                run.append(k)
            else:
                break
        thresholds[j] = float(grid[run[len(run) // 2]])
    return thresholds


def multilabel_report(gold: np.ndarray, pred: np.ndarray, label_ids: list[str]) -> dict:
    """{macro_f1, micro_f1, per_label: {id: {precision, recall, f1, support}}, n} for multi-hot arrays."""
    gold = gold.astype(bool)
    pred = pred.astype(bool)
    per_label, f1s = {}, []
    tp_all = fp_all = fn_all = 0
    for j, label in enumerate(label_ids):
        tp = int((gold[:, j] & pred[:, j]).sum())
        fp = int((~gold[:, j] & pred[:, j]).sum())
        fn = int((gold[:, j] & ~pred[:, j]).sum())
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        support = tp + fn
        if support == 0 and fp == 0:
            per_label[label] = {"precision": None, "recall": None, "f1": None, "support": 0}
            continue
        f1 = _f1(tp, fp, fn)
        f1s.append(f1)
        per_label[label] = {
            "precision": tp / (tp + fp) if tp + fp else 0.0,
            "recall": tp / support if support else 0.0,
            "f1": f1,
            "support": support,
        }
    return {
        "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
        "micro_f1": _f1(tp_all, fp_all, fn_all),
        "per_label": per_label,
        "n": int(gold.shape[0]),
    }


# A co-label rate above this means the model gives B because A is there, not because of what the clause says.
COLABEL_LIMIT = 0.25


def colabel_report(gold: np.ndarray, pred: np.ndarray, label_ids: list[str], fallback_index: int | None = None,
                   min_support: int = 1) -> dict:
    """For each ordered pair of specific categories A→B: among the clauses with gold A and without gold B, the
    share that were given B. A high rate means B travels with A in the model rather than in the text.

    {"pairs": [{"from", "to", "rate", "given", "of"} … worst first], "max": {…} | None, "limit", "above_limit": n}
    Pairs with fewer than `min_support` such clauses are left out (their rate says nothing).
    """
    gold = gold.astype(bool)
    pred = pred.astype(bool)
    pairs = []
    for a, label_a in enumerate(label_ids):
        for b, label_b in enumerate(label_ids):
            if a == b or fallback_index in (a, b):
                continue
            base = gold[:, a] & ~gold[:, b]
            n = int(base.sum())
            if n < min_support:
                continue
            given = int((base & pred[:, b]).sum())
            pairs.append({"from": label_a, "to": label_b, "rate": given / n, "given": given, "of": n})
    pairs.sort(key=lambda p: (-p["rate"], -p["given"], p["from"], p["to"]))
    return {"pairs": pairs, "max": pairs[0] if pairs else None, "limit": COLABEL_LIMIT,
            "above_limit": sum(p["rate"] > COLABEL_LIMIT for p in pairs)}
