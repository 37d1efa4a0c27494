"""Every (fold, stage) of ``recipes/run_folds.py`` as a SLURM job, through submitit.

A job runs exactly what ``run_folds.py`` runs locally for that stage (``FoldRunner.run_stage``: the settings
check, the skip of a finished stage, the train script's command line, its log beside the stage), on the node
SLURM gives it, so the output folder must be on a file system the nodes share. A stage-2 job starts only after
its stage-1 job succeeded (``--dependency=afterok``). A job that reaches its time limit or is preempted gets
SLURM's warning signal (USR2, ``signal_delay_s`` before the end); submitit then calls ``StageJob.checkpoint``,
which stops the training cleanly and resubmits the same job, and the requeued job resumes the stage from its
last checkpoint, as a re-run does locally (at most ``max_requeues`` times).

The jobs submitted for an experiment are listed in ``<experiment folder>/slurm_jobs.json``: a later
``run_folds.py`` watches the ones still queued or running instead of submitting them again. Job states are read
with ``squeue``, which works on clusters without SLURM accounting (``sacct``).

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import submitit
from submitit.core.utils import pickle_load
from submitit.helpers import Checkpointable

from recipes.folds.layout import StageFailure

JOBS_FILE = "slurm_jobs.json"
JOBS_FOLDER = "slurm"  # submitit's files (the pickled job, its stdout and stderr) under <experiment folder>
# States in which a job will not run again (squeue --states=all lists them for MinJobAge after the end).
ENDED_STATES = {
    "BOOT_FAIL",
    "CANCELLED",
    "COMPLETED",
    "DEADLINE",
    "FAILED",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "PREEMPTED",
    "SPECIAL_EXIT",
    "TIMEOUT",
}
STOP_GRACE_SECONDS = 60  # a stage told to stop gets this long before it is killed


@dataclass
class SlurmOptions:
    """What each job asks SLURM for (``run_folds.py --launcher slurm`` options).

    Arguments
    ---------
    partition, account, qos : str
        ``--partition``, ``--account``, ``--qos`` (None: the cluster's default).
    time_min : int
        Time limit of a job in minutes; a stage that needs longer is requeued and resumes.
    gpus_per_node : int
        GPUs per job (0: the stage runs on the CPU).
    cpus_per_task : int
    mem_gb : float
        Memory per job (None: the cluster's default).
    setup : list of str
        Shell lines run before the job (``module load ...``, ``source venv/bin/activate``).
    max_requeues : int
        How many times a job that reached its time limit is requeued.
    signal_delay_s : int
        How long before the time limit SLURM warns the job.
    """

    partition: str = None
    account: str = None
    qos: str = None
    time_min: int = 24 * 60
    gpus_per_node: int = 1
    cpus_per_task: int = 8
    mem_gb: float = None
    setup: list = field(default_factory=list)
    max_requeues: int = 10
    signal_delay_s: int = 120

    def executor(self, folder):
        """A submitit ``SlurmExecutor`` writing into ``folder/<job id>``, with these options.

        Example
        -------
        >>> import tempfile
        >>> executor = SlurmOptions(partition="gpu", time_min=60, gpus_per_node=2, mem_gb=32).executor(
        ...     tempfile.mkdtemp())
        >>> {k: executor.parameters[k] for k in ("partition", "time", "gpus_per_node", "mem", "cpus_per_task")}
        {'partition': 'gpu', 'time': 60, 'gpus_per_node': 2, 'mem': '32GB', 'cpus_per_task': 8}
        """
        executor = submitit.SlurmExecutor(folder=os.path.join(folder, "%j"), max_num_timeout=self.max_requeues)
        parameters = {
            "time": self.time_min,
            "cpus_per_task": self.cpus_per_task,
            "signal_delay_s": self.signal_delay_s,
            "setup": list(self.setup),
            "stderr_to_stdout": True,
        }
        if self.gpus_per_node:
            parameters["gpus_per_node"] = self.gpus_per_node
        for name in ("partition", "account", "qos"):
            if getattr(self, name):
                parameters[name] = getattr(self, name)
        if self.mem_gb:
            parameters["mem"] = f"{self.mem_gb:g}GB"
        executor.update_parameters(**parameters)
        return executor


class StageJobFailed(RuntimeError):
    """The stage of a job failed; the message says why (its log is the stage's, as in a local run)."""


class StageJob(Checkpointable):
    """One stage of one fold, run in a SLURM job by ``FoldRunner.run_stage``.

    Arguments
    ---------
    runner_class : type
        ``recipes.folds.runner.FoldRunner``, given by the runner that submits the job (pickled by reference, so
        this module needs no import of the runner that imports it).
    runner_options : dict
        The ``FoldRunner`` arguments of the experiment (``FoldRunner.options``).
    fold : int
    stage : str
    gpus_per_node : int
        0: the stage runs on the CPU (``--device cpu``); otherwise on the job's GPUs.
    """

    def __init__(self, runner_class, runner_options, fold, stage, gpus_per_node):
        self.runner_class, self.runner_options = runner_class, runner_options
        self.fold, self.stage, self.gpus_per_node = fold, stage, gpus_per_node
        self._runner = None

    def __call__(self):
        """Runs the stage; returns ``FoldRunner.run_stage``'s outcome, raises ``StageJobFailed`` if it fails."""
        # run_folds' lines in the job's output (submitit's own logger already prints there)
        run_folds_logger = logging.getLogger("run_folds")
        if not run_folds_logger.handlers:
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(logging.Formatter("%(asctime)s run_folds - %(message)s", "%H:%M:%S"))
            run_folds_logger.addHandler(handler)
            run_folds_logger.setLevel(logging.INFO)
            run_folds_logger.propagate = False
        self._runner = self.runner_class(**self.runner_options, devices=["cpu"] if self.gpus_per_node == 0 else None)
        try:
            return self._runner.run_stage(self.fold, self.stage, self._runner.slots[0])
        except StageFailure as failure:
            raise StageJobFailed(failure.reason) from None  # the job fails: its dependent stage 2 never starts

    def checkpoint(self, *args, **kwargs):
        """Stops the training (it resumes from its last checkpoint) and resubmits this job unchanged."""
        if self._runner is not None:
            self._runner.children.stop(signal.SIGTERM, grace=STOP_GRACE_SECONDS)
        return super().checkpoint(*args, **kwargs)

    def __getstate__(self):
        return {**self.__dict__, "_runner": None}  # the runner holds processes and locks: rebuilt in the job


def slurm_state(job_id):
    """``(state, reason)`` of a job as ``squeue`` sees it, or None if SLURM no longer knows it (or has no
    ``squeue`` here).

    Arguments
    ---------
    job_id : str

    Returns
    -------
    tuple of str or None
    """
    if shutil.which("squeue") is None:
        return None
    done = subprocess.run(
        ["squeue", "--noheader", "--states=all", "--jobs", str(job_id), "--format=%T|%r"],
        capture_output=True,
        text=True,
    )
    lines = done.stdout.strip().splitlines() if done.returncode == 0 else []
    if not lines:
        return None
    state, _, reason = lines[0].partition("|")
    return state, reason


def describe(state):
    """A job's state for a progress line.

    Example
    -------
    >>> describe(("PENDING", "Dependency")), describe(("RUNNING", "None")), describe(None)
    ('PENDING (Dependency)', 'RUNNING', 'ended')
    """
    if state is None:
        return "ended"
    return state[0] + (f" ({state[1]})" if state[1] and state[1] != "None" else "")


def is_live(state):
    """Whether a job in ``state`` (``slurm_state``'s answer) is queued or running: it may still run the stage.

    Example
    -------
    >>> is_live(("PENDING", "Dependency")), is_live(("COMPLETED", "None")), is_live(None)
    (True, False, False)
    """
    return state is not None and state[0] not in ENDED_STATES


def cancel(job_id):
    """Cancels a job (nothing if it ended)."""
    subprocess.run(["scancel", str(job_id)], capture_output=True)


def job_handle(folder, job_id):
    """The submitit handle of an earlier job (its result file, stdout)."""
    return submitit.SlurmJob(folder=folder, job_id=str(job_id))


def job_failure(job, state):
    """Why a job ended without finishing its stage: its error as submitit recorded it, or SLURM's state.

    Arguments
    ---------
    job : submitit.SlurmJob
    state : tuple or None
        ``slurm_state`` of the ended job.

    Returns
    -------
    str
    """
    if job.paths.result_pickle.exists():
        outcome, result = pickle_load(job.paths.result_pickle)  # what submitit's Job.result() reads
        if outcome == "error":  # the job's traceback, as text: its last line is the exception
            last = [line.strip() for line in result.strip().splitlines() if line.strip()][-1]
            return last.split(f"{StageJobFailed.__name__}: ", 1)[-1]
    if state is None:
        return "the job ended without a result (no longer known to squeue)"
    return f"the job ended as {describe(state)}"


def read_jobs(experiment_folder):
    """The jobs file of an experiment: ``{"fold<K>/<stage>": {"job_id", "folder", "submitted"}}``."""
    path = os.path.join(experiment_folder, JOBS_FILE)
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def record_job(experiment_folder, key, job_id, folder):
    """Adds a submitted job to the jobs file (atomically)."""
    jobs = read_jobs(experiment_folder)
    jobs[key] = {"job_id": str(job_id), "folder": folder, "submitted": time.strftime("%Y-%m-%dT%H:%M:%S")}
    path = os.path.join(experiment_folder, JOBS_FILE)
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(jobs, handle, indent=2)
    os.replace(path + ".tmp", path)
