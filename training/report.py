"""report.md and report.png of an artifact: per-label P/R/F1 on held-out rows and a label-confusion matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CHART_FILE = "report.png"


def format_metrics_table(report: dict, names: dict[str, str] | None = None) -> str:
    """Markdown table of per-label precision/recall/F1/support (also what `clausemap evaluate` prints)."""

    def cell(value):
        return "–" if value is None else f"{value:.3f}"

    lines = ["| label | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    for label, m in report["per_label"].items():
        shown = f"{label} ({names[label]})" if names and label in names else label
        lines.append(f"| {shown} | {cell(m['precision'])} | {cell(m['recall'])} | {cell(m['f1'])} | {m['support']} |")
    return "\n".join(lines)


def confusion(gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """M[i, j] = rows whose gold labels include i and predicted labels include j (diagonal: hits)."""
    return gold.astype(int).T @ pred.astype(int)


def write_chart(path: Path, report: dict, gold: np.ndarray, pred: np.ndarray, labels: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f1 = [report["per_label"][label]["f1"] or 0.0 for label in labels]
    matrix = confusion(gold, pred)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    left.barh(labels[::-1], f1[::-1], color="#4c72b0")
    left.set_xlim(0, 1)
    left.set_xlabel("F1 (held-out)")
    left.set_title(f"per-label F1, macro {report['macro_f1']:.3f}")
    right.imshow(matrix, cmap="Blues")
    right.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    right.set_yticks(range(len(labels)), labels)
    right.set_xlabel("predicted")
    right.set_ylabel("gold")
    right.set_title("gold × predicted label counts")
    for i in range(len(labels)):
        for j in range(len(labels)):
            if matrix[i, j]:
                right.text(j, i, str(matrix[i, j]), ha="center", va="center",
                           color="white" if matrix[i, j] > matrix.max() / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(out_dir: Path, meta, names: dict[str, str], held: dict | None) -> None:
    """`meta`: the ArtifactMeta; `held`: None, or {"report", "gold", "pred"} for the rows thresholds were tuned on."""
    lines = [
        f"# Model `{meta.model_version}`",
        "",
        f"- kind: {meta.kind} (unit: {meta.unit}), config: `{meta.config_name}`, trained at {meta.trained_at}",
        f"- data: {meta.n_train} training rows ({meta.n_train_written} written for training), {meta.n_heldout} "
        f"held-out rows, data hash `{meta.data_hash}`; thresholds from: {meta.thresholds_from}",
        "",
        "## Held-out metrics" if meta.thresholds_from != "out-of-fold" else "## Out-of-fold metrics",
        "",
    ]
    if held is None:
        lines.append("No rows were held out (training.validation_fraction=0): thresholds are the default.")
    else:
        report = held["report"]
        where = ("real rows, each scored by a model trained without its document (out-of-fold)"
                 if meta.thresholds_from == "out-of-fold" else "rows held out from training")
        lines += [
            f"Macro-F1 **{report['macro_f1']:.3f}**, micro-F1 **{report['micro_f1']:.3f}** on {report['n']} {where}. "
            "The thresholds were tuned on these same scores, so these figures are optimistic; `clausemap cv` "
            "gives the honest leave-one-document-out estimate.",
            "",
            format_metrics_table(report, names),
            "",
            f"![per-label F1 and label confusion]({CHART_FILE})",
        ]
        write_chart(out_dir / CHART_FILE, report, held["gold"], held["pred"], meta.labels)
    lines += ["", "## Thresholds", "", "| label | threshold |", "|---|---:|"]
    lines += [f"| {label} | {t:.3f} |" for label, t in meta.thresholds.items()]
    (out_dir / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def format_colabel_table(colabel: dict, top: int = 12) -> str:
    """The worst co-label pairs A→B (share of clauses with gold A, without gold B, that were given B)."""
    lines = [f"Co-label rates (gold A, not gold B, given B); limit {colabel['limit']:.2f}, "
             f"{colabel['above_limit']} pair(s) above it.", "",
             "| A → B | given B | of | rate |", "|---|---:|---:|---:|"]
    for pair in colabel["pairs"][:top]:
        flag = " **over**" if pair["rate"] > colabel["limit"] else ""
        lines.append(f"| {pair['from']} → {pair['to']} | {pair['given']} | {pair['of']} | {pair['rate']:.2f}{flag} |")
    return "\n".join(lines)


def evaluation_markdown(title: str, report: dict, colabel: dict, intro: list[str] | None = None) -> str:
    """report.md of `clausemap evaluate --report` / `clausemap cv --report`."""
    lines = [f"# {title}", "", *(intro or []),
             f"Macro-F1 **{report['macro_f1']:.3f}**, micro-F1 **{report['micro_f1']:.3f}** on {report['n']} real "
             "clauses (rows written for training are never evaluated).", "",
             format_metrics_table(report), "", "## Co-label report", "", format_colabel_table(colabel), ""]
    return "\n".join(lines)
