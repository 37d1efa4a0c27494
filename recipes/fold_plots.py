"""Pictures of leave-one-session-out runs: the pooled confusion matrix and the training curves of every fold
and stage, read from each stage's ``train_log.txt``.

``recipes/fold_summary.py`` calls ``write_plots`` whenever it writes a summary.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import os


def write_plots(experiment_folder, summary, folds):
    """Writes ``confusion_matrix.png`` (the final stage, summed over folds) and ``training_curves.png``.

    Arguments
    ---------
    experiment_folder : str
        ``<output_folder>/<experiment>``, where the pictures go.
    summary : dict
        From ``recipes.fold_summary.summarize_experiment``.
    folds : dict
        Fold -> its folder (holding ``stage1/train_log.txt``, ...).
    """
    final = summary["stages"][summary["final_stage"]]
    folds_text = ", ".join(map(str, final["folds"]))
    plot_confusion_matrix(
        final["pooled"]["confusion_matrix"],
        final["pooled"]["labels"],
        os.path.join(experiment_folder, "confusion_matrix.png"),
        f"{summary['experiment']} ({summary['final_stage']}), folds {folds_text}\n"
        f"summed over folds: UA {final['pooled']['UA']:.2f}, WA {final['pooled']['WA']:.2f}, "
        f"n = {final['pooled']['count']}",
    )
    curves = {}
    for stage in summary["stages"]:
        curves[stage] = {}
        for fold, folder in folds.items():
            log = os.path.join(folder, stage, "train_log.txt")
            if os.path.isfile(log):
                curves[stage][fold] = parse_train_log(log)
    plot_training_curves(curves, os.path.join(experiment_folder, "training_curves.png"), summary["experiment"])


def parse_train_log(path):
    """The epoch lines of a SpeechBrain ``FileTrainLogger`` file (``train_log.txt``).

    Lines look like ``epoch: 3, lr_encoder: 1.00e-03 - train loss: 1.58, train UA: 40.00 - valid loss: 1.39,
    valid UA: 75.00``; test lines (``epoch loaded: ...``) are left out. An epoch logged twice (a run resumed
    after it was logged but before its checkpoint was saved) keeps its last line.

    Arguments
    ---------
    path : str

    Returns
    -------
    list of dict
        ``{"epoch": int, "meta": {...}, "train": {...}, "valid": {...}}`` sorted by epoch; values are floats
        where they parse as numbers.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "train_log.txt")
    >>> with open(path, "w") as handle:
    ...     _ = handle.write("epoch: 1, lr_heads: 1.00e-03 - train loss: 1.58 - valid loss: 1.39, valid UA: 75.00\\n"
    ...                      "epoch loaded: 1 - test loss: 1.40, test UA: 70.00\\n")
    >>> parse_train_log(path)
    [{'epoch': 1, 'meta': {'lr_heads': 0.001}, 'train': {'loss': 1.58}, 'valid': {'loss': 1.39, 'UA': 75.0}}]
    """
    epochs = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            parts = line.strip().split(" - ")
            meta = _parse_stats(parts[0])
            if "epoch" not in meta:
                continue
            entry = {"epoch": int(meta.pop("epoch")), "meta": meta}
            for part in parts[1:]:
                for key, value in _parse_stats(part).items():
                    dataset, _, stat = key.partition(" ")
                    entry.setdefault(dataset, {})[stat] = value
            epochs[entry["epoch"]] = entry
    return [epochs[epoch] for epoch in sorted(epochs)]


def _parse_stats(text):
    stats = {}
    for item in text.split(", "):
        key, sep, value = item.partition(": ")
        if not sep:
            continue
        try:
            stats[key.strip()] = float(value)
        except ValueError:
            stats[key.strip()] = value.strip()
    return stats


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
    """Saves train / valid loss and valid UA per epoch, one column per stage, one colour per fold.

    Arguments
    ---------
    curves : dict
        Stage -> {fold -> ``parse_train_log`` output}.
    path : str
        PNG to write.
    title : str
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    stages = list(curves)
    figure, axes = plt.subplots(2, len(stages), figsize=(6 * len(stages), 7), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for column, stage in enumerate(stages):
        loss_axes, ua_axes = axes[0][column], axes[1][column]
        for index, (fold, epochs) in enumerate(sorted(curves[stage].items())):
            colour = colours[index % len(colours)]
            x = [e["epoch"] for e in epochs]
            loss_axes.plot(
                x, [e.get("train", {}).get("loss") for e in epochs], "-", color=colour, label=f"fold {fold} train"
            )
            loss_axes.plot(
                x, [e.get("valid", {}).get("loss") for e in epochs], "--", color=colour, label=f"fold {fold} valid"
            )
            ua_axes.plot(
                x,
                [e.get("valid", {}).get("UA") for e in epochs],
                "-o",
                markersize=3,
                color=colour,
                label=f"fold {fold}",
            )
        loss_axes.set_title(f"{stage}: loss (solid: train, dashed: valid)", fontsize=10)
        ua_axes.set_title(f"{stage}: valid UA (%)", fontsize=10)
        for ax in (loss_axes, ua_axes):
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
            if curves[stage]:
                ax.legend(fontsize=7)
        ua_axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        loss_axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: works without a display, on servers and in CI
    import matplotlib.pyplot as plt

    return plt
