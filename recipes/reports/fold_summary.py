"""Summaries of the fold runs of one experiment (IEMOCAP's leave-one-session-out folds, or the protocol of another
corpus: ``corpora/folds.py``): per-run metrics (folds x seeds), mean, std and 95% confidence interval over runs,
pooled UA / WA, the train/valid UA gap of adapter-only training, and plots.

Reads only what the train scripts write, in the layout of ``recipes/folds/layout.py``
(``<output_folder>/<experiment>/seed<S>/fold<K>/stage<N>/{test_metrics.json, metrics.jsonl}``), and writes
``<output_folder>/<experiment>/summary.{json,md}``, with ``confusion_matrix.png`` and ``training_curves.png``
drawn by ``recipes/reports/fold_plots.py``. Nothing here trains; ``recipes/run_folds.py`` calls it after every run, and
redoes it on demand::

    python recipes/run_folds.py --summarize --experiment table3_concat_scl_cos --output_folder results/folds

Experiments next to the paper: ``recipes/reports/paper_comparison.py``; two experiments against each other:
``recipes/compare.py``.

Aggregation (the paper does not say how it averages folds; ours): the headline is the mean over runs (folds x
seeds) of each run's UA and WA, with the **sample** standard deviation (n - 1 denominator) and the 95% t-interval
of the mean (``recipes/reports/significance.py``). Pooled UA / WA, from the confusion matrix summed over the test
utterances of all folds of a seed (averaged over seeds), are given beside them: UA is a mean of per-class recalls
and is not additive, so the pooled value generally differs from the mean of the runs' UAs.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import json
import os
import statistics

import yaml

from corpora.folds import PROTOCOL_NAMES
from custom_modules.metrics import confusion_summary
from custom_modules.metrics_log import METRICS_LOG, read_metrics_log
from recipes import REPO
from recipes.folds.layout import RECORD_FILE, STAGES, run_folders
from recipes.reports.fold_plots import write_plots
from recipes.reports.significance import PERCENT, mean_and_interval

EXPERIMENTS_FILE = os.path.join(REPO, "recipes", "experiments.yaml")
# Test metrics summarised over folds, where the stage reports them (WER with ASR, gender/style UA with those tasks).
# The paper's setting: its figures are shown beside a summary only for runs of it.
PAPER_SETTING = ("iemocap", "sessions")
METRICS = ("WA", "UA", "WER")
# ... and the UA of each auxiliary label the stage trains (gender_UA, style_UA, or a corpus's own: level_UA).
AUX_UA_SUFFIX = "_UA"
# ... and the CCC of each dimension task (arousal_CCC, ...) and their mean (CCC), which lies in [-1, 1].
CCC_SUFFIX = "CCC"
CCC_RANGE = (-1.0, 1.0)
STD_KIND = "sample standard deviation over runs, folds x seeds (n - 1 denominator); null with a single run"


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
        Stage -> {``FoldRun`` -> {"metrics": test metrics, "record": run_folds record or None, "folder": path}}.
    """
    found = {stage: {} for stage in stages}
    for run, folder in run_folders(experiment_folder).items():
        for stage in stages:
            stage_folder = os.path.join(folder, stage)
            metrics = read_json(os.path.join(stage_folder, "test_metrics.json"))
            if metrics is not None:
                record = read_json(os.path.join(stage_folder, RECORD_FILE))
                found[stage][run] = {"metrics": metrics, "record": record, "folder": stage_folder}
    return found


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


def summarize_stage(run_results):
    """Per-run metrics, mean, std and 95% confidence interval over runs (folds x seeds), and pooled UA / WA of one
    stage.

    Arguments
    ---------
    run_results : dict
        ``FoldRun`` -> {"metrics": test_metrics.json content, "record": run_folds record or None,
        "folder": the stage's run folder (optional: per-epoch records for the overfitting table)}.

    Returns
    -------
    dict
        ``runs`` (one row per run: fold, seed and metrics), ``folds``, ``seeds``, ``mean``, ``std``, ``ci95``
        (metric -> [low, high]), ``pooled`` (UA / WA of the confusion matrix summed over the folds of each seed,
        averaged over seeds; the matrix summed over every run), ``pooled_per_seed``, ``warnings`` (e.g. runs made
        with different settings) and, for adapter-only stages, ``overfitting`` (train and valid UA per epoch).

    Example
    -------
    >>> from recipes.folds.layout import FoldRun
    >>> def run(ua, wa, cm):
    ...     return {"metrics": {"UA": ua, "WA": wa, "confusion_matrix": cm, "labels": ["a", "b"]}, "record": None}
    >>> results = {FoldRun(1, 7): run(75.0, 75.0, [[1, 1], [0, 2]]), FoldRun(2, 7): run(50.0, 50.0, [[1, 0], [1, 0]])}
    >>> block = summarize_stage(results)
    >>> block["mean"]["UA"], round(block["std"]["UA"], 3), block["pooled"]["WA"], block["folds"], block["seeds"]
    (62.5, 17.678, 66.66666666666667, [1, 2], [7])
    """
    runs = sorted(run_results, key=lambda run: (run.seed, run.fold))
    if not runs:
        raise SummaryError("No finished run to summarise.")
    keys = summary_metrics(run_results[run]["metrics"] for run in runs)
    rows = []
    for run in runs:
        metrics = run_results[run]["metrics"]
        row = {"fold": run.fold, "seed": run.seed, **{key: metrics[key] for key in keys if key in metrics}}
        row.update({key: metrics.get(key) for key in ("count", "epoch")})
        row["wall_s"] = (run_results[run].get("record") or {}).get("wall_s")
        rows.append(row)
    mean, std, ci95 = {}, {}, {}
    for key in keys:
        values = [row[key] for row in rows if row.get(key) is not None]
        if len(values) == len(rows):
            # WER can pass 100 (insertions); the other metrics cannot.
            limits = (0.0, None) if key == "WER" else CCC_RANGE if key.endswith(CCC_SUFFIX) else PERCENT
            interval = mean_and_interval(values, limits=limits)
            mean[key], std[key] = interval["mean"], interval["std"]
            ci95[key] = None if interval["low"] is None else [interval["low"], interval["high"]]
    labels = run_results[runs[0]]["metrics"]["labels"]
    for run in runs:
        if run_results[run]["metrics"]["labels"] != labels:
            raise SummaryError(f"{run} has labels {run_results[run]['metrics']['labels']}, {runs[0]} {labels}.")
    seeds = sorted({run.seed for run in runs})
    per_seed = {
        seed: pooled_metrics([run_results[r]["metrics"]["confusion_matrix"] for r in runs if r.seed == seed], labels)
        for seed in seeds
    }
    everything = pooled_metrics([run_results[r]["metrics"]["confusion_matrix"] for r in runs], labels)
    pooled = {
        "UA": statistics.mean(per_seed[seed]["UA"] for seed in seeds),
        "WA": statistics.mean(per_seed[seed]["WA"] for seed in seeds),
        "count": per_seed[seeds[0]]["count"],
        "confusion_matrix": everything["confusion_matrix"],
        "labels": labels,
    }
    block = {
        "runs": rows,
        "folds": sorted({run.fold for run in runs}),
        "seeds": seeds,
        "mean": mean,
        "std": std,
        "ci95": ci95,
        "pooled": pooled,
        "pooled_per_seed": {str(seed): {k: per_seed[seed][k] for k in ("UA", "WA", "count")} for seed in seeds},
        "warnings": _settings_warnings(run_results),
    }
    finetune = {_setting(run_results[run], "finetune") for run in runs}
    if finetune == {"adapters"} and all("folder" in run_results[run] for run in runs):
        block["overfitting"] = overfitting_table([run_results[run]["folder"] for run in runs])
    return block


def summary_metrics(all_metrics):
    """The metrics a summary reports, in its columns' order: WA, UA, WER, then each auxiliary label's UA, then each
    dimension's CCC and their mean.

    Example
    -------
    >>> summary_metrics([{"UA": 1, "WA": 2, "gender_UA": 3, "level_UA": 4, "gender_WA": 5}])
    ['WA', 'UA', 'gender_UA', 'level_UA']
    >>> summary_metrics([{"UA": 1, "WA": 2, "valence_CCC": 0.4, "arousal_CCC": 0.6, "CCC": 0.5}])
    ['WA', 'UA', 'arousal_CCC', 'valence_CCC', 'CCC']
    """
    present = {key for metrics in all_metrics for key in metrics}
    auxiliary = sorted(k for k in present if k.endswith(AUX_UA_SUFFIX) and k != "UA")
    dimensions = sorted(k for k in present if k.endswith(f"_{CCC_SUFFIX}"))
    return [key for key in METRICS if key in present] + auxiliary + dimensions + [CCC_SUFFIX] * (CCC_SUFFIX in present)


def overfitting_table(stage_folders):
    """Train and valid UA per epoch, averaged over runs, and their gap: does adapter-only training overfit?

    Arguments
    ---------
    stage_folders : list of str
        Run folders of one stage (each with its ``metrics.jsonl``).

    Returns
    -------
    list of dict
        Per epoch that every run recorded: ``epoch``, ``train_UA``, ``valid_UA``, ``gap`` (train - valid,
        averaged over runs), ``runs``.
    """
    by_epoch = {}
    for folder in stage_folders:
        for record in read_metrics_log(os.path.join(folder, METRICS_LOG))["epochs"]:
            train, valid = record.get("train", {}).get("UA"), record.get("valid", {}).get("UA")
            if train is not None and valid is not None:
                by_epoch.setdefault(record["epoch"], []).append((train, valid))
    table = []
    for epoch, pairs in sorted(by_epoch.items()):
        if len(pairs) == len(stage_folders):
            train, valid = (statistics.mean(values) for values in zip(*pairs))
            table.append(
                {"epoch": epoch, "train_UA": train, "valid_UA": valid, "gap": train - valid, "runs": len(pairs)}
            )
    return table


def _setting(result, key):
    """A setting of a run, from its test metrics (what the train script recorded)."""
    return (result["metrics"].get("settings") or {}).get(key)


def _settings_warnings(run_results):
    """Settings in which runs differ other than their fold and seed (a mean over them would mix setups)."""
    settings = {}
    for run, result in run_results.items():
        record = result.get("record")
        if record and "settings" in record:
            flat = {k: v for k, v in record["settings"].items() if k not in ("overrides", "stage1_finished")}
            flat.update(record["settings"].get("overrides", {}))
            flat.pop("test_session", None)
            flat.pop("test_fold", None)
            flat.pop("seed", None)
            settings[run] = flat
    keys = sorted({key for flat in settings.values() for key in flat})
    warnings = []
    for key in keys:
        values = {run: flat.get(key, "<unset>") for run, flat in sorted(settings.items())}
        if len({json.dumps(v) for v in values.values()}) > 1:
            warnings.append(
                f"runs were made with different {key}: " + ", ".join(f"{r}: {v}" for r, v in values.items())
            )
    return warnings


def summarize_experiment(experiment_folder, name=None, entry=None):
    """The summary of one experiment over its finished runs (a run counts once its last stage finished).

    Arguments
    ---------
    experiment_folder : str
        ``<output_folder>/<experiment>``.
    name : str
        The experiment's name (default: the folder's name).
    entry : dict
        Its entry in experiments.yaml, if it has one (gives the stages, description and paper numbers).
        Without it, an experiment has two stages if any run has a ``stage2`` folder.

    Returns
    -------
    dict
        ``experiment``, ``description``, ``paper``, ``final_stage``, ``folds`` and ``seeds`` (of finished runs),
        ``runs_started``, ``std``, ``stages`` (stage -> ``summarize_stage`` block), ``final`` (the final stage's
        mean, std, 95% interval, pooled UA / WA).
    """
    name = name or os.path.basename(os.path.normpath(experiment_folder))
    runs = run_folders(experiment_folder)
    if entry is not None:
        stages = experiment_stages(entry)
    else:
        stages = STAGES if any(os.path.isdir(os.path.join(f, "stage2")) for f in runs.values()) else STAGES[:1]
    results = collect_test_metrics(experiment_folder, stages)
    final_stage = stages[-1]
    if not results[final_stage]:
        raise SummaryError(
            f"{experiment_folder} has no finished run yet (no seed*/fold*/{final_stage}/test_metrics.json)."
        )
    # A run counts once its final stage finished; an earlier stage of a run that is still going is left out too.
    finished = set(results[final_stage])
    blocks = {
        stage: summarize_stage({run: result for run, result in results[stage].items() if run in finished})
        for stage in stages
        if any(run in finished for run in results[stage])
    }
    final = blocks[final_stage]
    first = results[final_stage][min(finished, key=lambda run: (run.seed, run.fold))]["metrics"]
    corpus = first.get("corpus") or {}
    setting = (corpus.get("name", "iemocap"), corpus.get("protocol", "sessions"))
    return {
        "experiment": name,
        # What the folds are: a summary compares with published figures only under their protocol.
        "corpus": corpus.get("name", "iemocap"),
        "protocol": corpus.get("protocol", "sessions"),
        "description": (entry or {}).get("description"),
        "table": (entry or {}).get("table"),
        "row": (entry or {}).get("row"),
        # The paper's figures belong beside its own setting only (IEMOCAP, leave-one-session-out).
        "paper": (entry or {}).get("paper") if setting == PAPER_SETTING else None,
        "overrides": {stage: (entry or {}).get(stage) for stage in stages} if entry else None,
        "final_stage": final_stage,
        "folds": final["folds"],
        "seeds": final["seeds"],
        "runs": len(final["runs"]),
        "runs_started": [str(run) for run in runs],
        "std": STD_KIND,
        "final": {key: final[key] for key in ("mean", "std", "ci95")}
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


def format_interval(interval, runs=None, digits=2):
    """``[low, high]`` as text, with the number of runs behind it when given; without an interval (one run, or so
    few that the t-interval leaves the metric's range), why.

    Example
    -------
    >>> format_interval([69.5, 73.25]), format_interval([69.5, 73.25], runs=15), format_interval(None, runs=2)
    ('[69.50, 73.25]', '[69.50, 73.25] (15 runs)', 'no interval: 2 runs are too few')
    """
    if interval is None:
        return "" if runs is None else f"no interval: {runs} run{'s are' if runs > 1 else ' is'} too few"
    text = f"[{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"
    return text if runs is None else f"{text} ({runs} runs)"


def stage_table(block):
    """A Markdown table of one stage: one row per run, then mean ± std, the 95% interval, and pooled.

    Arguments
    ---------
    block : dict
        A ``summarize_stage`` block.

    Returns
    -------
    str
    """
    columns = list(block["mean"])
    lines = [
        "| fold | seed | " + " | ".join(columns) + " | test utterances | epoch | wall time (s) |",
        "|---" * (len(columns) + 5) + "|",
    ]
    for row in block["runs"]:
        wall = "" if row.get("wall_s") is None else f"{row['wall_s']:.0f}"
        lines.append(
            f"| {row['fold']} | {row['seed']} | "
            + " | ".join("" if row.get(key) is None else f"{row[key]:.2f}" for key in columns)
            + f" | {row.get('count')} | {row.get('epoch')} | {wall} |"
        )
    means = [format_mean_std(block["mean"][key], block["std"][key]) for key in columns]
    lines.append("| mean ± std | | " + " | ".join(means) + " | | | |")
    intervals = [format_interval(block["ci95"].get(key), len(block["runs"])) for key in columns]
    lines.append("| 95% CI of the mean | | " + " | ".join(intervals) + " | | | |")
    pooled = block["pooled"]
    pooled_cells = [f"{pooled[k]:.2f}" if k in ("UA", "WA") else "" for k in columns]
    lines.append("| pooled | | " + " | ".join(pooled_cells) + f" | {pooled['count']} | | |")
    if len(block["seeds"]) > 1:
        for seed, values in block["pooled_per_seed"].items():
            cells = [f"{values[k]:.2f}" if k in ("UA", "WA") else "" for k in columns]
            lines.append(f"| pooled, seed {seed} | | " + " | ".join(cells) + f" | {values['count']} | | |")
    return "\n".join(lines)


def overfitting_markdown(table, rows=10):
    """Train and valid UA per epoch and their gap, at most ``rows`` epochs spread over the run (and the last).

    Example
    -------
    >>> table = [{"epoch": e, "train_UA": 50.0 + 4 * e, "valid_UA": 50.0 + e, "gap": 3.0 * e} for e in (1, 2, 3)]
    >>> print(overfitting_markdown(table, rows=2))
    | epoch | train UA | valid UA | gap (train - valid) |
    |---|---|---|---|
    | 1 | 54.00 | 51.00 | 3.00 |
    | 3 | 62.00 | 53.00 | 9.00 |
    """
    step = max(1, -(-len(table) // rows))
    shown = table[::step] + ([table[-1]] if (len(table) - 1) % step else [])
    lines = ["| epoch | train UA | valid UA | gap (train - valid) |", "|---|---|---|---|"]
    for row in shown:
        lines.append(f"| {row['epoch']} | {row['train_UA']:.2f} | {row['valid_UA']:.2f} | {row['gap']:.2f} |")
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
    protocol = PROTOCOL_NAMES[summary.get("protocol", "sessions")]
    lines = [f"# {name}: {protocol} results ({summary.get('corpus', 'iemocap')})", ""]
    if summary.get("description"):
        lines += [summary["description"], ""]
    if summary.get("paper"):
        paper = summary["paper"]
        lines += [
            f"Paper (Table {summary.get('table')}, {summary.get('row')}; 5 folds): "
            f"UA {paper['UA']:.2f}, WA {paper['WA']:.2f}. Whether ours can be compared with it: "
            "`python recipes/run_folds.py --compare`.",
            "",
        ]
    final = summary["final"]
    lines += [
        f"**Ours ({summary['runs']} run(s): folds {', '.join(map(str, summary['folds']))}; seeds "
        f"{', '.join(map(str, summary['seeds']))})**: "
        f"UA {format_mean_std(final['mean']['UA'], final['std']['UA'])} "
        f"{format_interval(final['ci95'].get('UA'), summary['runs'])}, "
        f"WA {format_mean_std(final['mean']['WA'], final['std']['WA'])} "
        f"{format_interval(final['ci95'].get('WA'), summary['runs'])} "
        f"(mean ± std over runs, 95% confidence interval of the mean); "
        f"pooled UA {final['pooled']['UA']:.2f}, WA {final['pooled']['WA']:.2f}.",
        "",
        "Metrics in % (WER: word error rate of the CTC head; CCC: concordance correlation of a dimension, -1 to 1, "
        "and their mean). std: " + summary["std"] + ". 95% CI: t-interval of "
        "the mean over runs (folds x seeds), not given when the runs are too few for one inside the metric's range "
        "(0-100). pooled: from the confusion matrix summed over the test utterances of "
        "all folds of a seed, averaged over seeds. epoch: the checkpoint tested (best validation UA). wall time: of "
        "the stage's training run. Whether two experiments differ: `python recipes/compare.py A B`.",
        "",
    ]
    finished = {f"fold {row['fold']} seed {row['seed']}" for row in summary["stages"][summary["final_stage"]]["runs"]}
    unfinished = [run for run in summary["runs_started"] if run not in finished]
    if unfinished:
        lines += [f"Runs started but not finished (not in the tables): {', '.join(unfinished)}.", ""]
    for stage in reversed(list(summary["stages"])):
        block = summary["stages"][stage]
        title = "final" if stage == summary["final_stage"] else "the model stage 2 starts from"
        lines += [f"## {stage.replace('stage', 'Stage ')} ({title})", "", stage_table(block), ""]
        for warning in block["warnings"]:
            lines += [f"**Warning**: {warning}", ""]
        if block.get("overfitting"):
            lines += [
                "Adapter-only training, train and valid UA per epoch (mean over runs; train UA measured during "
                "the epoch, with dropout):",
                "",
                overfitting_markdown(block["overfitting"]),
                "",
            ]
    lines += [
        "Confusion matrix of the final stage summed over folds and seeds: `confusion_matrix.png`; loss and "
        "validation UA per epoch: `training_curves.png`.",
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
    write_plots(experiment_folder, summary, run_folders(experiment_folder))
    return summary
