"""Where ``recipes/run_folds.py`` puts an experiment's runs, for everything that writes or reads them::

    <output_folder>/<experiment>/seed<S>/fold<K>/stage1/    a stage's run folder (train_stage1.py's output_folder)
    <output_folder>/<experiment>/seed<S>/fold<K>/stage1.log its console output
    <output_folder>/<experiment>/seed<S>/fold<K>/stage2/    (two-stage experiments)

A run (``FoldRun``) is one fold (the held-out session) trained with one seed.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import os
import re
from typing import NamedTuple

STAGES = ("stage1", "stage2")
# What run_folds.py writes beside a stage's outputs (its settings, status and wall time).
RECORD_FILE = "run_folds.json"
_SEED_FOLDER = re.compile(r"^seed(-?\d+)$")
_FOLD_FOLDER = re.compile(r"^fold(\d+)$")


class FoldRun(NamedTuple):
    """One training of an experiment: a leave-one-session-out fold (its held-out session) with a seed.

    Example
    -------
    >>> run = FoldRun(fold=2, seed=7)
    >>> str(run), run.key
    ('fold 2 seed 7', 'seed7/fold2')
    """

    fold: int
    seed: int

    @property
    def key(self):
        """Its folder within the experiment's, ``seed<S>/fold<K>`` (also the name of its SLURM jobs' records)."""
        return f"seed{self.seed}/fold{self.fold}"

    def __str__(self):
        return f"fold {self.fold} seed {self.seed}"


def run_folders(experiment_folder):
    """The run folders of an experiment.

    Arguments
    ---------
    experiment_folder : str
        ``<output_folder>/<experiment>``.

    Returns
    -------
    dict
        ``FoldRun`` -> folder, sorted by seed, then fold.

    Example
    -------
    >>> import tempfile
    >>> experiment = tempfile.mkdtemp()
    >>> for key in ("seed2/fold1", "seed1/fold3", "seed1/fold1", "seed1/notes"):
    ...     os.makedirs(os.path.join(experiment, key))
    >>> [str(run) for run in run_folders(experiment)]
    ['fold 1 seed 1', 'fold 3 seed 1', 'fold 1 seed 2']
    """
    runs = {}
    if not os.path.isdir(experiment_folder):
        return runs
    for seed_name in os.listdir(experiment_folder):
        seed_match = _SEED_FOLDER.match(seed_name)
        seed_folder = os.path.join(experiment_folder, seed_name)
        if not seed_match or not os.path.isdir(seed_folder):
            continue
        for fold_name in os.listdir(seed_folder):
            fold_match = _FOLD_FOLDER.match(fold_name)
            if fold_match and os.path.isdir(os.path.join(seed_folder, fold_name)):
                run = FoldRun(fold=int(fold_match.group(1)), seed=int(seed_match.group(1)))
                runs[run] = os.path.join(seed_folder, fold_name)
    return dict(sorted(runs.items(), key=lambda item: (item[0].seed, item[0].fold)))


class StageFailure(RuntimeError):
    """One stage of one fold failed.

    Arguments
    ---------
    fold : FoldRun
    stage : str
    reason : str
    log : str
        The stage's console log, or None if it never started.
    """

    def __init__(self, fold, stage, reason, log=None):
        self.fold, self.stage, self.reason, self.log = fold, stage, reason, log
        super().__init__(f"{fold} {stage} failed: {reason}" + (f" (log: {log})" if log else ""))
