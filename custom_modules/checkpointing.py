"""Resuming safely: a Checkpointer that survives being killed while it saves, and a train log that matches the
state a run resumes from.

SpeechBrain's ``Checkpointer.save_checkpoint`` writes a checkpoint's ``CKPT.yaml`` first and its parameter files
after. A run killed in between (an XLS-R checkpoint takes seconds to write) leaves a folder that looks like a
checkpoint, and the next run would try to resume from it and fail on a missing or truncated file. Here a
checkpoint only counts once a ``COMPLETE`` marker is written after all its files; folders without it are left
out (and removed by the main process, with a warning), so a resumed run starts from the last complete one.

Under DDP every process lists the checkpoints after saving (``delete_checkpoints``) and runs one collective
per checkpoint it deletes, so all processes must see the same list: they wait for the main process's marker.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import logging
import os
import re
import shutil

from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.distributed import ddp_barrier, if_main_process
from speechbrain.utils.logger import get_logger

logger = get_logger(__name__)

COMPLETE_MARKER = "COMPLETE"


class InterruptSafeCheckpointer(Checkpointer):
    """``Checkpointer`` whose checkpoints count only once fully written.

    Arguments are those of ``speechbrain.utils.checkpoints.Checkpointer``.

    Example
    -------
    >>> import tempfile, torch
    >>> folder = tempfile.mkdtemp()
    >>> checkpointer = InterruptSafeCheckpointer(folder, recoverables={"layer": torch.nn.Linear(2, 2)})
    >>> saved = checkpointer.save_checkpoint()
    >>> (saved.path / COMPLETE_MARKER).is_file()
    True
    >>> (saved.path / COMPLETE_MARKER).unlink()  # as if killed before the last file was written
    >>> checkpointer.find_checkpoint() is None
    True
    """

    def save_checkpoint(self, meta=None, end_of_epoch=True, name=None, verbosity=logging.INFO):
        """Saves as SpeechBrain does, then marks the checkpoint complete (main process)."""
        meta = {} if meta is None else meta
        checkpoint = super().save_checkpoint(meta=meta, end_of_epoch=end_of_epoch, name=name, verbosity=verbosity)
        if checkpoint is not None:
            (checkpoint.path / COMPLETE_MARKER).touch()
        # A process that listed the checkpoints before the marker existed would leave out the new one, delete one
        # checkpoint fewer than the main process and wait in a barrier while it waits in a broadcast: a deadlock
        # (seen under torchrun on CPU about once in 17 runs).
        ddp_barrier()
        return checkpoint

    def _list_checkpoint_dirs(self):
        folders = super()._list_checkpoint_dirs()
        complete = [folder for folder in folders if (folder / COMPLETE_MARKER).is_file()]
        if if_main_process():
            for folder in folders:
                if folder not in complete:
                    logger.warning("Removing %s: the run was stopped while saving it.", folder)
                    shutil.rmtree(folder)
        return complete


def drop_unfinished_epochs(train_log, completed):
    r"""Removes the lines of epochs after ``completed`` from a SpeechBrain ``FileTrainLogger`` file.

    An epoch is logged just before its checkpoint is saved; a run killed in between resumes from an earlier
    checkpoint and logs that epoch again. Trimming the log to the recovered state keeps one line per epoch.

    Arguments
    ---------
    train_log : str
        Path of ``train_log.txt`` (nothing happens if it does not exist yet).
    completed : int
        Epochs the recovered checkpoint holds (``EpochCounter.current`` after recovery).

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "train_log.txt")
    >>> _ = open(path, "w").write("epoch: 1, lr: 1 - train loss: 2\nepoch: 2, lr: 1 - train loss: 1\n")
    >>> drop_unfinished_epochs(path, completed=1)
    >>> open(path).read()
    'epoch: 1, lr: 1 - train loss: 2\n'
    """
    if not os.path.isfile(train_log):
        return
    with open(train_log, encoding="utf-8") as handle:
        lines = handle.readlines()
    kept = [line for line in lines if not _logged_epoch(line) or _logged_epoch(line) <= completed]
    if len(kept) != len(lines):
        logger.info(
            "Dropping %d line(s) of %s logged after the checkpoint resumed from.", len(lines) - len(kept), train_log
        )
        with open(train_log, "w", encoding="utf-8") as handle:
            handle.writelines(kept)


def _logged_epoch(line):
    match = re.match(r"epoch: (\d+),", line)
    return int(match.group(1)) if match else 0
