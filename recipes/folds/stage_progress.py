"""How far a running stage is, from what it writes: the epoch records of its ``metrics.jsonl``
(``custom_modules.train_logging``) and the start time ``recipes/run_folds.py`` records beside it.

``recipes/run_folds.py`` prints a line whenever a stage records a new epoch, and a line every
``--progress_every`` seconds while an epoch lasts longer than that, wherever the stage runs (a local subprocess or
a SLURM job on another node: both only need the shared output folder)::

    fold 2 stage1: epoch 37/200, valid UA 71.20 (best 72.05 at epoch 30), 1:02:13 elapsed, ~4:10:00 left

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import os
import statistics
import time

from custom_modules.metrics_log import METRICS_LOG, read_metrics_log


def format_duration(seconds):
    """``H:MM:SS``.

    Example
    -------
    >>> format_duration(3733.4), format_duration(59)
    ('1:02:13', '0:00:59')
    """
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def epoch_seconds(epochs, started):
    """Typical length of an epoch of the current attempt: the median time between its epoch records (and from
    its start to its first record). None before the first record of the attempt.

    Arguments
    ---------
    epochs : list of dict
        Epoch records (``epoch``, ``time``), sorted by epoch.
    started : float
        When the current attempt started (Unix seconds); records written earlier (a run resumed) are left out.

    Returns
    -------
    float or None

    Example
    -------
    >>> epoch_seconds([{"epoch": 1, "time": 50.0}, {"epoch": 2, "time": 110.0}, {"epoch": 3, "time": 165.0}], 0.0)
    55.0
    >>> epoch_seconds([{"epoch": 1, "time": 50.0}], 100.0) is None
    True
    """
    times = [started] + [record["time"] for record in epochs if record["time"] >= started]
    if len(times) < 2:
        return None
    return statistics.median(later - earlier for earlier, later in zip(times, times[1:]))


class StageProgress:
    """The progress of one stage of one fold, as lines for the driver's log.

    Arguments
    ---------
    stage_folder : str
        The stage's ``--output_folder`` (holding ``metrics.jsonl``).
    started : float
        When the current attempt started (Unix seconds).
    progress_every : float
        Seconds after which a line is due even without a new epoch.

    Example
    -------
    >>> import json, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> progress = StageProgress(folder, started=1000.0, progress_every=600)
    >>> progress.line(now=1010.0) is None  # nothing recorded yet, and not yet due
    True
    >>> with open(os.path.join(folder, METRICS_LOG), "a") as handle:
    ...     for epoch, ua in ((1, 60.0), (2, 65.5)):
    ...         record = {"epoch": epoch, "valid": {"UA": ua}, "number_of_epochs": 10, "time": 1000.0 + 100 * epoch}
    ...         _ = handle.write(json.dumps(record) + "\\n")
    >>> progress.line(now=1205.0)
    'epoch 2/10, valid UA 65.50 (best 65.50 at epoch 2), 0:03:25 elapsed, ~0:13:20 left'
    >>> progress.line(now=1300.0) is None  # no new epoch, not yet due
    True
    >>> progress.line(now=1900.0)
    'epoch 3/10 running, 0:15:00 elapsed, ~0:13:20 left'
    """

    def __init__(self, stage_folder, started, progress_every=600.0):
        self.metrics_log = os.path.join(stage_folder, METRICS_LOG)
        self.started = started
        self.progress_every = progress_every
        self.reported_epoch = None
        self.reported_at = started

    def line(self, now=None):
        """A progress line if a new epoch was recorded or one is due; otherwise None."""
        now = time.time() if now is None else now
        epochs = read_metrics_log(self.metrics_log)["epochs"]
        latest = epochs[-1] if epochs else None
        new_epoch = latest is not None and latest["epoch"] != self.reported_epoch
        if not new_epoch and now - self.reported_at < self.progress_every:
            return None
        self.reported_at = now
        elapsed = format_duration(now - self.started)
        if latest is None:
            return f"epoch 1 running, {elapsed} elapsed"
        self.reported_epoch = latest["epoch"]
        total = latest.get("number_of_epochs")
        per_epoch = epoch_seconds(epochs, self.started)
        left = f", ~{format_duration(per_epoch * (total - latest['epoch']))} left" if per_epoch and total else ""
        of_total = f"/{total}" if total else ""
        if not new_epoch:
            return f"epoch {latest['epoch'] + 1}{of_total} running, {elapsed} elapsed{left}"
        text = f"epoch {latest['epoch']}{of_total}"
        if "UA" in latest.get("valid", {}):
            best = max(epochs, key=lambda record: record.get("valid", {}).get("UA", float("-inf")))
            text += f", valid UA {latest['valid']['UA']:.2f} (best {best['valid']['UA']:.2f} at epoch {best['epoch']})"
        return f"{text}, {elapsed} elapsed{left}"
