"""One experiment's stages on its folds and seeds, skipping what finished: ``FoldRunner``, which
``recipes/run_folds.py`` drives and each SLURM job of ``recipes/folds/slurm_jobs.py`` rebuilds for its stage.

Locally each stage runs as a subprocess (``recipes/folds/local_processes.py``) with the train script's own
command line, its settings recorded beside it (``run_folds.json``) and compared on a re-run; a finished identical
stage 1 of another experiment is linked, not retrained; a running stage reports its epochs
(``recipes/folds/stage_progress.py``); SIGINT and SIGTERM stop the stages cleanly. Then the fold summaries
(``recipes/reports/fold_summary.py``).

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import json
import logging
import os
import queue
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import ruamel.yaml
import yaml

from corpora import CorpusError
from corpora.folds import (
    PROTOCOL_NAMES,
    assign_folds,
    corpus_source,
    default_protocol,
    fold_numbers,
    read_corpus,
)
from custom_modules.constants import DEFAULT_SEED
from recipes import REPO
from recipes.folds.layout import RECORD_FILE, FoldRun, StageFailure
from recipes.folds.local_processes import ChildProcesses, device_slots
from recipes.folds.overrides import (
    args_from_overrides,
    merge_overrides,
    overrides_to_args,
    parse_override_args,
)
from recipes.folds.slurm_jobs import (
    JOBS_FOLDER,
    STOP_GRACE_SECONDS,
    StageJob,
    cancel,
    describe,
    is_live,
    job_failure,
    job_handle,
    read_jobs,
    record_job,
    slurm_state,
)
from recipes.folds.stage_progress import StageProgress
from recipes.reports.fold_summary import (
    SummaryError,
    experiment_stages,
    format_interval,
    format_mean_std,
    read_json,
    write_summary,
)

STAGE_SCRIPTS = {
    "stage1": ("train_stage1.py", "hparams/stage1.yaml"),
    "stage2": ("train_stage2.py", "hparams/stage2.yaml"),
}
FOLDS = (1, 2, 3, 4, 5)
# Set by run_folds.py itself from its own options (layout, fold, device): refused in --extra_args / --stageN_args.
RESERVED_OPTIONS = (
    "corpus",
    "data_folder",
    "manifest",
    "protocol",
    "n_folds",
    "fold_seed",
    "output_folder",
    "test_session",
    "test_fold",
    "seed",
    "stage1_folder",
    "wav2vec2_hub",
    "device",
    "distributed_backend",
)
# Where and on what a stage runs, not what it computes: left out of the settings compared between runs.
LOCATION_OPTIONS = ("output_folder", "stage1_folder", "device", "distributed_backend")
POLL_SECONDS = 2  # how often a running stage's files (or SLURM job) are looked at

logger = logging.getLogger("run_folds")


class RunFoldsError(ValueError):
    """The run cannot start as asked; the message says why and how to fix it."""


class Interrupted(Exception):
    """The run was stopped by a signal (its running stages were stopped cleanly).

    Arguments
    ---------
    signum : int
    on_slurm : bool
        The stages run as SLURM jobs (which keep running).
    """

    def __init__(self, signum, on_slurm=False):
        self.signum, self.on_slurm = signum, on_slurm
        super().__init__(signal.Signals(signum).name)


class FoldRunner:
    """Runs the stages of one experiment on several folds, skipping what finished, and summarises them.

    Arguments
    ---------
    experiment : str
        Name in the experiments file.
    entry : dict
        Its entry (``stage1`` and ``stage2`` overrides).
    data_folder : str
    output_folder : str
    folds : sequence of int
    wav2vec2_hub : str
        Backbone of both stages (None: the yaml's).
    extra_args : list of str
        Overrides for both stages.
    stage_args : dict
        Stage -> overrides for that stage only (applied last).
    devices : list of str
        See ``recipes.folds.local_processes.device_slots``.
    nproc_per_node : int
        See ``recipes.folds.local_processes.device_slots``.
    share_stage1 : bool
        Link a finished stage 1 with the same settings from another experiment of ``output_folder``.
    dry_run : bool
        Print what would run, run nothing.
    slurm : recipes.folds.slurm_jobs.SlurmOptions
        Run every stage as a SLURM job with these options (None: here, as subprocesses).
    slurm_no_wait : bool
        With ``slurm``: return once the jobs are submitted.
    progress_every : float
        Seconds between progress lines of a stage whose epoch lasts longer (a line comes with every epoch).

    Example
    -------
    >>> from recipes.reports.fold_summary import load_experiments
    >>> runner = FoldRunner("table3_concat_scl_cos", load_experiments()["table3_concat_scl_cos"], ".", "results",
    ...                     stage_args={"stage2": ["--number_of_epochs", "5"]})
    >>> overrides = runner.stage_overrides(FoldRun(fold=1, seed=1986), "stage2")
    >>> [overrides[key] for key in ("test_fold", "seed", "scl", "aux_tasks", "number_of_epochs")]
    ['1', '1986', 'cos', '[gender, style]', '5']
    >>> overrides["stage1_folder"].endswith(os.path.join("table3_concat_scl_cos", "seed1986", "fold1", "stage1"))
    True
    """

    def __init__(
        self,
        experiment,
        entry,
        data_folder,
        output_folder,
        folds=None,
        seeds=(DEFAULT_SEED,),
        corpus="iemocap",
        manifest=None,
        protocol=None,
        n_folds=5,
        fold_seed=DEFAULT_SEED,
        wav2vec2_hub=None,
        extra_args=(),
        stage_args=None,
        devices=None,
        nproc_per_node=1,
        share_stage1=True,
        dry_run=False,
        slurm=None,
        slurm_no_wait=False,
        progress_every=600.0,
    ):
        # What a SLURM job needs to build this runner for one of its stages (StageJob).
        self.options = {
            "experiment": experiment,
            "entry": entry,
            "data_folder": data_folder,
            "output_folder": output_folder,
            "folds": None if folds is None else list(folds),
            "corpus": corpus,
            "manifest": manifest,
            "protocol": protocol,
            "n_folds": n_folds,
            "fold_seed": fold_seed,
            "seeds": list(seeds),
            "wav2vec2_hub": wav2vec2_hub,
            "extra_args": list(extra_args),
            "stage_args": stage_args,
            "nproc_per_node": nproc_per_node,
            "share_stage1": share_stage1,
            "progress_every": progress_every,
        }
        self.experiment = experiment
        self.entry = entry
        self.stages = experiment_stages(entry)
        self.corpus = {
            "corpus": corpus,
            "data_folder": data_folder and os.path.abspath(data_folder),
            "manifest": manifest and os.path.abspath(manifest),
            "protocol": protocol,
            "n_folds": n_folds,
            "fold_seed": fold_seed,
        }
        self.output_folder = os.path.abspath(output_folder)
        if folds is None and corpus == "iemocap" and protocol in (None, "sessions"):
            folds = FOLDS
        # Every fold of the protocol unless --folds chose some (the corpus's annotations say which there are).
        self.folds = list(folds) if folds is not None else sorted(self.held_out_folds())
        self.seeds = list(seeds)
        if len(set(self.seeds)) != len(self.seeds):
            raise RunFoldsError(f"--seeds lists a seed twice: {self.seeds}.")
        self.runs = [FoldRun(fold, seed) for seed in self.seeds for fold in self.folds]
        # A local backbone folder is made absolute so the recorded settings do not depend on the working dir.
        self.wav2vec2_hub = (
            os.path.abspath(wav2vec2_hub) if wav2vec2_hub and os.path.isdir(wav2vec2_hub) else wav2vec2_hub
        )
        self.extra_args = list(extra_args)
        self.stage_args = {stage: list(args) for stage, args in (stage_args or {}).items()}
        self.nproc_per_node = nproc_per_node
        self.slots = device_slots(devices, nproc_per_node, os.environ.get("CUDA_VISIBLE_DEVICES"))
        cpu_slots = [slot for slot in self.slots if "cpu" in slot.run_options]
        if len(cpu_slots) > 1 and "OMP_NUM_THREADS" not in os.environ:
            # Folds side by side on the CPU would each start one thread per core and thrash (7 min instead of
            # ~3 for two tiny folds on 2 cores): share the cores out instead.
            threads = max(1, (os.cpu_count() or 1) // (len(cpu_slots) * nproc_per_node))
            for slot in cpu_slots:
                slot.env["OMP_NUM_THREADS"] = str(threads)
        self.share_stage1 = share_stage1
        self.dry_run = dry_run
        self.slurm = slurm
        self.slurm_no_wait = slurm_no_wait
        self.progress_every = progress_every
        self.children = ChildProcesses()
        self.stopping = threading.Event()  # set on SIGINT / SIGTERM: stages not started yet do not start
        self.interrupted = None  # the signal that stopped the run
        if slurm is not None and devices:
            raise RunFoldsError("With --launcher slurm, SLURM gives each job its GPUs: leave out --devices.")
        for name, args in [("--extra_args", self.extra_args)] + [
            (f"--{s}_args", a) for s, a in self.stage_args.items()
        ]:
            reserved = sorted(set(parse_override_args(args)) & set(RESERVED_OPTIONS))
            if reserved:
                raise RunFoldsError(
                    f"{name} sets {reserved}: use run_folds.py's own options (--data_folder, --folds, --seeds, "
                    "--devices ...)."
                )
        unknown = set(self.stage_args) - set(self.stages)
        if unknown:
            raise RunFoldsError(
                f"{experiment} is a single-stage experiment: {sorted(unknown)} overrides have nothing to apply to."
            )

    def held_out_folds(self):
        """Fold number -> what it holds out, under this run's corpus and protocol (``corpora.folds.fold_numbers``)."""
        options = {k: v for k, v in self.corpus.items() if k != "corpus"}
        return fold_numbers(self.corpus["corpus"], **options)[1]

    def check_corpus(self):
        """Checks the corpus before any fold loads a backbone and before anything is written (raises
        ``CorpusError``): its folder or manifest, that every fold of ``--folds`` is one of the protocol's, and
        that the corpus has every label the experiment's stages use as a task (and transcripts for asr).
        """
        corpus = self.corpus["corpus"]
        data = read_corpus(corpus, corpus_source(corpus, self.corpus["data_folder"], self.corpus["manifest"]))
        protocol = self.corpus["protocol"] or default_protocol(corpus, data.column_folds)
        _, held_out = assign_folds(data, protocol, self.corpus["n_folds"], self.corpus["fold_seed"])
        unknown = [fold for fold in self.folds if fold not in held_out]
        if unknown:
            raise CorpusError(
                f"--folds {' '.join(map(str, unknown))}: {data.title}'s protocol {protocol} "
                f"({PROTOCOL_NAMES[protocol]}) has folds {', '.join(map(str, sorted(held_out)))}."
            )
        # The corpus's auxiliary labels and its dimensions (arousal, ...): the tasks aux_tasks may name.
        labels = set(data.labels) - {"emo"} | set(data.dimensions)
        for stage in self.stages:
            overrides = self.stage_overrides(FoldRun(self.folds[0], self.seeds[0]), stage)
            tasks = yaml.safe_load(overrides["aux_tasks"]) if "aux_tasks" in overrides else default_aux_tasks(stage)
            missing = [t for t in tasks if t not in labels and not (t == "asr" and data.has_transcripts)]
            if missing:
                raise CorpusError(
                    f"{self.experiment} trains {stage} with {', '.join(missing)}, which {data.title} does not have "
                    f"(its labels and dimensions: {', '.join(sorted(labels)) or 'none'}; transcripts: "
                    f"{'yes' if data.has_transcripts else 'no'}): choose an experiment without it, or override "
                    f"--{stage}_args=--aux_tasks=[...]."
                )

    @property
    def experiment_folder(self):
        """``<output_folder>/<experiment>``."""
        return os.path.join(self.output_folder, self.experiment)

    def stage_folder(self, run, stage):
        """The ``--output_folder`` of one stage of one run (``FoldRun``)."""
        return os.path.join(self.experiment_folder, run.key, stage)

    def log_path(self, run, stage):
        """The console log of one stage of one run."""
        return os.path.join(self.experiment_folder, run.key, f"{stage}.log")

    def stage_overrides(self, run, stage):
        """Every override of one stage's command line: layout, fold and seed, the experiment's settings, the user's
        extras."""
        # The corpus's options where they are not the yaml's defaults (IEMOCAP's sessions: none but the folder).
        base = {key: str(value) for key, value in self.corpus.items() if value is not None}
        for key, default in (("corpus", "iemocap"), ("n_folds", "5"), ("fold_seed", str(DEFAULT_SEED))):
            if base.get(key) == default:
                del base[key]
        base.update(
            {
                "test_fold": str(run.fold),
                "seed": str(run.seed),
                "output_folder": self.stage_folder(run, stage),
            }
        )
        if self.wav2vec2_hub:
            base["wav2vec2_hub"] = self.wav2vec2_hub
        if stage == "stage2":
            base["stage1_folder"] = self.stage_folder(run, "stage1")
        return merge_overrides(
            args_from_overrides(base),
            overrides_to_args(self.entry[stage]),
            self.extra_args,
            self.stage_args.get(stage, []),
        )

    def stage_settings(self, run, stage):
        """What a stage computes (its overrides without where it runs): compared with the recorded settings."""
        settings = {
            "script": STAGE_SCRIPTS[stage][0],
            "hparams": STAGE_SCRIPTS[stage][1],
            "overrides": {k: v for k, v in self.stage_overrides(run, stage).items() if k not in LOCATION_OPTIONS},
            "nproc_per_node": self.nproc_per_node,
        }
        if stage == "stage2":
            # A stage 2 is only valid for the stage 1 it started from: retraining stage 1 invalidates it.
            stage1_record = read_json(os.path.join(self.stage_folder(run, "stage1"), RECORD_FILE)) or {}
            settings["stage1_finished"] = stage1_record.get("finished")
        return settings

    def command(self, run, stage, slot):
        """The command line of one stage of one run on a device slot."""
        script, hparams = STAGE_SCRIPTS[stage]
        launcher = [sys.executable]
        if self.nproc_per_node > 1:
            launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={self.nproc_per_node}"]
        return (
            launcher
            + [os.path.join(REPO, script), os.path.join(REPO, hparams)]
            + args_from_overrides(self.stage_overrides(run, stage))
            + list(slot.run_options)
        )

    def job_slot(self):
        """Where a stage runs inside its SLURM job: the job's GPUs, or its CPUs with ``gpus_per_node`` 0."""
        return device_slots(["cpu"] if self.slurm.gpus_per_node == 0 else None, self.nproc_per_node)[0]

    def report(self, run, stage, message):
        """One progress line."""
        logger.info("[%s] %s %s: %s", self.experiment, run, stage, message)

    def run_stage(self, run, stage, slot):
        """Runs one stage of one run unless it finished with the same settings; raises ``StageFailure``.

        Returns
        -------
        str
            ``skipped``, ``linked``, ``finished`` or ``dry run``.
        """
        outcome = self.prepare_stage(run, stage)
        if outcome is not None:
            return outcome
        command = self.command(run, stage, slot)
        if self.dry_run:
            self.report(run, stage, f"would run on {slot.name}: {shlex.join(command)}")
            return "dry run"
        return self.execute_stage(run, stage, slot, command)

    def prepare_stage(self, run, stage):
        """Everything before a stage runs: the settings check, the skip of a finished stage, the link to a shared
        stage 1. Returns ``skipped`` or ``linked`` (or ``dry run``) when there is nothing to run, else None;
        raises ``StageFailure``."""
        folder = self.stage_folder(run, stage)
        metrics_file = os.path.join(folder, "test_metrics.json")
        settings = self.stage_settings(run, stage)
        record = read_json(os.path.join(folder, RECORD_FILE))
        if record is not None and record.get("settings") != settings:
            raise StageFailure(run, stage, settings_difference(record.get("settings") or {}, settings, folder))
        if os.path.isfile(metrics_file):
            metrics = read_json(metrics_file)
            why = "test_metrics.json exists" + ("" if record else " (run outside run_folds.py: settings not checked)")
            self.report(
                run,
                stage,
                f"skipped, finished earlier: {why}; UA {metrics['UA']:.2f}, WA {metrics['WA']:.2f} "
                f"(delete {folder} to train it again)",
            )
            return "skipped"
        if os.path.islink(folder) and not os.path.exists(folder):
            os.unlink(folder)  # a shared stage 1 that was deleted since: train this fold's own
        if stage == "stage1" and self.share_stage1 and not os.path.exists(folder):
            shared = self.find_shared_stage1(run, settings)
            if shared:
                if self.dry_run:
                    self.report(run, stage, f"would link the finished stage 1 of {shared}")
                    return "dry run"
                os.makedirs(os.path.dirname(folder), exist_ok=True)
                os.symlink(os.path.relpath(shared, os.path.dirname(folder)), folder)
                self.report(
                    run,
                    stage,
                    f"linked to the finished stage 1 of {shared} (same settings; --no_shared_stage1 trains it again)",
                )
                return "linked"
        job = read_jobs(self.experiment_folder).get(f"{run.key}/{stage}")
        if job and os.environ.get("SLURM_JOB_ID") != job["job_id"] and is_live(slurm_state(job["job_id"])):
            raise StageFailure(
                run,
                stage,
                f"SLURM job {job['job_id']} runs this stage (squeue -j {job['job_id']}): wait for it, or scancel it "
                "and run again",
            )
        return None

    def execute_stage(self, run, stage, slot, command):
        """Runs a stage's command as a subprocess (its own process group), reporting its progress; raises
        ``StageFailure``."""
        folder = self.stage_folder(run, stage)
        metrics_file = os.path.join(folder, "test_metrics.json")
        log = self.log_path(run, stage)
        resuming = os.path.isdir(os.path.join(folder, "save"))
        self.report(run, stage, f"{'resuming' if resuming else 'running'} on {slot.name} (log: {log})")
        os.makedirs(folder, exist_ok=True)
        start = time.time()
        run_record = {
            "experiment": self.experiment,
            "fold": run.fold,
            "seed": run.seed,
            "stage": stage,
            "status": "running",
            "settings": self.stage_settings(run, stage),
            "command": command,
            "host": socket.gethostname(),
            "started": start,
        }
        if os.environ.get("SLURM_JOB_ID"):
            run_record["slurm_job_id"] = os.environ["SLURM_JOB_ID"]
        write_record(folder, run_record)
        progress = StageProgress(folder, start, self.progress_every)
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} run_folds.py runs: {shlex.join(command)}\n")
            handle.flush()
            process = self.children.start(command, handle, {**os.environ, **slot.env})
            if process is None:
                raise StageFailure(run, stage, "not started: the run was stopped", log)
            try:
                while True:
                    try:
                        returncode = process.wait(timeout=POLL_SECONDS)
                        break
                    except subprocess.TimeoutExpired:
                        line = progress.line()
                        if line:
                            self.report(run, stage, line)
            finally:
                self.children.forget(process)
        line = progress.line()  # the epochs recorded since the last look
        if line:
            self.report(run, stage, line)
        wall = time.time() - start
        if self.interrupted is not None or returncode in (-signal.SIGINT, -signal.SIGTERM, 130, 143):
            write_record(folder, {**run_record, "status": "interrupted"})
            how = signal.Signals(self.interrupted).name if self.interrupted else "a signal"
            raise StageFailure(run, stage, f"stopped by {how}; the same command resumes it", log)
        if returncode != 0:
            write_record(folder, {**run_record, "status": "failed"})
            raise StageFailure(
                run, stage, f"{STAGE_SCRIPTS[stage][0]} exited with code {returncode} after {wall:.0f} s", log
            )
        if not os.path.isfile(metrics_file):
            raise StageFailure(run, stage, f"{STAGE_SCRIPTS[stage][0]} ended without writing {metrics_file}", log)
        run_record.update(
            status="finished",
            finished=time.strftime("%Y-%m-%dT%H:%M:%S"),
            wall_s=round(wall, 1),  # of the run that finished the stage (a resumed stage: its last part)
        )
        write_record(folder, run_record)
        metrics = read_json(metrics_file)
        self.report(run, stage, f"finished in {wall:.0f} s: UA {metrics['UA']:.2f}, WA {metrics['WA']:.2f}")
        return "finished"

    def find_shared_stage1(self, run, settings):
        """A finished stage 1 of this run (fold and seed) with the same settings in another experiment of the
        output folder."""
        if not os.path.isdir(self.output_folder):
            return None
        for name in sorted(os.listdir(self.output_folder)):
            candidate = os.path.join(self.output_folder, name, run.key, "stage1")
            if name == self.experiment or os.path.islink(candidate):
                continue
            record = read_json(os.path.join(candidate, RECORD_FILE))
            if record and record.get("status") == "finished" and record.get("settings") == settings:
                if os.path.isfile(os.path.join(candidate, "test_metrics.json")):
                    return candidate
        return None

    def run_stages(self, run, slot):
        """Runs the stages of one run (``FoldRun``) in order; returns the failure, if any (later stages then do not
        run)."""
        for stage in self.stages:
            if self.stopping.is_set():
                return None
            try:
                self.run_stage(run, stage, slot)
            except StageFailure as failure:
                self.report(run, stage, f"FAILED: {failure.reason}" + (f" (log: {failure.log})" if failure.log else ""))
                return failure
            except OSError as error:
                failure = StageFailure(run, stage, f"{type(error).__name__}: {error}")
                self.report(run, stage, f"FAILED: {failure.reason}")
                return failure
        return None

    def run(self):
        """Runs every fold and seed (locally, in parallel over the device slots, or as SLURM jobs), then writes the
        summary.
        SIGINT or SIGTERM stops the running stages cleanly and raises ``Interrupted``.

        Returns
        -------
        list of StageFailure
        """
        where = f"SLURM jobs ({self.slurm.gpus_per_node} GPU(s) each)" if self.slurm else None
        logger.info(
            "[%s] %s Folds %s, seeds %s on %s; output: %s",
            self.experiment,
            self.entry.get("description", ""),
            " ".join(map(str, self.folds)),
            " ".join(map(str, self.seeds)),
            where or ", ".join(slot.name for slot in self.slots),
            self.experiment_folder,
        )
        with self.signals_stop_the_stages():
            failures = self.run_on_slurm() if self.slurm else self.run_here()
        if self.interrupted is not None:
            raise Interrupted(self.interrupted, bool(self.slurm))
        if not self.dry_run and not (self.slurm and self.slurm_no_wait):
            self.summarize()
        return failures

    def run_here(self):
        """Runs the folds as subprocesses of this process, one per device slot at a time."""
        free_slots = queue.Queue()
        for slot in self.slots:
            free_slots.put(slot)

        def run_on_a_free_slot(run):
            slot = free_slots.get()
            try:
                return self.run_stages(run, slot)
            finally:
                free_slots.put(slot)

        with ThreadPoolExecutor(max_workers=len(self.slots)) as pool:
            return [f for f in pool.map(run_on_a_free_slot, self.runs) if f is not None]

    @contextmanager
    def signals_stop_the_stages(self):
        """While running: SIGINT (Ctrl-C) or SIGTERM stop every running stage (the signal goes to each one's
        process group, and a stage still running after ``STOP_GRACE_SECONDS`` is killed); no other stage starts.
        A second signal kills them at once. SLURM jobs keep running: this process only stops watching them."""
        if threading.current_thread() is not threading.main_thread():
            yield  # signal handlers can only be set in the main thread (e.g. a runner used from a thread)
            return

        def stop(signum, frame):
            if self.interrupted is not None:
                self.children.stop(signal.SIGKILL)
                return
            self.interrupted = signum
            self.stopping.set()
            running = self.children.count()
            logger.info(
                "[%s] %s: %s",
                self.experiment,
                signal.Signals(signum).name,
                "stopping watching the SLURM jobs (they keep running)"
                if self.slurm
                else f"stopping {running} running stage(s); they resume from their last checkpoint when the same "
                "command runs again",
            )
            threading.Thread(target=self.children.stop, args=(signum, STOP_GRACE_SECONDS), daemon=True).start()

        previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def run_on_slurm(self):
        """Submits every stage that has to run as a SLURM job (stage 2 after its stage 1), then watches them until
        they end (unless ``slurm_no_wait``). Jobs of an earlier invocation still queued or running are watched,
        not submitted again.

        Returns
        -------
        list of StageFailure
            Of the stages that could not be submitted, and of the jobs that failed.
        """
        jobs_folder = os.path.join(self.experiment_folder, JOBS_FOLDER)
        failures, watched = [], {}
        for run in self.runs:
            after = None  # the job this run's next stage waits for
            for stage in self.stages:
                key = f"{run.key}/{stage}"
                earlier = read_jobs(self.experiment_folder).get(key)
                if earlier and is_live(state := slurm_state(earlier["job_id"])):
                    self.report(run, stage, f"already submitted as SLURM job {earlier['job_id']} ({state[0]})")
                    watched[(run, stage)] = job_handle(earlier["folder"], earlier["job_id"])
                    after = earlier["job_id"]
                    continue
                if after is None:  # a stage 2 waiting for its stage 1 is checked in its job, once stage 1 ended
                    try:
                        if self.prepare_stage(run, stage) is not None:
                            continue
                    except StageFailure as failure:
                        self.report(run, stage, f"FAILED: {failure.reason}")
                        failures.append(failure)
                        break
                job = StageJob(type(self), self.options, run, stage, self.slurm.gpus_per_node)
                executor = self.slurm.executor(jobs_folder)
                executor.update_parameters(
                    job_name=f"{self.experiment}-fold{run.fold}-seed{run.seed}-{stage}",
                    dependency=f"afterok:{after}" if after else None,
                )
                if self.dry_run:
                    command = shlex.join(self.command(run, stage, self.job_slot()))
                    self.report(run, stage, f"would submit a SLURM job running {command}")
                    after = after or "<stage 1 job>"
                    continue
                submitted = executor.submit(job)
                record_job(self.experiment_folder, key, submitted.job_id, jobs_folder + "/%j")
                self.report(
                    run,
                    stage,
                    f"submitted as SLURM job {submitted.job_id}"
                    + (f", to start after job {after}" if after else "")
                    + f" (its output: {submitted.paths.stdout})",
                )
                watched[(run, stage)] = submitted
                after = submitted.job_id
        if self.dry_run or not watched:
            return failures
        if self.slurm_no_wait:
            logger.info(
                "[%s] Submitted; not waiting (--no_wait). squeue -j %s shows them; the same command watches them "
                "and summarises when they end; --summarize summarises what finished.",
                self.experiment,
                ",".join(job.job_id for job in watched.values()),
            )
            return failures
        return failures + self.watch_jobs(watched)

    def watch_jobs(self, jobs):
        """Reports the state and progress of SLURM jobs until they end; a failed stage-1 job's stage-2 job is
        cancelled (it would wait forever on clusters that keep jobs whose dependency can never be met).

        Arguments
        ---------
        jobs : dict
            ``(run, stage)`` -> ``submitit.SlurmJob``.

        Returns
        -------
        list of StageFailure
        """
        states, progress, failures = {}, {}, []
        waiting = dict(jobs)
        while waiting and self.interrupted is None:
            for (run, stage), job in list(waiting.items()):
                if (run, stage) not in waiting:
                    continue  # cancelled above: its stage 1 failed
                state = slurm_state(job.job_id)
                if state != states.get((run, stage)):
                    states[(run, stage)] = state
                    self.report(run, stage, f"SLURM job {job.job_id}: {describe(state)}")
                record = read_json(os.path.join(self.stage_folder(run, stage), RECORD_FILE)) or {}
                if state and state[0] == "RUNNING" and record.get("status") == "running":
                    if progress.get((run, stage), (None,))[0] != record["started"]:  # a new (requeued) attempt
                        watcher = StageProgress(self.stage_folder(run, stage), record["started"], self.progress_every)
                        progress[(run, stage)] = (record["started"], watcher)
                    line = progress[(run, stage)][1].line()
                    if line:
                        self.report(run, stage, line)
                if is_live(state):
                    continue
                del waiting[(run, stage)]
                metrics = read_json(os.path.join(self.stage_folder(run, stage), "test_metrics.json"))
                if metrics is not None and record.get("status") == "finished":
                    self.report(
                        run,
                        stage,
                        f"finished in {record['wall_s']:.0f} s: UA {metrics['UA']:.2f}, WA {metrics['WA']:.2f}",
                    )
                    continue
                log = self.log_path(run, stage)
                log = log if os.path.isfile(log) else str(job.paths.stdout)
                failure = StageFailure(run, stage, f"SLURM job {job.job_id}: {job_failure(job, state)}", log)
                self.report(run, stage, f"FAILED: {failure.reason} (log: {failure.log})")
                failures.append(failure)
                for (other_run, other_stage), other in list(waiting.items()):
                    if other_run == run:
                        cancel(other.job_id)
                        self.report(other_run, other_stage, f"cancelled SLURM job {other.job_id}: {stage} failed")
                        del waiting[(other_run, other_stage)]
            if waiting:
                time.sleep(POLL_SECONDS)
        return failures

    def summarize(self):
        """Writes the summary of every finished run of the experiment (also runs of earlier invocations)."""
        try:
            summary = write_summary(self.experiment_folder, self.experiment, self.entry)
        except SummaryError as error:
            logger.info("[%s] no summary: %s", self.experiment, error)
            return None
        final = summary["final"]
        logger.info(
            "[%s] %s over folds %s, seeds %s: UA %s %s, WA %s (mean ± sample std, 95%% CI); pooled UA %.2f, WA %.2f; "
            "paper UA %s, WA %s. Summary: %s",
            self.experiment,
            summary["final_stage"],
            ", ".join(map(str, summary["folds"])),
            ", ".join(map(str, summary["seeds"])),
            format_mean_std(final["mean"]["UA"], final["std"]["UA"]),
            format_interval(final["ci95"].get("UA")),
            format_mean_std(final["mean"]["WA"], final["std"]["WA"]),
            final["pooled"]["UA"],
            final["pooled"]["WA"],
            (summary.get("paper") or {}).get("UA", "-"),
            (summary.get("paper") or {}).get("WA", "-"),
            os.path.join(self.experiment_folder, "summary.md"),
        )
        return summary


def write_record(folder, record):
    """Writes ``run_folds.json`` (a stage's settings, status and wall time) atomically."""
    path = os.path.join(folder, RECORD_FILE)
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2)
    os.replace(path + ".tmp", path)


def settings_difference(recorded, current, folder):
    """The message for a stage folder that holds a run with other settings than asked.

    Example
    -------
    >>> print(settings_difference({"overrides": {"lr": "1"}}, {"overrides": {"lr": "2"}}, "out/fold1/stage1"))
    out/fold1/stage1 holds a run with other settings (lr: 1 there, 2 now). Use another --output_folder,
    or delete out/fold1/stage1 to train it again with the new settings.
    """
    differences = []
    old, new = recorded.get("overrides", {}), current.get("overrides", {})
    for key in sorted(set(old) | set(new)):
        if old.get(key, "<unset>") != new.get(key, "<unset>"):
            differences.append(f"{key}: {old.get(key, '<unset>')} there, {new.get(key, '<unset>')} now")
    for key in sorted((set(recorded) | set(current)) - {"overrides"}):
        if recorded.get(key) != current.get(key):
            differences.append(f"{key}: {recorded.get(key)} there, {current.get(key)} now")
    return (
        f"{folder} holds a run with other settings ({'; '.join(differences)}). Use another --output_folder, or "
        f"delete {folder} to train it again with the new settings."
    )


def default_aux_tasks(stage):
    """The auxiliary tasks a stage's yaml trains when the experiment does not say (``hparams/stageN.yaml``)."""
    with open(os.path.join(REPO, STAGE_SCRIPTS[stage][1]), encoding="utf-8") as handle:
        return list(ruamel.yaml.YAML(typ="rt").load(handle)["aux_tasks"])
