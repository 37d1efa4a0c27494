"""Summaries of leave-one-session-out runs: per-fold metrics, mean and std over folds, pooled UA / WA, plots,
and a side-by-side comparison of experiments with the paper's numbers.

Reads only what the train scripts write, in the layout of ``recipes/run_folds.py``::

    <output_folder>/<experiment>/fold<K>/stage1/{test_metrics.json, metrics.jsonl}
    <output_folder>/<experiment>/fold<K>/stage2/{test_metrics.json, metrics.jsonl}   (two-stage experiments)

and writes ``<output_folder>/<experiment>/summary.{json,md}``, with ``confusion_matrix.png`` and
``training_curves.png`` drawn by ``recipes/fold_plots.py``; ``write_comparison`` writes
``<output_folder>/comparison.{json,md}``. Nothing here trains; ``recipes/run_folds.py`` calls it after every
run, and redoes it on demand::

    python recipes/run_folds.py --summarize --experiment table3_concat_scl_cos --output_folder results/folds
    python recipes/run_folds.py --compare --output_folder results/folds

Aggregation (the paper does not say how it averages folds; ours): the headline is the mean over folds of each
fold's UA and WA, with the **sample** standard deviation (n - 1 denominator) over folds. Pooled UA / WA, from
the confusion matrix summed over the test utterances of all folds, are given beside them: UA is a mean of
per-class recalls and is not additive, so the pooled value generally differs from the mean of the folds' UAs.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import json
import os
import re
import statistics

import yaml

from custom_modules.metrics import confusion_summary
from recipes.fold_plots import write_plots

RECIPES = os.path.dirname(os.path.abspath(__file__))
EXPERIMENTS_FILE = os.path.join(RECIPES, "experiments.yaml")
STAGES = ("stage1", "stage2")
# Test metrics summarised over folds, where the stage reports them (WER with ASR, gender/style UA with those tasks).
METRICS = ("WA", "UA", "WER", "gender_UA", "style_UA")
STD_KIND = "sample standard deviation over folds (n - 1 denominator); null with a single fold"
# What run_folds.py writes beside a finished stage's test_metrics.json (its settings and wall time).
RECORD_FILE = "run_folds.json"
FOLD_FOLDER = re.compile(r"^fold(\d+)$")


class SummaryError(ValueError):
    """The runs cannot be summarised as they are; the message says which file and why."""


def load_experiments(path=EXPERIMENTS_FILE):
    """Reads and checks the experiments file (plain YAML: name -> description, paper, stage1, stage2).

    Arguments
    ---------
    path : str
        The file, ``recipes/experiments.yaml`` by default.

    Returns
    -------
    dict
        Experiment name -> entry, in file order.

    Example
    -------
    >>> experiments = load_experiments()
    >>> experiments["table3_concat_scl_cos"]["paper"]
    {'UA': 78.49, 'WA': 77.85}
    >>> experiments["table1_full_ser"]["stage2"] is None
    True
    """
    with open(path, encoding="utf-8") as handle:
        experiments = yaml.safe_load(handle)
    if not isinstance(experiments, dict) or not experiments:
        raise SummaryError(f"{path} must map experiment names to entries.")
    for name, entry in experiments.items():
        missing = {"description", "paper", "stage1", "stage2"} - set(entry or {})
        if missing:
            raise SummaryError(f"{path}: experiment {name} lacks {sorted(missing)}.")
        for stage in STAGES:
            if entry[stage] is not None and not isinstance(entry[stage], dict):
                raise SummaryError(f"{path}: {name}.{stage} must be a mapping of yaml keys to values, or null.")
        if entry["stage1"] is None:
            raise SummaryError(f"{path}: {name}.stage1 cannot be null (every experiment trains stage 1).")
    return experiments


def experiment_stages(entry):
    """The stages an experiment runs, in order.

    Arguments
    ---------
    entry : dict
        An entry of the experiments file.

    Returns
    -------
    tuple of str

    Example
    -------
    >>> experiment_stages({"stage1": {}, "stage2": None})
    ('stage1',)
    >>> experiment_stages({"stage1": {}, "stage2": {"scl": "cos"}})
    ('stage1', 'stage2')
    """
    return STAGES if entry.get("stage2") is not None else STAGES[:1]


def fold_folders(experiment_folder):
    """The ``fold<K>`` folders of an experiment.

    Arguments
    ---------
    experiment_folder : str
        ``<output_folder>/<experiment>``.

    Returns
    -------
    dict
        Fold number -> folder, sorted by fold.
    """
    if not os.path.isdir(experiment_folder):
        return {}
    folds = {}
    for name in os.listdir(experiment_folder):
        match = FOLD_FOLDER.match(name)
        if match and os.path.isdir(os.path.join(experiment_folder, name)):
            folds[int(match.group(1))] = os.path.join(experiment_folder, name)
    return dict(sorted(folds.items()))


def read_json(path):
    """The content of a JSON file, or None if there is no such file."""
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as error:
            raise SummaryError(f"{path} is not valid JSON ({error}); delete it and run that stage again.") from error


def collect_test_metrics(experiment_folder, stages):
    """Every finished stage's ``test_metrics.json`` (and its run_folds record) under an experiment folder.

    Arguments
    ---------
    experiment_folder : str
    stages : sequence of str

    Returns
    -------
    dict
        Stage -> {fold -> {"metrics": test metrics, "record": run_folds record or None, "folder": path}}.
    """
    found = {stage: {} for stage in stages}
    for fold, folder in fold_folders(experiment_folder).items():
        for stage in stages:
            stage_folder = os.path.join(folder, stage)
            metrics = read_json(os.path.join(stage_folder, "test_metrics.json"))
            if metrics is not None:
                record = read_json(os.path.join(stage_folder, RECORD_FILE))
                found[stage][fold] = {"metrics": metrics, "record": record, "folder": stage_folder}
    return found


def mean_and_std(values):
    """Mean and sample standard deviation (n - 1) of a list of numbers; the std is None for one value.

    Arguments
    ---------
    values : list of float

    Returns
    -------
    tuple
        ``(mean, std)``.

    Example
    -------
    >>> mean_and_std([70.0, 74.0])
    (72.0, 2.8284271247461903)
    >>> mean_and_std([70.0])
    (70.0, None)
    """
    if not values:
        raise SummaryError("No values to average.")
    values = [float(v) for v in values]
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else None)


def pooled_metrics(confusion_matrices, labels):
    """UA, WA, per-class recall of the sum of several confusion matrices (rows: truth, columns: prediction).

    Computed by ``custom_modules.metrics.confusion_summary``, as each run's test metrics are.

    Arguments
    ---------
    confusion_matrices : list of list of list of int
    labels : list of str

    Returns
    -------
    dict
        ``UA``, ``WA`` (%), ``per_class_recall``, ``confusion_matrix`` (the sum), ``labels``, ``count``.

    Example
    -------
    >>> pooled = pooled_metrics([[[1, 1], [0, 2]], [[3, 0], [0, 0]]], ["neu", "sad"])
    >>> pooled["confusion_matrix"], pooled["WA"], round(pooled["UA"], 2)
    ([[4, 1], [0, 2]], 85.71428571428571, 90.0)
    """
    n = len(labels)
    total = [[0] * n for _ in range(n)]
    for matrix in confusion_matrices:
        if len(matrix) != n or any(len(row) != n for row in matrix):
            raise SummaryError(
                f"A confusion matrix is not {n} x {n} (labels {labels}); were the folds run with other labels?"
            )
        for i in range(n):
            for j in range(n):
                total[i][j] += int(matrix[i][j])
    return confusion_summary(total, labels)


def summarize_stage(fold_results):
    """Per-fold metrics, mean ± sample std over folds and pooled UA / WA of one stage.

    Arguments
    ---------
    fold_results : dict
        Fold -> {"metrics": test_metrics.json content, "record": run_folds record or None}.

    Returns
    -------
    dict
        ``folds`` (sorted list), ``per_fold`` (fold as str -> metrics), ``mean``, ``std``, ``pooled``,
        ``warnings`` (e.g. folds run with different settings).

    Example
    -------
    >>> def fold(ua, wa, cm):
    ...     return {"metrics": {"UA": ua, "WA": wa, "confusion_matrix": cm, "labels": ["a", "b"]}, "record": None}
    >>> block = summarize_stage({1: fold(75.0, 75.0, [[1, 1], [0, 2]]), 2: fold(50.0, 50.0, [[1, 0], [1, 0]])})
    >>> block["mean"]["UA"], round(block["std"]["UA"], 3), block["pooled"]["WA"]
    (62.5, 17.678, 66.66666666666667)
    """
    folds = sorted(fold_results)
    if not folds:
        raise SummaryError("No finished fold to summarise.")
    per_fold = {}
    for fold in folds:
        metrics = fold_results[fold]["metrics"]
        row = {key: metrics[key] for key in METRICS if key in metrics}
        row.update({key: metrics.get(key) for key in ("count", "epoch")})
        record = fold_results[fold].get("record") or {}
        row["wall_s"] = record.get("wall_s")
        per_fold[str(fold)] = row
    mean, std = {}, {}
    for key in METRICS:
        values = [per_fold[str(f)][key] for f in folds if key in per_fold[str(f)]]
        if len(values) == len(folds):
            mean[key], std[key] = mean_and_std(values)
    labels = fold_results[folds[0]]["metrics"]["labels"]
    for fold in folds:
        if fold_results[fold]["metrics"]["labels"] != labels:
            raise SummaryError(
                f"Fold {fold} has labels {fold_results[fold]['metrics']['labels']}, fold {folds[0]} {labels}."
            )
    pooled = pooled_metrics([fold_results[f]["metrics"]["confusion_matrix"] for f in folds], labels)
    return {
        "folds": folds,
        "per_fold": per_fold,
        "mean": mean,
        "std": std,
        "pooled": pooled,
        "warnings": _settings_warnings(fold_results),
    }


def _settings_warnings(fold_results):
    """Settings in which folds differ other than their test session (a mean over them would mix setups)."""
    settings = {}
    for fold, result in fold_results.items():
        record = result.get("record")
        if record and "settings" in record:
            flat = {k: v for k, v in record["settings"].items() if k not in ("overrides", "stage1_finished")}
            flat.update(record["settings"].get("overrides", {}))
            flat.pop("test_session", None)
            settings[fold] = flat
    keys = sorted({key for flat in settings.values() for key in flat})
    warnings = []
    for key in keys:
        values = {fold: flat.get(key, "<unset>") for fold, flat in sorted(settings.items())}
        if len({json.dumps(v) for v in values.values()}) > 1:
            warnings.append(
                f"folds were run with different {key}: " + ", ".join(f"fold {f}: {v}" for f, v in values.items())
            )
    return warnings


def summarize_experiment(experiment_folder, name=None, entry=None):
    """The summary of one experiment over its finished folds (a fold counts once its last stage finished).

    Arguments
    ---------
    experiment_folder : str
        ``<output_folder>/<experiment>``.
    name : str
        The experiment's name (default: the folder's name).
    entry : dict
        Its entry in experiments.yaml, if it has one (gives the stages, description and paper numbers).
        Without it, an experiment has two stages if any fold has a ``stage2`` folder.

    Returns
    -------
    dict
        ``experiment``, ``description``, ``paper``, ``final_stage``, ``folds`` (finished), ``folds_started``,
        ``std``, ``stages`` (stage -> ``summarize_stage`` block), ``final`` (the final stage's mean, std,
        pooled UA / WA).
    """
    name = name or os.path.basename(os.path.normpath(experiment_folder))
    folds = fold_folders(experiment_folder)
    if entry is not None:
        stages = experiment_stages(entry)
    else:
        stages = STAGES if any(os.path.isdir(os.path.join(f, "stage2")) for f in folds.values()) else STAGES[:1]
    results = collect_test_metrics(experiment_folder, stages)
    final_stage = stages[-1]
    if not results[final_stage]:
        raise SummaryError(f"{experiment_folder} has no finished fold yet (no fold*/{final_stage}/test_metrics.json).")
    blocks = {stage: summarize_stage(results[stage]) for stage in stages if results[stage]}
    final = blocks[final_stage]
    return {
        "experiment": name,
        "description": (entry or {}).get("description"),
        "table": (entry or {}).get("table"),
        "row": (entry or {}).get("row"),
        "paper": (entry or {}).get("paper"),
        "overrides": {stage: (entry or {}).get(stage) for stage in stages} if entry else None,
        "final_stage": final_stage,
        "folds": final["folds"],
        "folds_started": sorted(folds),
        "std": STD_KIND,
        "final": {key: final[key] for key in ("mean", "std")}
        | {"pooled": {k: final["pooled"][k] for k in ("UA", "WA", "count")}},
        "stages": blocks,
    }


def format_mean_std(mean, std, digits=2):
    """``mean ± std`` as text (``mean`` alone when there is no std).

    Example
    -------
    >>> format_mean_std(71.234, 1.5), format_mean_std(70.0, None)
    ('71.23 ± 1.50', '70.00')
    """
    if mean is None:
        return ""
    return f"{mean:.{digits}f}" if std is None else f"{mean:.{digits}f} ± {std:.{digits}f}"


def stage_table(block):
    """A Markdown table of one stage: one row per fold, then mean ± std and pooled.

    Arguments
    ---------
    block : dict
        A ``summarize_stage`` block.

    Returns
    -------
    str
    """
    columns = [key for key in METRICS if key in block["mean"]]
    lines = [
        "| fold | " + " | ".join(columns) + " | test utterances | epoch | wall time (s) |",
        "|---" * (len(columns) + 4) + "|",
    ]
    for fold in block["folds"]:
        row = block["per_fold"][str(fold)]
        wall = "" if row.get("wall_s") is None else f"{row['wall_s']:.0f}"
        lines.append(
            f"| {fold} | "
            + " | ".join(f"{row[key]:.2f}" for key in columns)
            + f" | {row.get('count')} | {row.get('epoch')} | {wall} |"
        )
    means = [format_mean_std(block["mean"][key], block["std"][key]) for key in columns]
    lines.append("| mean ± std | " + " | ".join(means) + " | | | |")
    pooled = block["pooled"]
    pooled_cells = [f"{pooled[k]:.2f}" if k in ("UA", "WA") else "" for k in columns]
    lines.append("| pooled | " + " | ".join(pooled_cells) + f" | {pooled['count']} | | |")
    return "\n".join(lines)


def summary_markdown(summary):
    """The Markdown text of ``summary.md``.

    Arguments
    ---------
    summary : dict
        From ``summarize_experiment``.

    Returns
    -------
    str
    """
    name = summary["experiment"]
    lines = [f"# {name}: leave-one-session-out results", ""]
    if summary.get("description"):
        lines += [summary["description"], ""]
    if summary.get("paper"):
        paper = summary["paper"]
        lines += [
            f"Paper (Table {summary.get('table')}, {summary.get('row')}; 5 folds): "
            f"UA {paper['UA']:.2f}, WA {paper['WA']:.2f}.",
            "",
        ]
    final = summary["final"]
    lines += [
        f"**Ours ({len(summary['folds'])} fold(s): {', '.join(map(str, summary['folds']))})**: "
        f"UA {format_mean_std(final['mean']['UA'], final['std']['UA'])}, "
        f"WA {format_mean_std(final['mean']['WA'], final['std']['WA'])} (mean ± std over folds); "
        f"pooled UA {final['pooled']['UA']:.2f}, WA {final['pooled']['WA']:.2f}.",
        "",
        "Metrics in % (WER: word error rate of the CTC head). std: " + summary["std"] + ". pooled: from the "
        "confusion matrix summed over the test utterances of all folds. epoch: the checkpoint tested (best "
        "validation UA). wall time: of the stage's training run.",
        "",
    ]
    unfinished = sorted(set(summary["folds_started"]) - set(summary["folds"]))
    if unfinished:
        lines += [f"Folds started but not finished (not in the tables): {', '.join(map(str, unfinished))}.", ""]
    for stage in reversed(list(summary["stages"])):
        block = summary["stages"][stage]
        title = "final" if stage == summary["final_stage"] else "the model stage 2 starts from"
        lines += [f"## {stage.replace('stage', 'Stage ')} ({title})", "", stage_table(block), ""]
        for warning in block["warnings"]:
            lines += [f"**Warning**: {warning}", ""]
    lines += [
        "Confusion matrix of the final stage summed over folds: `confusion_matrix.png`; loss and validation UA "
        "per epoch: `training_curves.png`.",
        "",
    ]
    return "\n".join(lines)


def write_summary(experiment_folder, name=None, entry=None):
    """Writes ``summary.json``, ``summary.md``, ``confusion_matrix.png`` and ``training_curves.png``.

    Arguments
    ---------
    experiment_folder : str
    name : str
    entry : dict
        See ``summarize_experiment``.

    Returns
    -------
    dict
        The summary (as written to ``summary.json``).
    """
    summary = summarize_experiment(experiment_folder, name, entry)
    with open(os.path.join(experiment_folder, "summary.json"), "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2)
    with open(os.path.join(experiment_folder, "summary.md"), "w", encoding="utf-8") as handle:
        handle.write(summary_markdown(summary))
    write_plots(experiment_folder, summary, fold_folders(experiment_folder))
    return summary


def compare_experiments(output_folder, experiments=None):
    """One row per experiment found under ``output_folder``: paper UA / WA next to ours.

    Arguments
    ---------
    output_folder : str
        The ``--output_folder`` of run_folds.py runs (holds ``<experiment>/fold<K>/...``).
    experiments : dict
        experiments.yaml's entries (paper numbers); experiments not in it are listed without them.

    Returns
    -------
    list of dict
        In experiments.yaml order, then the others by name.
    """
    experiments = experiments if experiments is not None else load_experiments()
    found = [
        name
        for name in sorted(os.listdir(output_folder))
        if os.path.isdir(os.path.join(output_folder, name)) and fold_folders(os.path.join(output_folder, name))
    ]
    order = [n for n in experiments if n in found] + [n for n in found if n not in experiments]
    rows = []
    for name in order:
        entry = experiments.get(name)
        try:
            summary = summarize_experiment(os.path.join(output_folder, name), name, entry)
        except SummaryError as error:
            rows.append({"experiment": name, "paper": (entry or {}).get("paper"), "folds": [], "note": str(error)})
            continue
        final = summary["final"]
        rows.append(
            {
                "experiment": name,
                "table": summary["table"],
                "row": summary["row"],
                "paper": summary["paper"],
                "folds": summary["folds"],
                "UA": {"mean": final["mean"]["UA"], "std": final["std"]["UA"]},
                "WA": {"mean": final["mean"]["WA"], "std": final["std"]["WA"]},
                "pooled": {"UA": final["pooled"]["UA"], "WA": final["pooled"]["WA"]},
            }
        )
    return rows


def comparison_markdown(rows):
    """The Markdown table of ``comparison.md``.

    Arguments
    ---------
    rows : list of dict
        From ``compare_experiments``.

    Returns
    -------
    str
    """
    lines = [
        "# Experiments next to the paper",
        "",
        "UA / WA in %. Paper: Gao et al., ICASSP 2024, 5-fold leave-one-session-out means. Ours: mean ± sample "
        "standard deviation (n - 1 denominator; none with one fold) over the folds done; pooled: from the "
        "confusion matrix summed over those folds.",
        "",
        "| experiment | paper table / row | paper UA | paper WA | ours UA | ours WA | ours UA - paper "
        "| pooled UA | pooled WA | folds done |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        paper = row.get("paper") or {}
        where = f"{row['table']}: {row['row']}" if row.get("table") else ""
        paper_ua = f"{paper['UA']:.2f}" if paper else ""
        paper_wa = f"{paper['WA']:.2f}" if paper else ""
        if not row["folds"]:
            lines.append(f"| {row['experiment']} | {where} | {paper_ua} | {paper_wa} | | | | | | none |")
            continue
        ua, wa, pooled = row["UA"], row["WA"], row["pooled"]
        delta = f"{ua['mean'] - paper['UA']:+.2f}" if paper else ""
        lines.append(
            f"| {row['experiment']} | {where} | {paper_ua} | {paper_wa} | {format_mean_std(ua['mean'], ua['std'])} | "
            f"{format_mean_std(wa['mean'], wa['std'])} | {delta} | {pooled['UA']:.2f} | {pooled['WA']:.2f} | "
            f"{len(row['folds'])} ({', '.join(map(str, row['folds']))}) |"
        )
    return "\n".join(lines) + "\n"


def write_comparison(output_folder, experiments=None):
    """Writes ``comparison.json`` and ``comparison.md`` into ``output_folder``.

    Arguments
    ---------
    output_folder : str
    experiments : dict
        experiments.yaml's entries.

    Returns
    -------
    list of dict
        The rows (see ``compare_experiments``).
    """
    if not os.path.isdir(output_folder):
        raise SummaryError(f"--output_folder {output_folder} does not exist.")
    rows = compare_experiments(output_folder, experiments)
    if not rows:
        raise SummaryError(f"{output_folder} holds no experiment (no <experiment>/fold<K> folder).")
    with open(os.path.join(output_folder, "comparison.json"), "w", encoding="utf-8") as handle:
        json.dump(rows, handle, indent=2)
    with open(os.path.join(output_folder, "comparison.md"), "w", encoding="utf-8") as handle:
        handle.write(comparison_markdown(rows))
    return rows
