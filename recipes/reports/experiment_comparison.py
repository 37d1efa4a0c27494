"""Two finished experiments side by side, paired on the same folds and seeds (``recipes/compare.py``): the runs of
each experiment's stage, paired in order of seed; the difference A - B in UA and WA with paired tests over the
runs and a paired bootstrap over test utterances (``recipes/reports/significance.py``); written as
``comparisons/<A>_vs_<B>.{md,json}``.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import json
import os

import numpy as np

from custom_modules.constants import EMOTIONS
from custom_modules.errors import RecipeInputError
from recipes.folds.layout import STAGES, run_folders
from recipes.reports.fold_summary import read_json
from recipes.reports.significance import CONFIDENCE, paired_bootstrap, paired_runs_test

COMPARISONS_FOLDER = "comparisons"
METHOD = (
    "Runs: the metric of each (fold, seed) run of A minus that of the paired run of B (the same fold; seeds paired "
    "in order); mean, 95% t-interval, paired t-test (scipy.stats.ttest_rel) and Wilcoxon signed-rank test "
    "(scipy.stats.wilcoxon). Utterances: paired bootstrap, test utterances resampled with replacement within each "
    "fold, both systems scored on the same resampled utterances; pooled UA / WA per seed, averaged over seeds; "
    "percentile 95% interval and two-sided p = 2 min(P(d <= 0), P(d >= 0)) over {resamples} resamples."
)


class ComparisonError(RecipeInputError, ValueError):
    """The two experiments cannot be compared; the message says why."""


def final_stage(experiment_folder):
    """The last stage any run of an experiment has a folder of: stage 2 for a two-stage row (finished or not),
    stage 1 for a single-stage row.

    Example
    -------
    >>> import tempfile
    >>> experiment = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(experiment, "seed1", "fold1", "stage1"))
    >>> final_stage(experiment)
    'stage1'
    >>> os.makedirs(os.path.join(experiment, "seed1", "fold2", "stage2"))
    >>> final_stage(experiment)
    'stage2'
    """
    folders = run_folders(experiment_folder).values()
    started = {stage for folder in folders for stage in STAGES if os.path.isdir(os.path.join(folder, stage))}
    return next((stage for stage in reversed(STAGES) if stage in started), STAGES[0])


def finished_runs(experiment_folder, stage, seeds=None):
    """The finished runs of one stage of an experiment: ``{fold: {seed: (test metrics, test predictions, the run's
    real folder)}}``.

    Arguments
    ---------
    experiment_folder : str
    stage : str
    seeds : list of int, optional
        Only these seeds (default: all).

    Returns
    -------
    dict
    """
    runs = {}
    for run, folder in run_folders(experiment_folder).items():
        if seeds is not None and run.seed not in seeds:
            continue
        metrics = read_json(os.path.join(folder, stage, "test_metrics.json"))
        predictions = read_json(os.path.join(folder, stage, "test_predictions.json"))
        if metrics is not None and predictions is not None:
            real = os.path.realpath(os.path.join(folder, stage))
            runs.setdefault(run.fold, {})[run.seed] = (metrics, predictions, real)
    return runs


def paired_runs(runs_a, runs_b):
    """Pairs the runs of two experiments: the same folds, seeds in order.

    Arguments
    ---------
    runs_a, runs_b : dict
        From ``finished_runs``.

    Returns
    -------
    pairs : dict
        ``fold -> [((seed_a, run_a), (seed_b, run_b)), ...]``, for the folds both finished, as many pairs per fold
        as the smaller number of seeds.
    left_out : list of str
        Runs without a partner, for the report.

    Example
    -------
    >>> pairs, left_out = paired_runs({1: {7: "a7", 8: "a8"}, 2: {7: "a27"}}, {1: {3: "b3", 4: "b4"}, 3: {3: "b33"}})
    >>> pairs, left_out
    ({1: [((7, 'a7'), (3, 'b3')), ((8, 'a8'), (4, 'b4'))]}, ['A fold 2 seed 7', 'B fold 3 seed 3'])
    """
    pairs, left_out = {}, []
    for fold in sorted(set(runs_a) | set(runs_b)):
        seeds_a, seeds_b = sorted(runs_a.get(fold, {})), sorted(runs_b.get(fold, {}))
        count = min(len(seeds_a), len(seeds_b))
        if count:
            pairs[fold] = [
                ((sa, runs_a[fold][sa]), (sb, runs_b[fold][sb])) for sa, sb in zip(seeds_a[:count], seeds_b[:count])
            ]
        left_out += [f"A fold {fold} seed {seed}" for seed in seeds_a[count:]]
        left_out += [f"B fold {fold} seed {seed}" for seed in seeds_b[count:]]
    return pairs, left_out


def compare(
    output_folder, name_a, name_b, stage_a=None, stage_b=None, seeds_a=None, seeds_b=None, resamples=10000, seed=0
):
    """The paired comparison of two experiments (see the module docstring).

    Arguments
    ---------
    output_folder : str
    name_a, name_b : str
        Experiments (folders) of ``output_folder``.
    stage_a, stage_b : str, optional
        The stage of each side (default: each experiment's final stage, ``final_stage``).
    seeds_a, seeds_b : list of int, optional
    resamples : int
        Bootstrap resamples.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    dict
    """
    folders = {name: os.path.join(output_folder, name) for name in (name_a, name_b)}
    for name, folder in folders.items():
        if not run_folders(folder):
            raise ComparisonError(f"{folder} holds no run of {name} (no seed<S>/fold<K> folder).")
    stage_a = stage_a or final_stage(folders[name_a])
    stage_b = stage_b or final_stage(folders[name_b])
    runs_a, runs_b = finished_runs(folders[name_a], stage_a, seeds_a), finished_runs(folders[name_b], stage_b, seeds_b)
    pairs, left_out = paired_runs(runs_a, runs_b)
    if not pairs:
        raise ComparisonError(
            f"{name_a} ({stage_a}) and {name_b} ({stage_b}) have no fold both finished (runs of {name_a}: folds "
            f"{sorted(runs_a)}; of {name_b}: {sorted(runs_b)})."
        )
    same = [
        f"fold {fold} seed {seed_a} ({run_a[2]})"
        for fold, fold_pairs in pairs.items()
        for (seed_a, run_a), (_, run_b) in fold_pairs
        if run_a[2] == run_b[2]
    ]
    if same:
        raise ComparisonError(
            f"{name_a} {stage_a} and {name_b} {stage_b} are the very same runs ({'; '.join(same)}): there is nothing "
            "to compare. Compare another stage (--stage_a, --stage_b; by default each experiment's final stage) or "
            "other seeds (--seeds_a, --seeds_b)."
        )
    result = {
        "a": name_a,
        "b": name_b,
        "stage": stage_a if stage_a == stage_b else f"{stage_a} vs {stage_b}",
        "stage_a": stage_a,
        "stage_b": stage_b,
        "folds": sorted(pairs),
        "seeds_a": sorted({sa for fold_pairs in pairs.values() for (sa, _), _ in fold_pairs}),
        "seeds_b": sorted({sb for fold_pairs in pairs.values() for _, (sb, _) in fold_pairs}),
        "runs_left_out": left_out,
        "confidence": CONFIDENCE,
        "method": METHOD.format(resamples=resamples),
    }
    per_run = {metric: ([], []) for metric in ("UA", "WA")}
    folds = []
    # The classes of the corpus both experiments were trained on, in the models' order.
    labels = [run_labels(metrics) for fold_pairs in pairs.values() for pair in fold_pairs for _, (metrics, *_) in pair]
    if any(other != labels[0] for other in labels):
        raise ComparisonError("The runs have different emotion classes (other corpora): they cannot be paired.")
    for fold, fold_pairs in pairs.items():
        for (_, (metrics_a, *_)), (_, (metrics_b, *_)) in fold_pairs:
            for metric, (values_a, values_b) in per_run.items():
                values_a.append(metrics_a[metric])
                values_b.append(metrics_b[metric])
        folds.append(_fold_predictions(fold, fold_pairs, name_a, name_b, labels[0]))
    result["runs"] = {
        metric: {"a_mean": float(np.mean(a)), "b_mean": float(np.mean(b)), **paired_runs_test(a, b, limits=(-100, 100))}
        for metric, (a, b) in per_run.items()
    }
    result["utterances"] = paired_bootstrap(folds, n_classes=len(labels[0]), n_resamples=resamples, seed=seed)
    return result


def run_labels(metrics):
    """A run's emotion classes in its model's order (``test_metrics.json``; IEMOCAP's before runs recorded them)."""
    return list(metrics.get("labels", EMOTIONS))


def _fold_predictions(fold, fold_pairs, name_a, name_b, labels):
    """``(truth, predictions of A [seeds, utterances], predictions of B)`` of one fold, utterances aligned by id."""
    seeds_predictions = {"a": [], "b": []}
    reference = None
    for (_, (_, records_a, _)), (_, (_, records_b, _)) in fold_pairs:
        for side, records, name in (("a", records_a, name_a), ("b", records_b, name_b)):
            by_id = {record["id"]: record for record in records}
            if reference is None:
                reference = {utt_id: record["emo"] for utt_id, record in sorted(by_id.items())}
            if set(by_id) != set(reference):
                raise ComparisonError(
                    f"Fold {fold}: {name} was tested on other utterances than the other runs of this comparison "
                    "(other data or preparation options): the two experiments cannot be paired."
                )
            seeds_predictions[side].append([labels.index(by_id[utt_id]["emo_pred"]) for utt_id in reference])
    truth = np.array([labels.index(label) for label in reference.values()])
    return truth, np.array(seeds_predictions["a"]), np.array(seeds_predictions["b"])


def comparison_markdown(result):
    """The Markdown of ``comparisons/<A>_vs_<B>.md``."""
    runs, utterances = result["runs"], result["utterances"]
    n_runs = runs["UA"]["n"]
    lines = [
        f"# {result['a']} ({result['stage_a']}) vs {result['b']} ({result['stage_b']})",
        "",
        f"Folds {', '.join(map(str, result['folds']))}; seeds of {result['a']}: "
        f"{', '.join(map(str, result['seeds_a']))}; of {result['b']}: {', '.join(map(str, result['seeds_b']))} "
        f"({n_runs} paired runs, {utterances['utterances']} test utterances per seed).",
        "",
        f"| metric | {result['a']} | {result['b']} | difference A - B | 95% CI ({n_runs} runs) | t-test p | "
        "Wilcoxon p | 95% CI (utterances) | bootstrap p |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for metric in ("UA", "WA"):
        r, u = runs[metric], utterances[metric]
        lines.append(
            f"| {metric} | {r['a_mean']:.2f} | {r['b_mean']:.2f} | {r['difference']:+.2f} | "
            f"{_interval(r)} | {_p(r['t_test_p'])} | {_p(r['wilcoxon_p'])} | "
            f"[{u['low']:+.2f}, {u['high']:+.2f}] | {_p(u['p'], utterances['n_resamples'])} |"
        )
    verdict = (
        "different at the 5% level by both views"
        if runs["UA"]["t_test_p"] < 0.05 and utterances["UA"]["p"] < 0.05
        else "not shown to differ at the 5% level by both views"
    )
    lines += [
        "",
        f"UA: {verdict}. Differences in percentage points; the difference of the runs' means (runs) and of the pooled "
        "metrics (utterances) can differ.",
        "",
        f"Method: {result['method']}",
        "",
    ]
    if result["runs_left_out"]:
        lines += [f"Runs without a partner, left out: {', '.join(result['runs_left_out'])}.", ""]
    return "\n".join(lines)


def _interval(runs):
    if runs["low"] is None:
        return f"none: {runs['n']} runs are too few (the t-interval leaves -100 to +100)"
    return f"[{runs['low']:+.2f}, {runs['high']:+.2f}]"


def _p(value, resamples=None):
    if value is None:
        return ""
    if resamples and value == 0:
        return f"< {1 / resamples:.0e}"
    return f"{value:.3g}"


def write_comparison(output_folder, result):
    """Writes ``<output_folder>/comparisons/<A>_vs_<B>.{json,md}``; returns the Markdown path."""
    folder = os.path.join(output_folder, COMPARISONS_FOLDER)
    os.makedirs(folder, exist_ok=True)
    stem = os.path.join(folder, f"{result['a']}_vs_{result['b']}")
    with open(stem + ".json", "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    with open(stem + ".md", "w", encoding="utf-8") as handle:
        handle.write(comparison_markdown(result))
    return stem + ".md"
