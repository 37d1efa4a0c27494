"""``metrics.jsonl``: what a run records per epoch, as JSON lines a program can read while the run trains.

One record per line: one per epoch (``epoch``, the learning rates, ``train`` and ``valid`` statistics,
``number_of_epochs``, ``time``: Unix seconds when it was logged), then one for the test of the selected checkpoint
(``epoch loaded``: the selected epoch, ``test``). ``custom_modules.train_logging.JsonLinesTrainLogger`` writes it
(a SpeechBrain train logger, in the yaml); ``recipes/run_folds.py`` watches it while a stage trains, and the
summaries and training curves read it. This module has no SpeechBrain import, so its readers need none.

A run killed after logging an epoch but before its checkpoint was saved resumes from an earlier checkpoint and
trains that epoch again: on resuming, the records after the recovered epoch (and an earlier test record) are
dropped (``keep_epochs_up_to``), so every epoch appears once, with the values of the run that continued.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import json
import os
import time

# The file's name in a run's output folder (the yaml's ``metrics_log``), where readers of a run look for it.
METRICS_LOG = "metrics.jsonl"
TEST_RECORD_KEY = "epoch loaded"  # the test record's key: the epoch whose checkpoint was tested


def append_record(path, record):
    """Appends one record (a dict of JSON values) with the current ``time``.

    Arguments
    ---------
    path : str
    record : dict

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), METRICS_LOG)
    >>> for epoch in (1, 2, 3):
    ...     append_record(path, {"epoch": epoch, "train": {"loss": 1.0 / epoch}, "valid": {"UA": 50.0 + epoch}})
    >>> keep_epochs_up_to(path, 2)  # resumed from the checkpoint of epoch 2
    >>> append_record(path, {"epoch loaded": 2, "test": {"UA": 48.0}})
    >>> records = read_metrics_log(path)
    >>> [r["epoch"] for r in records["epochs"]], records["test"]["epoch loaded"], records["test"]["test"]
    ([1, 2], 2, {'UA': 48.0})
    """
    line = json.dumps({**record, "time": round(time.time(), 3)}) + "\n"
    # One write of a whole line, flushed at close: a reader polling the file sees whole records.
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line)


def keep_epochs_up_to(path, epoch):
    """Drops the records of epochs after ``epoch`` and any test record: what a run resumed from the checkpoint of
    ``epoch`` logs again.

    Arguments
    ---------
    path : str
    epoch : int
        Epochs the recovered checkpoint holds (``EpochCounter.current`` after recovery).
    """
    if not os.path.isfile(path):
        return
    with open(path, encoding="utf-8") as handle:
        lines = handle.readlines()
    logged_epochs = [_epoch_of(line) for line in lines]
    kept = [line for line, logged in zip(lines, logged_epochs) if logged is not None and logged <= epoch]
    if len(kept) != len(lines):
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            handle.writelines(kept)
        os.replace(path + ".tmp", path)


def read_metrics_log(path):
    """The records of a ``metrics.jsonl`` file, also while a run is writing it.

    Arguments
    ---------
    path : str

    Returns
    -------
    dict
        ``epochs``: the epoch records sorted by epoch (an epoch logged twice keeps its last record);
        ``test``: the last test record (``epoch loaded``: the selected epoch), or None. Empty if there is no file.
    """
    epochs, test = {}, None
    if not os.path.isfile(path):
        return {"epochs": [], "test": None}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.endswith("\n"):
                break  # a record being written right now
            record = json.loads(line)
            if "epoch" in record:
                epochs[record["epoch"]] = record
            elif TEST_RECORD_KEY in record:
                test = record
    return {"epochs": [epochs[epoch] for epoch in sorted(epochs)], "test": test}


def _epoch_of(line):
    try:
        return json.loads(line).get("epoch")
    except json.JSONDecodeError:
        return None  # a line cut off by a kill: dropped with the epochs it may belong to
