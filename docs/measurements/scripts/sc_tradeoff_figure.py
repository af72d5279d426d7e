"""Where Model v3's sharpness target stands: one figure with two panels (issue Model v3).

    .venv/bin/python docs/measurements/scripts/sc_tradeoff_figure.py OUT.png \
        CAPACITY.json [CAPACITY.json …] -- NAME=LOG.csv [NAME=LOG.csv …]

Left: SC after Griffin-Lim against log-mel MAE on the same held-out clips, for the
linear codes and the blurred originals of ``sc_capacity.py`` and for every model in the
capacity JSON files, with the target region (SC ≤ −12 dB, MAE ≤ v2's + 5 %) shaded.
Right: stage-1 validation MAE by training step for each training log (``log.csv`` of
``musinterp-train train``), and the validation mel SC where the log has it.
"""

import csv
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

SC_TARGET_DB = -12.0
V2_MAE_DB = 3.122  # the shipped model's evaluation (EVALUATION.md)
MAE_GUARD_DB = V2_MAE_DB * 1.05


def read_capacity(paths: list[Path]) -> tuple[dict, dict, dict]:
    """(PCA rows, blur rows, model rows), each {name: {"gl_sc_db", "mae_db", …}}."""
    pca, blur, models = {}, {}, {}
    for path in paths:
        found = json.loads(path.read_text())
        pca.update(found.get("patch PCA", {}))
        blur.update(
            {k: v for k, v in found.get("no model", {}).items() if k.startswith("frequency")}
        )
        models.update(found.get("models", {}))
    return pca, blur, models


def read_log(path: Path) -> dict[str, list[float]]:
    """A training log's columns as float lists (an empty cell as NaN)."""
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    return {
        key: [float(row[key]) if row.get(key) else float("nan") for row in rows] for key in rows[0]
    }


def draw(out: Path, capacity: list[Path], logs: dict[str, Path]) -> None:
    pca, blur, models = read_capacity(capacity)
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    left.fill_between(
        [0, MAE_GUARD_DB],
        -20,
        SC_TARGET_DB,
        color="tab:green",
        alpha=0.12,
        label="target: SC ≤ −12 dB, MAE ≤ v2 + 5 %",
    )
    left.plot(
        [r["mae_db"] for r in pca.values()],
        [r["gl_sc_db"] for r in pca.values()],
        "o--",
        color="tab:gray",
        label="PCA of 4-frame patches (64 … 1024 values)",
    )
    for name, row in pca.items():
        left.annotate(
            name.split()[0],
            (row["mae_db"], row["gl_sc_db"]),
            fontsize=7,
            xytext=(4, 3),
            textcoords="offset points",
        )
    left.plot(
        [r["mae_db"] for r in blur.values()],
        [r["gl_sc_db"] for r in blur.values()],
        "s:",
        color="tab:olive",
        label="original mel blurred in frequency",
    )
    for name, row in models.items():
        label = {"default": "v2 (shipped)"}.get(Path(name).name, Path(name).name)
        left.plot(row["mae_db"], row["gl_sc_db"], "*", markersize=13, label=label)
    left.set(
        xlabel="log-mel MAE (dB)",
        ylabel="SC after 32 Griffin-Lim iterations (dB)",
        xlim=(0, 3.6),
        ylim=(-19, -5),
        title="Held-out clips: sharpness against error",
    )
    left.legend(fontsize=7, loc="lower right")
    sc_axis = right.twinx()
    for name, path in logs.items():
        log = read_log(path)
        (line,) = right.plot(log["step"], log["val_mae_db"], label=f"{name}: MAE")
        if "val_convergence_db" in log:
            sc_axis.plot(
                log["step"],
                log["val_convergence_db"],
                ":",
                color=line.get_color(),
                label=f"{name}: mel SC",
            )
    right.axhline(MAE_GUARD_DB, color="tab:red", linewidth=0.8, label="MAE guard (v2 + 5 %)")
    right.set(
        xlabel="training step",
        ylabel="validation log-mel MAE (dB)",
        ylim=(2.8, 5.5),
        title="Stage 1 on 2 CPU cores: validation by step",
    )
    sc_axis.set_ylabel("validation mel SC (dB, dotted)")
    handles = right.get_legend_handles_labels()
    extra = sc_axis.get_legend_handles_labels()
    right.legend(handles[0] + extra[0], handles[1] + extra[1], fontsize=7, loc="upper right")
    figure.tight_layout()
    figure.savefig(out, dpi=110)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    split = arguments.index("--")
    named = dict(item.split("=", 1) for item in arguments[split + 1 :])
    draw(
        Path(arguments[0]),
        [Path(p) for p in arguments[1:split]],
        {name: Path(path) for name, path in named.items()},
    )
