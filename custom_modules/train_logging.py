"""What a run logs per epoch, for people and for programs, selected in the yaml as SpeechBrain's ``train_logger``:
SpeechBrain's text log (``train_log.txt``), JSON lines beside it (``metrics.jsonl``, see
``custom_modules.metrics_log``) and, switched on with ``use_tensorboard``, TensorBoard event files.

``train_log.txt`` is for people and nothing parses it. It stays an append-only journal, as in every SpeechBrain
recipe: an epoch trained twice (a run killed between logging the epoch and saving its checkpoint) shows twice
there, while ``metrics.jsonl`` keeps the records of the epochs the resumed run holds.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

from speechbrain.utils.distributed import main_process_only
from speechbrain.utils.train_logger import TensorboardLogger, TrainLogger

from custom_modules.errors import RecipeInputError
from custom_modules.metrics_log import TEST_RECORD_KEY, append_record, keep_epochs_up_to


class JsonLinesTrainLogger(TrainLogger):
    """Appends one JSON record per ``log_stats`` call to a file (main process only).

    Arguments
    ---------
    save_file : str
        The ``.jsonl`` file.
    epoch_counter : speechbrain.utils.epoch_loop.EpochCounter, optional
        If given, every record says how many epochs the run has in all (``number_of_epochs``), so a reader can
        tell how far it is.

    Example
    -------
    >>> import os, tempfile
    >>> from custom_modules.metrics_log import read_metrics_log
    >>> path = os.path.join(tempfile.mkdtemp(), "metrics.jsonl")
    >>> log = JsonLinesTrainLogger(path)
    >>> for epoch in (1, 2, 3):
    ...     log.log_stats({"epoch": epoch}, train_stats={"loss": 1.0 / epoch}, valid_stats={"UA": 50.0})
    >>> log.forget_epochs_after(2)  # resumed from the checkpoint of epoch 2
    >>> log.log_stats({"epoch loaded": 2}, test_stats={"UA": 48.0})
    >>> records = read_metrics_log(path)
    >>> [r["epoch"] for r in records["epochs"]], records["test"]["epoch loaded"], records["test"]["test"]
    ([1, 2], 2, {'UA': 48.0})
    """

    def __init__(self, save_file, epoch_counter=None):
        self.save_file = save_file
        self.epoch_counter = epoch_counter

    @main_process_only
    def log_stats(self, stats_meta, train_stats=None, valid_stats=None, test_stats=None, verbose=False):
        """See ``speechbrain.utils.train_logger.TrainLogger.log_stats``; ``verbose`` is not used."""
        record = dict(stats_meta)
        for dataset, stats in (("train", train_stats), ("valid", valid_stats), ("test", test_stats)):
            if stats is not None:
                record[dataset] = {key: _plain(value) for key, value in stats.items()}
        if self.epoch_counter is not None:
            record["number_of_epochs"] = self.epoch_counter.limit
        append_record(self.save_file, record)

    @main_process_only
    def forget_epochs_after(self, epoch):
        """Drops the records a run resumed from the checkpoint of ``epoch`` logs again
        (``custom_modules.metrics_log.keep_epochs_up_to``)."""
        keep_epochs_up_to(self.save_file, epoch)


class EpochTensorboardLogger(TensorboardLogger):
    """SpeechBrain's ``TensorboardLogger`` with the epoch as the step of every scalar.

    SpeechBrain's counts its own calls, so a resumed run would plot epoch 5 at step 1. With the epoch as the step,
    a resumed run continues its curves, and TensorBoard itself drops the points of an epoch trained again
    (it purges events at or after a step seen again). The test of the selected checkpoint is plotted at the
    selected epoch (``UA/test``). Scalars are flushed after every call, so the curves are live.

    Arguments
    ---------
    save_dir : str
        Folder of the event files (``tensorboard --logdir`` it, or a folder above it).
    """

    @main_process_only
    def log_stats(self, stats_meta, train_stats=None, valid_stats=None, test_stats=None, verbose=False):
        """See ``speechbrain.utils.train_logger.TrainLogger.log_stats``; ``verbose`` is not used."""
        step = stats_meta.get("epoch", stats_meta.get(TEST_RECORD_KEY))
        for name, value in stats_meta.items():
            if name not in ("epoch", TEST_RECORD_KEY):
                self.writer.add_scalar(name, value, step)
        for dataset, stats in (("train", train_stats), ("valid", valid_stats), ("test", test_stats)):
            for name, value in (stats or {}).items():
                self.writer.add_scalar(f"{name}/{dataset}", value, step)
        self.writer.flush()


def tensorboard_logger(enabled, save_dir):
    """The TensorBoard logger if ``enabled`` (``use_tensorboard`` in the yaml), else None.

    Arguments
    ---------
    enabled : bool
    save_dir : str

    Returns
    -------
    EpochTensorboardLogger or None

    Example
    -------
    >>> tensorboard_logger(False, "unused") is None
    True
    """
    if not enabled:
        return None
    try:
        return EpochTensorboardLogger(save_dir)
    except ImportError as error:
        raise RecipeInputError(
            f"use_tensorboard: True needs the tensorboard package ({error}): install it (it is pinned in "
            "requirements.txt: pip install -r requirements.txt), or run with --use_tensorboard False."
        ) from error


class TrainLoggers(TrainLogger):
    """Several SpeechBrain train loggers as one ``train_logger``: each ``log_stats`` goes to all of them.

    Arguments
    ---------
    loggers : list of speechbrain.utils.train_logger.TrainLogger
        None entries (a logger switched off in the yaml) are left out.

    Example
    -------
    >>> import os, tempfile
    >>> from speechbrain.utils.train_logger import FileTrainLogger
    >>> from custom_modules.metrics_log import read_metrics_log
    >>> folder = tempfile.mkdtemp()
    >>> loggers = TrainLoggers([FileTrainLogger(os.path.join(folder, "train_log.txt")),
    ...                         JsonLinesTrainLogger(os.path.join(folder, "metrics.jsonl")), None])
    >>> loggers.log_stats({"epoch": 1}, train_stats={"loss": 2.5}, verbose=False)
    >>> open(os.path.join(folder, "train_log.txt")).read()
    'epoch: 1 - train loss: 2.50\\n'
    >>> read_metrics_log(os.path.join(folder, "metrics.jsonl"))["epochs"][0]["train"]
    {'loss': 2.5}
    """

    def __init__(self, loggers):
        self.loggers = [train_logger for train_logger in loggers if train_logger is not None]

    def log_stats(self, stats_meta, train_stats=None, valid_stats=None, test_stats=None, verbose=None):
        """Logs to every logger (``verbose``: each logger's own default unless given)."""
        options = {} if verbose is None else {"verbose": verbose}
        for train_logger in self.loggers:
            train_logger.log_stats(stats_meta, train_stats, valid_stats, test_stats, **options)

    def forget_epochs_after(self, epoch):
        """Tells each logger that keeps records by epoch that the run resumes after ``epoch``."""
        for train_logger in self.loggers:
            if hasattr(train_logger, "forget_epochs_after"):
                train_logger.forget_epochs_after(epoch)


def _plain(value):
    """A statistic as JSON can hold it (SpeechBrain hands over tensors or numpy numbers at times)."""
    return value.item() if hasattr(value, "item") else value
