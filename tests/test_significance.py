"""recipes/reports/significance.py: intervals and paired tests agree with their definitions and with the recipe's UA."""

import numpy as np
import pytest
from scipy import stats

from custom_modules.constants import EMOTIONS
from custom_modules.metrics import classification_summary
from recipes.reports.significance import mean_and_interval, paired_bootstrap, paired_runs_test


def noisy_predictions(truth, accuracy, seeds, rng):
    """Predictions that are right with probability ``accuracy``, else a random class: ``[seeds, utterances]``."""
    right = rng.random((seeds, truth.size)) < accuracy
    return np.where(right, truth, rng.integers(0, len(EMOTIONS), (seeds, truth.size)))


def folds_of(truth, *systems, sizes=(40, 35, 45, 38, 42)):
    """Splits utterances into folds: ``[(truth, predictions of each system), ...]``."""
    edges = np.cumsum((0, *sizes))
    return [(truth[a:b], *(s[:, a:b] for s in systems)) for a, b in zip(edges[:-1], edges[1:])]


def test_interval_is_the_t_interval_of_the_mean():
    values = [68.2, 71.5, 70.1, 73.9, 69.4, 72.0]
    summary = mean_and_interval(values)
    expected = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert summary["mean"] == pytest.approx(np.mean(values)) and summary["std"] == pytest.approx(np.std(values, ddof=1))
    assert (summary["low"], summary["high"]) == pytest.approx(expected)
    assert mean_and_interval([70.0])["low"] is None, "no interval from one run"


def test_paired_runs_test_is_scipys_paired_t_test_and_wilcoxon():
    a, b = [71.2, 73.0, 69.8, 75.1, 72.4, 70.9], [70.0, 71.5, 70.1, 72.3, 70.2, 70.0]
    result = paired_runs_test(a, b)
    assert result["difference"] == pytest.approx(np.mean(np.subtract(a, b)))
    assert result["t_test_p"] == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert result["wilcoxon_p"] == pytest.approx(stats.wilcoxon(a, b).pvalue)
    assert result["low"] < result["difference"] < result["high"]
    same = paired_runs_test(a, a)
    assert same["difference"] == 0 and same["t_test_p"] == same["wilcoxon_p"] == 1.0
    with pytest.raises(ValueError, match="same runs"):
        paired_runs_test(a, b[:-1])


def test_bootstrap_observed_difference_is_the_recipes_pooled_ua_and_wa_difference():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 4, 200)
    a, b = noisy_predictions(truth, 0.7, 1, rng), noisy_predictions(truth, 0.6, 1, rng)
    result = paired_bootstrap(folds_of(truth, a, b), n_classes=4, n_resamples=200)
    summary_a = classification_summary(truth.tolist(), a[0].tolist(), EMOTIONS)
    summary_b = classification_summary(truth.tolist(), b[0].tolist(), EMOTIONS)
    assert result["UA"]["difference"] == pytest.approx(summary_a["UA"] - summary_b["UA"])
    assert result["WA"]["difference"] == pytest.approx(summary_a["WA"] - summary_b["WA"])
    assert result["UA"]["low"] < result["UA"]["difference"] < result["UA"]["high"]


def test_bootstrap_tells_a_real_difference_from_noise():
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 4, 200)
    base = noisy_predictions(truth, 0.65, 3, rng)
    same_skill = noisy_predictions(truth, 0.65, 3, rng)  # another draw of an equally good system
    better = noisy_predictions(truth, 0.85, 3, rng)
    noise = paired_bootstrap(folds_of(truth, same_skill, base), n_classes=4, n_resamples=2000)
    real = paired_bootstrap(folds_of(truth, better, base), n_classes=4, n_resamples=2000)
    assert noise["UA"]["p"] > 0.05 and noise["UA"]["low"] < 0 < noise["UA"]["high"]
    assert real["UA"]["p"] < 0.001 and real["UA"]["low"] > 0
    itself = paired_bootstrap(folds_of(truth, base, base), n_classes=4, n_resamples=200)
    assert itself["UA"] == {"difference": 0.0, "low": 0.0, "high": 0.0, "p": 1.0}


def test_bootstrap_refuses_predictions_of_other_utterances_or_seeds():
    truth = np.zeros(10, dtype=int)
    with pytest.raises(ValueError, match="every seed on the same utterances"):
        paired_bootstrap([(truth, np.zeros((2, 10), int), np.zeros((3, 10), int))], n_classes=4, n_resamples=10)


def test_an_interval_never_leaves_the_metrics_range_without_saying_why():
    from recipes.reports.fold_summary import format_interval
    from recipes.reports.significance import PERCENT

    two_runs = mean_and_interval([69.0, 79.56], limits=PERCENT)  # the t-interval: [7.19, 141.37]
    assert two_runs["too_few"] and two_runs["low"] is None and two_runs["std"] is not None
    assert format_interval(None, runs=2) == "no interval: 2 runs are too few"
    fifteen = mean_and_interval(np.linspace(60.0, 80.0, 15), limits=PERCENT)
    assert 0 < fifteen["low"] < fifteen["high"] < 100 and not fifteen["too_few"]
    assert format_interval([fifteen["low"], fifteen["high"]], runs=15).endswith("(15 runs)")
    wide = paired_runs_test([10.0, 90.0], [50.0, 50.0], limits=(-100, 100))
    assert wide["too_few"] and wide["low"] is None and wide["high"] is None
