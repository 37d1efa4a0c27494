"""Is a difference between two experiments real? Confidence intervals and paired tests for UA and WA.

On IEMOCAP's leave-one-session-out folds, seeds alone move UA by about a point, and the paper's Table 3 rows
differ by 0.2 to 1.6. Two complementary views of the same question, both paired (the two systems are compared on
the same folds, seeds and test utterances):

- **over runs**: the per-(fold, seed) UA (or WA) of system A minus that of B. Their mean, a 95% t-interval, the
  paired t-test (``scipy.stats.ttest_rel``) and the Wilcoxon signed-rank test (``scipy.stats.wilcoxon``, which
  does not assume normal differences). This captures what changes between training runs (folds and seeds).
- **over test utterances**: a paired bootstrap. Test utterances are resampled with replacement within each fold
  (the folds' sizes stay as they are), both systems' predictions on the resampled utterances give the pooled UA
  of each seed, and the difference is averaged over seeds. Percentile 95% interval; two-sided p-value
  ``2 min(P(d <= 0), P(d >= 0))`` over the resamples. This captures how much the verdict depends on which
  utterances the test sets happen to hold.

``scipy.stats.bootstrap`` is not used for the second: it resamples observations of one sample, while this
needs resampling stratified by fold and a statistic (UA, a mean of per-class recalls over the pooled folds) that
is not a mean over utterances.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


# The range of a metric in %: an interval past it says that its runs are too few for the t-interval, not where
# the metric may be.
PERCENT = (0.0, 100.0)


def mean_and_interval(values, confidence=CONFIDENCE, limits=None):
    """Mean, sample standard deviation and t-interval of the mean of independent results (e.g. folds x seeds).

    Arguments
    ---------
    values : sequence of float
    confidence : float
    limits : tuple, optional
        The metric's range (``PERCENT``; None for an end without a limit): a t-interval that leaves it is not
        given, and ``too_few`` says so.

    Returns
    -------
    dict
        ``mean``, ``std`` (n - 1 denominator), ``low``, ``high``, ``n`` and ``too_few`` (True when there is no
        interval: one value, or too few for one inside ``limits``); std is None for one value.

    Example
    -------
    >>> summary = mean_and_interval([70.0, 72.0, 74.0])
    >>> summary["mean"], summary["std"], round(summary["low"], 2), round(summary["high"], 2), summary["too_few"]
    (72.0, 2.0, 67.03, 76.97, False)
    >>> summary = mean_and_interval([10.0, 90.0], limits=PERCENT)  # two runs: the t-interval leaves 0-100
    >>> summary["low"], summary["high"], summary["too_few"]
    (None, None, True)
    """
    values = np.asarray(values, dtype=float)
    summary = {"mean": float(values.mean()), "std": None, "low": None, "high": None, "n": int(values.size)}
    if values.size > 1:
        low, high = stats.ttest_1samp(values, 0.0).confidence_interval(confidence)
        summary["std"] = float(values.std(ddof=1))
        if _inside(low, high, limits):
            summary.update(low=float(low), high=float(high))
    summary["too_few"] = summary["low"] is None
    return summary


def _inside(low, high, limits):
    if limits is None:
        return True
    bottom, top = limits
    return (bottom is None or low >= bottom) and (top is None or high <= top)


def paired_runs_test(a, b, confidence=CONFIDENCE, limits=None):
    """Paired comparison of two systems' results on the same runs (folds x seeds): A - B.

    Arguments
    ---------
    a, b : sequence of float
        The metric of each run, in the same (fold, seed) order.
    confidence : float
    limits : tuple, optional
        The range of a difference (``-100, 100`` for a metric in %): a t-interval past it is not given (``low``
        and ``high`` None, ``too_few`` True).

    Returns
    -------
    dict
        ``difference`` (mean of A - B), ``low``, ``high`` (t-interval), ``too_few``, ``t_test_p`` (paired
        t-test), ``wilcoxon_p`` (Wilcoxon signed-rank test), ``n``; both p-values are 1.0 when every difference
        is zero.

    Example
    -------
    >>> result = paired_runs_test([71.0, 73.0, 70.0, 75.0, 72.0], [70.0, 71.0, 70.5, 72.0, 70.0])
    >>> round(result["difference"], 2), round(result["t_test_p"], 3), round(result["wilcoxon_p"], 3)
    (1.5, 0.064, 0.125)
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.size < 2:
        raise ValueError(f"A paired test needs the same runs, at least two, on both sides (got {a.size} and {b.size}).")
    differences = a - b
    result = {"difference": float(differences.mean()), "n": int(a.size)}
    if not np.any(differences):
        # Identical results: both tests are undefined (no spread, no signed ranks), and nothing differs.
        return {**result, "low": 0.0, "high": 0.0, "too_few": False, "t_test_p": 1.0, "wilcoxon_p": 1.0}
    t_test = stats.ttest_rel(a, b)
    low, high = t_test.confidence_interval(confidence)
    inside = _inside(low, high, limits)
    result.update(low=float(low) if inside else None, high=float(high) if inside else None, too_few=not inside)
    result["t_test_p"] = float(t_test.pvalue)
    result["wilcoxon_p"] = float(stats.wilcoxon(a, b).pvalue)
    return result


def pooled_recall_counts(truth, predictions, n_classes):
    """Per-class correct counts and class sizes of resampled utterances, for each resample (and seed).

    Arguments
    ---------
    truth : np.ndarray
        ``[..., utterances]`` true class indices.
    predictions : np.ndarray
        Same shape, predicted class indices.
    n_classes : int

    Returns
    -------
    correct, support : np.ndarray
        ``[..., n_classes]`` each.

    Example
    -------
    >>> correct, support = pooled_recall_counts(np.array([0, 0, 1]), np.array([0, 1, 1]), 2)
    >>> correct.tolist(), support.tolist()
    ([1, 1], [2, 1])
    """
    one_hot = truth[..., None] == np.arange(n_classes)
    return (one_hot & (predictions == truth)[..., None]).sum(axis=-2), one_hot.sum(axis=-2)


def unweighted_accuracy(correct, support):
    """UA in % from per-class counts (classes absent from the set left out), over the last axis."""
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, correct / np.maximum(support, 1), np.nan)
    return 100.0 * np.nanmean(recall, axis=-1)


def paired_bootstrap(folds, n_classes, n_resamples=10000, seed=0, confidence=CONFIDENCE):
    """Paired bootstrap over test utterances, resampled within folds, of pooled UA and WA: A - B.

    Arguments
    ---------
    folds : list of tuple
        One ``(truth, predictions_a, predictions_b)`` per fold: ``truth`` ``[utterances]`` true class indices,
        each predictions array ``[seeds, utterances]`` (the same utterances in the same order; the same seeds).
    n_classes : int
    n_resamples : int
    seed : int
        Seed of the resampling.
    confidence : float

    Returns
    -------
    dict
        For ``UA`` and ``WA``: ``difference`` (observed, mean over seeds of the pooled difference), ``low``,
        ``high`` (percentile interval), ``p`` (two-sided); and ``n_resamples``, ``utterances``, ``seeds``.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.integers(0, 4, 200)
    >>> good = np.where(rng.random((3, 200)) < 0.8, truth, rng.integers(0, 4, (3, 200)))
    >>> poor = np.where(rng.random((3, 200)) < 0.5, truth, rng.integers(0, 4, (3, 200)))
    >>> folds = [(truth[:100], good[:, :100], poor[:, :100]), (truth[100:], good[:, 100:], poor[:, 100:])]
    >>> result = paired_bootstrap(folds, n_classes=4, n_resamples=2000)
    >>> result["UA"]["difference"] > 20, result["UA"]["p"] < 0.001
    (True, True)
    """
    rng = np.random.default_rng(seed)
    n_seeds = folds[0][1].shape[0]
    totals = {name: np.zeros((n_resamples + 1, n_seeds, n_classes), dtype=np.int64) for name in ("ca", "cb", "s")}
    for truth, predictions_a, predictions_b in folds:
        truth = np.asarray(truth)
        if predictions_a.shape != predictions_b.shape or predictions_a.shape != (n_seeds, truth.size):
            raise ValueError("Both systems need predictions for every seed on the same utterances of each fold.")
        # Row 0 is the observed test set; rows 1.. are resamples of it.
        index = np.vstack([np.arange(truth.size), rng.integers(0, truth.size, (n_resamples, truth.size))])
        resampled_truth = truth[index][:, None, :]
        for key, predictions in (("ca", predictions_a), ("cb", predictions_b)):
            correct, support = pooled_recall_counts(
                resampled_truth, predictions[:, index].transpose(1, 0, 2), n_classes
            )
            totals[key] += correct
        totals["s"] += support
    result = {"n_resamples": n_resamples, "utterances": int(sum(f[0].size for f in folds)), "seeds": n_seeds}
    ua = unweighted_accuracy(totals["ca"], totals["s"]) - unweighted_accuracy(totals["cb"], totals["s"])
    wa = 100.0 * (totals["ca"].sum(-1) - totals["cb"].sum(-1)) / totals["s"].sum(-1)
    for name, differences in (("UA", ua.mean(axis=1)), ("WA", wa.mean(axis=1))):
        observed, resampled = differences[0], differences[1:]
        tail = (1.0 - confidence) / 2
        low, high = np.quantile(resampled, [tail, 1.0 - tail])
        p = min(1.0, 2.0 * min(np.mean(resampled <= 0), np.mean(resampled >= 0)))
        result[name] = {"difference": float(observed), "low": float(low), "high": float(high), "p": float(p)}
    return result
