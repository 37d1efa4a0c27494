"""Resuming safely: a Checkpointer that survives being killed while it saves, and one whose files were damaged
after it was saved.

SpeechBrain's ``Checkpointer.save_checkpoint`` writes a checkpoint's ``CKPT.yaml`` first and its parameter files
after. A run killed in between (an XLS-R checkpoint takes seconds to write) leaves a folder that looks like a
checkpoint, and the next run would try to resume from it and fail on a missing or truncated file. Here a
checkpoint only counts once a ``COMPLETE`` marker is written after all its files; folders without it are left
out (and removed by the main process, with a warning), so a resumed run starts from the last complete one.

A complete checkpoint can still be damaged later (a full disk, a copy cut short, a failing file system). Loading
it would end the run with torch's own error, which names no file. Here the file is named in the log, the
checkpoint is set aside (renamed ``damaged-CKPT+...``, kept for inspection) so that it is never chosen again,
and the next checkpoint in order of preference is loaded: the previous one when resuming, the next best one for
the test. If none can be loaded, the run stops with the file's name and the fix.

Under DDP every process lists the checkpoints after saving (``delete_checkpoints``) and runs one collective
per checkpoint it deletes, so all processes must see the same list: they wait for the main process's marker.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import json
import logging
import os
import shutil

import numpy as np
from speechbrain.utils.checkpoints import Checkpointer, mark_as_loader, mark_as_saver, register_checkpoint_hooks
from speechbrain.utils.distributed import ddp_barrier, if_main_process
from speechbrain.utils.logger import get_logger

from custom_modules.errors import RecipeInputError

logger = get_logger(__name__)

COMPLETE_MARKER = "COMPLETE"
DAMAGED_PREFIX = "damaged-"


class CheckpointDamagedError(RecipeInputError, RuntimeError):
    """No checkpoint of a run can be loaded; the message names the damaged file and the fix."""


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

    def recover_if_possible(self, importance_key=None, max_key=None, min_key=None, ckpt_predicate=None):
        """Loads the preferred checkpoint as SpeechBrain does; if one of its files cannot be read, names the file,
        sets the checkpoint aside and loads the next one in order of preference.

        Arguments and return value are those of ``Checkpointer.recover_if_possible``.
        """
        candidates = self.find_checkpoints(importance_key, max_key, min_key, ckpt_predicate)
        if not candidates:
            logger.info("Would load a checkpoint here, but none found yet.")
            return None
        damaged = []
        for checkpoint in candidates:
            try:
                self.load_checkpoint(checkpoint)
            except RecipeInputError:
                raise  # the recipe's own diagnosis (a checkpoint of other settings), with its fix
            except RuntimeError as error:
                if "Error(s) in loading state_dict" in str(error):
                    raise  # a readable file of another model, not a damaged one
                damaged.append((checkpoint, _file_being_loaded(error) or checkpoint.path, error))
            except Exception as error:  # what torch.load, pickle or a loader raises on a damaged file varies
                damaged.append((checkpoint, _file_being_loaded(error) or checkpoint.path, error))
            else:
                for bad_checkpoint, path, error in damaged:
                    aside = self._set_aside(bad_checkpoint)
                    logger.error(
                        "Cannot load %s (%s: %s): the file is damaged. Loaded the checkpoint %s instead; the damaged "
                        "one is kept as %s (delete it once inspected).",
                        path,
                        type(error).__name__,
                        error,
                        checkpoint.path,
                        aside,
                    )
                return checkpoint
        names = "; ".join(f"{path} ({type(error).__name__}: {error})" for _, path, error in damaged)
        raise CheckpointDamagedError(
            f"No checkpoint in {self.checkpoints_dir} can be loaded: {names}. Restore the damaged file(s) from a "
            f"backup, or delete {' and '.join(str(c.path) for c, _, _ in damaged)} to run from the previous state "
            "(from the start if no other checkpoint is left)."
        )

    def _set_aside(self, checkpoint):
        """Renames a checkpoint folder so that it is no longer listed (main process); returns the new path."""
        aside = checkpoint.path.with_name(DAMAGED_PREFIX + checkpoint.path.name)
        if if_main_process() and checkpoint.path.exists():
            if aside.exists():  # the same checkpoint set aside before and copied back: keep the first copy
                shutil.rmtree(checkpoint.path)
            else:
                os.replace(checkpoint.path, aside)
        return aside

    def _list_checkpoint_dirs(self):
        folders = super()._list_checkpoint_dirs()
        complete = [folder for folder in folders if (folder / COMPLETE_MARKER).is_file()]
        if if_main_process():
            for folder in folders:
                if folder not in complete:
                    logger.warning("Removing %s: the run was stopped while saving it.", folder)
                    shutil.rmtree(folder)
        return complete


def _file_being_loaded(error):
    """The parameter file SpeechBrain's ``Checkpointer._call_load_hooks`` was loading when ``error`` was raised
    (its local ``loadpath``), or None if the error came from elsewhere."""
    traceback = error.__traceback__
    while traceback is not None:
        frame = traceback.tb_frame
        if frame.f_code.co_name == "_call_load_hooks" and "loadpath" in frame.f_locals:
            return frame.f_locals["loadpath"]
        traceback = traceback.tb_next
    return None


@register_checkpoint_hooks
class NumpyRandomState:
    """NumPy's global random state in a checkpoint, beside SpeechBrain's ``SaveableGenerator`` (torch's only).

    Hugging Face draws SpecAugment's masks with ``np.random`` (``_compute_mask_indices``), so without it a
    resumed run would mask other frames than an uninterrupted one.

    Example
    -------
    >>> import tempfile
    >>> state, path = NumpyRandomState(), tempfile.mkdtemp() + "/numpy_random_state.json"
    >>> state.save(path)
    >>> first = np.random.rand()
    >>> state.load(path, end_of_epoch=False)
    >>> np.random.rand() == first
    True
    """

    @mark_as_saver
    def save(self, path):
        """Writes the state as JSON."""
        name, keys, position, has_gauss, cached_gaussian = np.random.get_state()
        with open(path, "w", encoding="utf-8") as handle:
            json.dump([name, keys.tolist(), position, has_gauss, cached_gaussian], handle)

    @mark_as_loader
    def load(self, path, end_of_epoch):
        """Restores the state written by ``save``."""
        del end_of_epoch
        with open(path, encoding="utf-8") as handle:
            name, keys, position, has_gauss, cached_gaussian = json.load(handle)
        np.random.set_state((name, np.array(keys, dtype=np.uint32), position, has_gauss, cached_gaussian))
