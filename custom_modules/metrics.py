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
    """
    n_classes = len(labels)
    confusion = torch.zeros(n_classes, n_classes, dtype=torch.long)
    for target, prediction in zip(targets, predictions):
        confusion[target, prediction] += 1
    support = confusion.sum(dim=1)
    present = support > 0
    recall = confusion.diag().double() / support.clamp(min=1)
    total = int(support.sum())
    return {
        "WA": 100.0 * float(confusion.diag().sum()) / total if total else 0.0,
        # Classes absent from the set have no recall and do not count towards UA.
        "UA": 100.0 * float(recall[present].mean()) if present.any() else 0.0,
        "per_class_recall": {
            label: (100.0 * float(recall[i]) if present[i] else None) for i, label in enumerate(labels)
        },
        "confusion_matrix": confusion.tolist(),
        "labels": list(labels),
        "count": total,
    }
