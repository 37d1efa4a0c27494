"""Pictures of leave-one-session-out runs: the pooled confusion matrix and the training curves of every run
(fold and seed) and stage, read from each stage's ``metrics.jsonl`` (``custom_modules.train_logging``), with the
epoch selected for the test marked.

``recipes/reports/fold_summary.py`` calls ``write_plots`` whenever it writes a summary.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import os

from custom_modules.metrics_log import METRICS_LOG, TEST_RECORD_KEY, read_metrics_log


def write_plots(experiment_folder, summary, runs):
    """Writes ``confusion_matrix.png`` (the final stage, summed over folds and seeds) and ``training_curves.png``.

    Arguments
    ---------
    experiment_folder : str
        ``<output_folder>/<experiment>``, where the pictures go.
    summary : dict
        From ``recipes.reports.fold_summary.summarize_experiment``.
    runs : dict
        ``recipes.folds.layout.FoldRun`` -> its folder (holding ``stage1/metrics.jsonl``, ...).
    """
    final = summary["stages"][summary["final_stage"]]
    folds_text = ", ".join(map(str, final["folds"]))
    seeds_text = ", ".join(map(str, final["seeds"]))
    plot_confusion_matrix(
        final["pooled"]["confusion_matrix"],
        final["pooled"]["labels"],
        os.path.join(experiment_folder, "confusion_matrix.png"),
        f"{summary['experiment']} ({summary['final_stage']}), folds {folds_text}, seeds {seeds_text}\n"
        f"pooled: UA {final['pooled']['UA']:.2f}, WA {final['pooled']['WA']:.2f}; counts summed over folds and seeds",
    )
    curves = {}
    for stage in summary["stages"]:
        curves[stage] = {}
        for run, folder in runs.items():
            records = read_metrics_log(os.path.join(folder, stage, METRICS_LOG))
            if records["epochs"]:
                curves[stage][run] = records
    plot_training_curves(curves, os.path.join(experiment_folder, "training_curves.png"), summary["experiment"])


def plot_confusion_matrix(matrix, labels, path, title):
    """Saves a row-normalised confusion matrix with the counts in each cell.

    Arguments
    ---------
    matrix : list of list of int
        Rows: true class, columns: predicted class.
    labels : list of str
    path : str
        PNG to write.
    title : str
    """
    plt = _pyplot()
    counts = [[int(c) for c in row] for row in matrix]
    shares = [[c / max(sum(row), 1) for c in row] for row in counts]
    figure, axes = plt.subplots(figsize=(1.3 * len(labels) + 2, 1.2 * len(labels) + 1.5))
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    for i, row in enumerate(counts):
        for j, count in enumerate(row):
            colour = "white" if shares[i][j] > 0.5 else "black"
            axes.text(j, i, f"{100 * shares[i][j]:.1f}%\n({count})", ha="center", va="center", color=colour, fontsize=9)
    axes.set_xticks(range(len(labels)), labels)
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true (row-normalised, counts in brackets)")
    axes.set_title(title, fontsize=10)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def plot_training_curves(curves, path, title):
    """Saves ``training_curves_figure`` as a PNG.

    Arguments
    ---------
    curves : dict
        See ``training_curves_figure``.
    path : str
        PNG to write.
    title : str
    """
    figure = training_curves_figure(curves, title)
    figure.savefig(path, dpi=100)
    _pyplot().close(figure)


def training_curves_figure(curves, title):
    """Train / valid loss and valid UA per epoch, one column per stage, one colour per run (fold and seed); a star
    marks the epoch whose checkpoint was tested (best valid UA).

    Arguments
    ---------
    curves : dict
        Stage -> {run -> ``custom_modules.metrics_log.read_metrics_log`` output}.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    stages = list(curves)
    figure, axes = plt.subplots(2, len(stages), figsize=(6 * len(stages), 7), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for column, stage in enumerate(stages):
        loss_axes, ua_axes = axes[0][column], axes[1][column]
        for index, (run, records) in enumerate(sorted(curves[stage].items())):
            colour = colours[index % len(colours)]
            epochs = records["epochs"]
            x = [e["epoch"] for e in epochs]
            valid_ua = {e["epoch"]: e.get("valid", {}).get("UA") for e in epochs}
            loss_axes.plot(x, [e.get("train", {}).get("loss") for e in epochs], "-", color=colour, label=f"{run} train")
            loss_axes.plot(
                x, [e.get("valid", {}).get("loss") for e in epochs], "--", color=colour, label=f"{run} valid"
            )
            ua_axes.plot(x, list(valid_ua.values()), "-o", markersize=3, color=colour, label=str(run))
            selected = (records["test"] or {}).get(TEST_RECORD_KEY)
            if valid_ua.get(selected) is not None:
                ua_axes.plot(
                    [selected],
                    [valid_ua[selected]],
                    "*",
                    markersize=14,
                    color=colour,
                    markeredgecolor="black",
                    label=f"{run}: tested epoch {selected}",
                )
        loss_axes.set_title(f"{stage}: loss (solid: train, dashed: valid)", fontsize=10)
        ua_axes.set_title(f"{stage}: valid UA (%); star: the epoch tested", fontsize=10)
        for ax in (loss_axes, ua_axes):
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
            if curves[stage]:
                ax.legend(fontsize=7)
        ua_axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        loss_axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: works without a display, on servers and in CI
    import matplotlib.pyplot as plt

    return plt
