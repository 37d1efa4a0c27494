"""Classification metrics over a whole set: WA, UA, per-class recall and the confusion matrix.

UA (unweighted accuracy, the mean of per-class recalls) is not additive over batches, so predictions are
accumulated for the whole set and the metrics are computed once at the end of a stage.
SpeechBrain's ``ClassificationStats`` indexes its confusion matrix by the labels that happen to be predicted,
so a class the model never predicts would vanish from the matrix; here the label order is fixed.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import torch


class ClassificationMetrics:
    """Accumulates predictions of one task and summarises them.

    Arguments
    ---------
    labels : list of str
        Class names in index order.

    Example
    -------
    >>> metrics = ClassificationMetrics(["neu", "hap", "ang", "sad"])
    >>> metrics.append(["a", "b", "c", "d", "e"], torch.tensor([0, 0, 2, 3, 3]), torch.tensor([0, 1, 2, 3, 3]))
    >>> summary = metrics.summarize()
    >>> summary["WA"], summary["UA"]
    (80.0, 75.0)
    >>> summary["confusion_matrix"][1]
    [1, 0, 0, 0]
    """

    def __init__(self, labels):
        self.labels = list(labels)
        self.ids, self.predictions, self.targets = [], [], []

    def append(self, ids, predictions, targets):
        """Adds a batch of predicted and true class indices (tensors or lists)."""
        self.ids.extend(ids)
        self.predictions.extend(int(p) for p in torch.as_tensor(predictions).flatten())
        self.targets.extend(int(t) for t in torch.as_tensor(targets).flatten())

    def summarize(self):
        """Returns WA and UA (in %), per-class recall (%), the confusion matrix (rows: truth) and the count."""
        return classification_summary(self.targets, self.predictions, self.labels)


def classification_summary(targets, predictions, labels):
    """WA, UA, per-class recall and confusion matrix of index lists.

    Arguments
    ---------
    targets : list of int
    predictions : list of int
    labels : list of str

    Returns
    -------
    dict
        See ``confusion_summary``.
    """
    confusion = [[0] * len(labels) for _ in labels]
    for target, prediction in zip(targets, predictions):
        confusion[target][prediction] += 1
    return confusion_summary(confusion, labels)


def confusion_summary(confusion, labels):
    """WA, UA (in %), per-class recall (%) and count of a confusion matrix (rows: truth, columns: prediction).

    The one definition of the metrics: the test metrics of a run and the pooled metrics over folds
    (``recipes/reports/fold_summary.py``) both come from here.

    Arguments
    ---------
    confusion : list of list of int
    labels : list of str

    Returns
    -------
    dict
        ``WA``, ``UA``, ``per_class_recall``, ``confusion_matrix``, ``labels``, ``count``.

    Example
    -------
    >>> summary = confusion_summary([[4, 1], [0, 2]], ["neu", "sad"])
    >>> summary["WA"], summary["UA"], summary["per_class_recall"]
    (85.71428571428571, 90.0, {'neu': 80.0, 'sad': 100.0})
    """
    support = [sum(row) for row in confusion]
    # Classes absent from the set have no recall and do not count towards UA.
    recall = [100.0 * row[i] / support[i] if support[i] else None for i, row in enumerate(confusion)]
    present = [r for r in recall if r is not None]
    total = sum(support)
    return {
        "WA": 100.0 * sum(row[i] for i, row in enumerate(confusion)) / total if total else 0.0,
        "UA": sum(present) / len(present) if present else 0.0,
        "per_class_recall": dict(zip(labels, recall)),
        "confusion_matrix": [list(row) for row in confusion],
        "labels": list(labels),
        "count": total,
    }


def concordance_correlation(predictions, targets):
    """Lin's concordance correlation coefficient (CCC) of two series: the one definition the dimension tasks'
    loss (``custom_modules.losses.ccc_loss``) and metric (``DimensionMetrics``) share.

    ``CCC = 2 cov(x, y) / (var(x) + var(y) + (mean(x) - mean(y))^2)`` with population (1/N) moments (Lin 1989): 1 for
    predictions equal to the targets, 0 for uncorrelated ones, and below Pearson's r when the predictions are
    shifted or scaled, which is why dimensional SER reports it (and trains on 1 - CCC).

    Arguments
    ---------
    predictions, targets : torch.Tensor
        ``[N]``, N >= 2, finite.

    Returns
    -------
    torch.Tensor
        Scalar, differentiable.

    Example
    -------
    >>> y = torch.tensor([1.0, 2.0, 3.0, 4.0])
    >>> concordance_correlation(y, y), concordance_correlation(y + 1.0, y)  # a shift lowers CCC, not Pearson's r
    (tensor(1.), tensor(0.7143))
    """
    mean_x, mean_y = predictions.mean(), targets.mean()
    covariance = ((predictions - mean_x) * (targets - mean_y)).mean()
    denominator = predictions.var(unbiased=False) + targets.var(unbiased=False) + (mean_x - mean_y) ** 2
    # Constant, equal series (0 / 0) concord perfectly in the limit; the clamp only avoids dividing by zero.
    return 2.0 * covariance / denominator.clamp_min(torch.finfo(denominator.dtype).tiny)


class DimensionMetrics:
    """Accumulates the predictions of one dimension task (arousal, valence, dominance, a manifest's numeric column)
    over a whole set and gives their CCC (not additive over batches, like UA).

    Targets that are NaN (a manifest's empty cell) are left out of the metric, as of the loss.

    Example
    -------
    >>> metrics = DimensionMetrics()
    >>> metrics.append(["a", "b"], torch.tensor([2.0, 3.0]), torch.tensor([2.0, float("nan")]))
    >>> metrics.append(["c"], torch.tensor([4.0]), torch.tensor([4.0]))
    >>> metrics.summarize()
    {'CCC': 1.0, 'count': 2, 'missing': 1}
    """

    def __init__(self):
        self.ids, self.predictions, self.targets = [], [], []

    def append(self, ids, predictions, targets):
        """Adds a batch of predicted and true values (tensors or lists)."""
        self.ids.extend(ids)
        self.predictions.extend(float(p) for p in torch.as_tensor(predictions).detach().flatten())
        self.targets.extend(float(t) for t in torch.as_tensor(targets).flatten())

    def summarize(self):
        """Returns ``CCC`` (None with fewer than two annotated utterances), ``count`` (annotated utterances) and
        ``missing`` (utterances without a value)."""
        pairs = [(p, t) for p, t in zip(self.predictions, self.targets) if t == t]
        ccc = None
        if len(pairs) >= 2:
            predictions, targets = torch.tensor(pairs, dtype=torch.float64).T
            ccc = float(concordance_correlation(predictions, targets))
        return {"CCC": ccc, "count": len(pairs), "missing": len(self.targets) - len(pairs)}
