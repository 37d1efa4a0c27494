"""Early stopping: SpeechBrain's epoch counter with a stopper, on the validation metric that selects the model.

``patience`` null (the paper's: ``number_of_epochs`` epochs whatever validation says) keeps SpeechBrain's plain
``EpochCounter``; a number N makes it ``speechbrain.utils.epoch_loop.EpochCounterWithStopper``, which ends training
once the validation ``selection_metric`` (UA, or the mean CCC of the dimension tasks) has not improved for N epochs.
Both are the checkpointer's ``counter``: a resumed run knows it had stopped, and ends at once. The checkpoint of
best validation metric is tested, as without early stopping.

SpeechBrain's stopper compares ``current < (1 - min_delta) * best`` (maximising: with the signs flipped), a
relative margin that only reads as "better by at least min_delta" for a positive score that is minimised: when
maximising, an equal score counts as an improvement (50.0 > 0.999999 * 50.0), and a validation UA that stays
put, which it often does on a small validation set, would never stop the run. So the stopper minimises the
metric's shortfall from its best value (``100 - UA``, ``1 - CCC``).

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

from speechbrain.utils.checkpoints import register_checkpoint_hooks
from speechbrain.utils.epoch_loop import EpochCounter, EpochCounterWithStopper

# SpeechBrain 1.1.2 registers the checkpoint hooks of EpochCounter but not those of EpochCounterWithStopper, whose
# own _save/_recover (epoch, best epoch and score, stopped) the Checkpointer then never calls: it finds the base
# class's hooks first, saves the epoch alone, and a resumed run forgets that it had stopped and trains on. The
# class's own marked methods, registered with SpeechBrain's own decorator, are what it means to save.
register_checkpoint_hooks(EpochCounterWithStopper)

# The validation metrics a run can select its model by (``selection_metric``) and the best value of each: the
# stopper minimises the distance to it.
SELECTION_METRICS = {"UA": 100.0, "CCC": 1.0}


def epoch_counter(limit, patience=None):
    """The run's epoch counter (the yaml's ``epoch_counter``).

    Arguments
    ---------
    limit : int
        ``number_of_epochs``.
    patience : int, optional
        Epochs without improvement of the validation metric before training stops; None: never.

    Returns
    -------
    EpochCounter or EpochCounterWithStopper

    Example
    -------
    >>> counter = epoch_counter(10, patience=2)
    >>> for epoch in counter:
    ...     counter.update_metric(shortfall("UA", {1: 50.0, 2: 60.0}.get(epoch, 60.0)))
    >>> counter.current, counter.best_limit
    (4, 2)
    >>> type(epoch_counter(10)).__name__
    'EpochCounter'
    >>> from speechbrain.utils.checkpoints import Checkpointer
    >>> checkpointer = Checkpointer(getfixture("tmp_path"), {"counter": counter})
    >>> _ = checkpointer.save_checkpoint()
    >>> resumed = epoch_counter(10, patience=2)
    >>> _ = Checkpointer(getfixture("tmp_path"), {"counter": resumed}).recover_if_possible()
    >>> resumed.current, resumed.should_stop, list(resumed)
    (4, True, [])
    """
    if patience is None:
        return EpochCounter(limit)
    return EpochCounterWithStopper(limit, limit_to_stop=patience, limit_warmup=0, direction="min")


def shortfall(metric, value):
    """How far a validation value is from the metric's best (what the stopper minimises).

    Example
    -------
    >>> shortfall("UA", 62.5), shortfall("CCC", 0.25)
    (37.5, 0.75)
    """
    return SELECTION_METRICS[metric] - value


def training_end(counter, metric):
    """How training ended, as ``test_metrics.json`` and ``metrics.jsonl`` record it: read from the counter after
    ``fit`` (also when a resumed run found it had stopped), before the best checkpoint is loaded for the test.

    Arguments
    ---------
    counter : EpochCounter or EpochCounterWithStopper
    metric : str
        ``selection_metric``.

    Returns
    -------
    dict
        ``stopped_early``, ``epochs_trained``, ``number_of_epochs``, ``patience`` (None: off), ``best_epoch`` (by
        the stopper; None without one) and ``reason`` in words.

    Example
    -------
    >>> counter = epoch_counter(10, patience=2)
    >>> for epoch in counter:
    ...     counter.update_metric(shortfall("UA", 50.0))
    >>> training_end(counter, "UA")["reason"]
    'valid UA did not improve for 2 epochs after epoch 1 (best 50.00): stopped after epoch 3 of 10'
    """
    patience = getattr(counter, "limit_to_stop", None)
    # Patience exhausted at the last epoch stops nothing.
    stopped = bool(getattr(counter, "should_stop", False)) and counter.current < counter.limit
    record = {
        "stopped_early": stopped,
        "epochs_trained": counter.current,
        "number_of_epochs": counter.limit,
        "patience": patience,
        "best_epoch": getattr(counter, "best_limit", None),
    }
    if stopped:
        best = SELECTION_METRICS[metric] - counter.best_score
        record["reason"] = (
            f"valid {metric} did not improve for {patience} epoch{'s' * (patience != 1)} after epoch "
            f"{counter.best_limit} (best "
            f"{best:.2f}): stopped after epoch {counter.current} of {counter.limit}"
        )
    else:
        record["reason"] = f"trained all {counter.limit} epochs" + (
            f" (patience {patience} not exhausted)" if patience is not None else ""
        )
    return record
