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
    (``recipes/fold_summary.py``) both come from here.

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
