"""Every experiment of an output folder next to the paper's numbers, saying honestly what differs.

A difference from the paper means something only for a run made as the paper's: the full IEMOCAP release (5,531
4-class utterances), XLS-R-300m, 200 epochs, batch 16, learning rate 1e-5, all five folds. Each row lists what
its runs did otherwise (read from their ``test_metrics.json``) and, if anything disqualifying differs, is marked
**not comparable** and shows no difference. How many seeds were run is stated; it does not disqualify (the paper
gives one number per row).

    python recipes/run_folds.py --compare --output_folder results/folds

writes ``<output_folder>/comparison.{json,md}``.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import json
import os

from corpora.folds import PROTOCOL_NAMES
from recipes.folds.layout import run_folders
from recipes.reports.fold_summary import (
    PAPER_SETTING,
    SummaryError,
    format_interval,
    format_mean_std,
    load_experiments,
    summarize_experiment,
)

# How the paper ran every row (Gao et al., ICASSP 2024).
PAPER_SETTINGS = {
    "backbone": "facebook/wav2vec2-xls-r-300m",
    "number_of_epochs": 200,
    "batch": 16,
    "lr": 1e-5,
    "folds": [1, 2, 3, 4, 5],
    "utterances": 5531,
}


def differences_from_the_paper(summary):
    """What an experiment's finished runs did otherwise than the paper, from their test metrics.

    Arguments
    ---------
    summary : dict
        From ``recipes.reports.fold_summary.summarize_experiment``.

    Returns
    -------
    disqualifying : list of str
        Differences that make the numbers not comparable.
    notes : list of str
        What the reader should know besides (the seeds).

    Example
    -------
    >>> run = {"fold": 1, "seed": 7, "settings": {"wav2vec2_hub": "demo/tiny", "number_of_epochs": 6,
    ...        "batch_size": 4, "grad_accumulation_factor": 1, "lr": 0.002},
    ...        "corpus": {"utterances": 193, "matches_full_release": False}}
    >>> disqualifying, notes = differences_from_the_paper({"stages": {"stage1": {"run_settings": [run]}},
    ...                                                     "folds": [1], "seeds": [7]})
    >>> disqualifying[:2]
    ['backbone demo/tiny (paper: facebook/wav2vec2-xls-r-300m)', 'stage1: 6 epochs (paper: 200)']
    >>> notes
    ['1 seed (7)']
    """
    disqualifying = []
    corpus, protocol = summary.get("corpus", "iemocap"), summary.get("protocol", "sessions")
    if (corpus, protocol) != PAPER_SETTING:
        # Only like with like: another corpus or protocol (IEMOCAP's ten speakers) is another benchmark.
        disqualifying.append(f"{corpus}, {PROTOCOL_NAMES[protocol]} folds (paper: iemocap, leave-one-session-out)")
    runs = {stage: block["run_settings"] for stage, block in summary["stages"].items()}
    every_run = [run for stage_runs in runs.values() for run in stage_runs]
    backbones = sorted({str(_run_setting(run, "backbone")) for run in every_run})
    if backbones != [PAPER_SETTINGS["backbone"]]:
        disqualifying.append(f"backbone {', '.join(backbones)} (paper: {PAPER_SETTINGS['backbone']})")
    for stage, stage_runs in runs.items():
        for key, label in (("number_of_epochs", "{} epochs"), ("batch", "batch {}"), ("lr", "lr {}")):
            values = sorted({_run_setting(run, key) for run in stage_runs}, key=str)
            if values != [PAPER_SETTINGS[key]]:
                disqualifying.append(
                    f"{stage}: {label.format(', '.join(map(str, values)))} (paper: {PAPER_SETTINGS[key]})"
                )
    for counts in {json.dumps(run.get("corpus"), sort_keys=True) for run in every_run}:
        counts = json.loads(counts) or {}
        if corpus == "iemocap" and not counts.get("matches_full_release"):
            disqualifying.append(
                f"corpus of {counts.get('utterances', '?')} 4-class utterances (full release: "
                f"{PAPER_SETTINGS['utterances']:,})"
            )
    if summary["folds"] != PAPER_SETTINGS["folds"]:
        disqualifying.append(f"folds {', '.join(map(str, summary['folds']))} of 5")
    seeds = summary["seeds"]
    notes = [f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''} ({', '.join(map(str, seeds))})"]
    return disqualifying, notes


def _run_setting(run, key):
    settings = run.get("settings") or {}
    if key == "backbone":
        return settings.get("wav2vec2_hub")
    if key == "batch":
        batch, accumulation = settings.get("batch_size"), settings.get("grad_accumulation_factor")
        return None if batch is None or accumulation is None else batch * accumulation
    return settings.get(key)


def compare_experiments(output_folder, experiments=None):
    """One row per experiment found under ``output_folder``: paper UA / WA next to ours, and what differs.

    Arguments
    ---------
    output_folder : str
        The ``--output_folder`` of run_folds.py runs.
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
        if os.path.isdir(os.path.join(output_folder, name)) and run_folders(os.path.join(output_folder, name))
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
        for stage, block in summary["stages"].items():
            block["run_settings"] = _run_settings(os.path.join(output_folder, name), stage, block)
        disqualifying, notes = differences_from_the_paper(summary)
        final = summary["final"]
        rows.append(
            {
                "experiment": name,
                "table": summary["table"],
                "row": summary["row"],
                "paper": summary["paper"],
                "folds": summary["folds"],
                "seeds": summary["seeds"],
                "UA": {"mean": final["mean"]["UA"], "std": final["std"]["UA"], "ci95": final["ci95"].get("UA")},
                "WA": {"mean": final["mean"]["WA"], "std": final["std"]["WA"], "ci95": final["ci95"].get("WA")},
                "pooled": {"UA": final["pooled"]["UA"], "WA": final["pooled"]["WA"]},
                "comparable": not disqualifying,
                "differences": disqualifying,
                "notes": notes,
            }
        )
    return rows


def _run_settings(experiment_folder, stage, block):
    """The settings and corpus counts each finished run of a stage recorded in its test metrics."""
    settings = []
    for row in block["runs"]:
        path = os.path.join(experiment_folder, f"seed{row['seed']}", f"fold{row['fold']}", stage, "test_metrics.json")
        with open(path, encoding="utf-8") as handle:
            metrics = json.load(handle)
        settings.append(
            {"fold": row["fold"], "seed": row["seed"], **{k: metrics.get(k) for k in ("settings", "corpus")}}
        )
    return settings


def comparison_markdown(rows):
    """The Markdown of ``comparison.md``.

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
        "UA / WA in %. Paper: Gao et al., ICASSP 2024, 5-fold leave-one-session-out results of XLS-R-300m trained "
        "200 epochs (batch 16, lr 1e-5) on the full IEMOCAP release. Ours: mean ± sample standard deviation over "
        "runs (folds x seeds) and the 95% confidence interval of the mean; pooled: from the confusion matrix summed "
        "over the folds of a seed, averaged over seeds. A row run otherwise than the paper is **not comparable**: "
        "its difference is not shown, and the last column says why.",
        "",
        "| experiment | paper table / row | paper UA | paper WA | ours UA | 95% CI | ours WA | ours UA - paper "
        "| pooled UA | pooled WA | folds, seeds | what differs from the paper |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        paper = row.get("paper") or {}
        where = f"{row['table']}: {row['row']}" if row.get("table") else ""
        paper_ua = f"{paper['UA']:.2f}" if paper else ""
        paper_wa = f"{paper['WA']:.2f}" if paper else ""
        if not row["folds"]:
            lines.append(f"| {row['experiment']} | {where} | {paper_ua} | {paper_wa} | | | | | | | none | |")
            continue
        ua, wa, pooled = row["UA"], row["WA"], row["pooled"]
        if not paper:
            delta = ""
        elif row["comparable"]:
            delta = f"{ua['mean'] - paper['UA']:+.2f}"
        else:
            delta = "not comparable"
        differs = "; ".join(row["differences"] + row["notes"]) if row["differences"] else "; ".join(row["notes"])
        lines.append(
            f"| {row['experiment']} | {where} | {paper_ua} | {paper_wa} | {format_mean_std(ua['mean'], ua['std'])} | "
            f"{format_interval(ua['ci95'])} | {format_mean_std(wa['mean'], wa['std'])} | {delta} | "
            f"{pooled['UA']:.2f} | {pooled['WA']:.2f} | folds {', '.join(map(str, row['folds']))}; "
            f"{len(row['seeds'])} seed(s) | {differs} |"
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
        raise SummaryError(f"{output_folder} holds no experiment (no <experiment>/seed<S>/fold<K> folder).")
    with open(os.path.join(output_folder, "comparison.json"), "w", encoding="utf-8") as handle:
        json.dump(rows, handle, indent=2)
    with open(os.path.join(output_folder, "comparison.md"), "w", encoding="utf-8") as handle:
        handle.write(comparison_markdown(rows))
    return rows
