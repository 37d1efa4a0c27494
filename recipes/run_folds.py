#!/usr/bin/env python3
"""Runs an experiment of ``recipes/experiments.yaml`` (a row of the paper's Tables 1-3) on the five
leave-one-session-out folds of IEMOCAP, and summarises it.

For each fold, stage 1 (``train_stage1.py``) and, for two-stage experiments, stage 2 (``train_stage2.py``) run
as subprocesses, with the same command lines a user would type, into::

    <output_folder>/<experiment>/fold<K>/stage1        stage1.log: the stage's console output
    <output_folder>/<experiment>/fold<K>/stage2        stage2.log

Then ``recipes/fold_summary.py`` writes ``<output_folder>/<experiment>/summary.{json,md}`` (per fold, mean ±
sample std over folds, pooled UA / WA; WER, gender and style UA where present; stage 1's results too),
``confusion_matrix.png`` and ``training_curves.png``.

To run the paper's best system (Table 3, concat + SCL_cos) on all five folds::

    python recipes/run_folds.py --experiment table3_concat_scl_cos \\
        --data_folder /path/to/IEMOCAP_full_release --output_folder results/folds

    python recipes/run_folds.py --list                                    # the paper's rows
    python recipes/run_folds.py --compare --output_folder results/folds   # every experiment next to the paper

Options: ``--folds 1 3``; ``--wav2vec2_hub`` (both stages); ``--extra_args "--seed 7"`` (both stages),
``--stage1_args "--number_of_epochs 100"``, ``--stage2_args ...`` (overrides of the yaml or SpeechBrain run
options; use ``--stage1_args=--debug`` for a value without spaces); ``--devices cuda:0 cuda:1`` spreads folds
over devices (one fold per device at a time, each stage with its own ``--device``); ``--nproc_per_node N``
runs each stage with ``python -m torch.distributed.run`` (SpeechBrain's DDP; ``--devices`` then come in groups
of N, or ``cpu`` with the gloo backend); ``--dry_run`` prints the commands.

Re-running the same command skips every stage that finished (its ``test_metrics.json`` exists) and resumes an
interrupted one from its checkpoints. The settings of each stage are recorded beside it (``run_folds.json``);
running again with other settings into the same folder stops with the differences instead of mixing them.
Experiments whose stage 1 is the same (Table 1's full SER + ASR, Table 2 settings 2-3, Table 3) train it once
per fold: a finished identical stage 1 of another experiment in the same output folder is linked, not retrained
(``--no_shared_stage1`` trains it again). A failing fold/stage is reported with its log; the other folds go on
and are summarised.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import argparse
import json
import logging
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from iemocap_prepare import IEMOCAPError, check_corpus
from recipes.fold_summary import (
    EXPERIMENTS_FILE,
    RECORD_FILE,
    SummaryError,
    experiment_stages,
    format_mean_std,
    load_experiments,
    read_json,
    write_comparison,
    write_summary,
)
from recipes.overrides import (
    OverrideError,
    args_from_overrides,
    merge_overrides,
    overrides_to_args,
    parse_override_args,
)

# The train scripts run from the repository root (recipes/ is one level down).
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGE_SCRIPTS = {
    "stage1": ("train_stage1.py", "hparams/stage1.yaml"),
    "stage2": ("train_stage2.py", "hparams/stage2.yaml"),
}
FOLDS = (1, 2, 3, 4, 5)
DEFAULT_EXPERIMENT = "table3_concat_scl_cos"
# Set by run_folds.py itself from its own options (layout, fold, device): refused in --extra_args / --stageN_args.
RESERVED_OPTIONS = (
    "data_folder",
    "output_folder",
    "test_session",
    "stage1_folder",
    "wav2vec2_hub",
    "device",
    "distributed_backend",
)
# Where and on what a stage runs, not what it computes: left out of the settings compared between runs.
LOCATION_OPTIONS = ("output_folder", "stage1_folder", "device", "distributed_backend")
LOG_TAIL_LINES = 15

logger = logging.getLogger("run_folds")


class RunFoldsError(ValueError):
    """The run cannot start as asked; the message says why and how to fix it."""


class StageFailure(RuntimeError):
    """One stage of one fold failed.

    Arguments
    ---------
    fold : int
    stage : str
    reason : str
    log : str
        The stage's console log, or None if it never started.
    """

    def __init__(self, fold, stage, reason, log=None):
        self.fold, self.stage, self.reason, self.log = fold, stage, reason, log
        super().__init__(f"fold {fold} {stage} failed: {reason}" + (f" (log: {log})" if log else ""))


@dataclass
class DeviceSlot:
    """Where a fold runs: a name for the progress lines, run options for the train scripts, environment."""

    name: str
    run_options: list = field(default_factory=list)
    env: dict = field(default_factory=dict)


def device_slots(devices=None, nproc_per_node=1, visible_devices=None):
    """The places folds run in parallel: one slot per device, or per group of ``nproc_per_node`` GPUs (DDP).

    Arguments
    ---------
    devices : list of str
        ``cpu``, ``cuda``, ``cuda:<index>``; None: the train scripts' own choice (SpeechBrain: cuda:0 if
        available, else cpu). A device listed twice runs two folds on it at once.
    nproc_per_node : int
        DDP processes per stage. With more than one, ``cuda:<index>`` devices are grouped in that order and each
        group is made the visible devices of its fold (``CUDA_VISIBLE_DEVICES``, nccl); ``cpu`` uses gloo.
    visible_devices : str
        The ``CUDA_VISIBLE_DEVICES`` of this process, so that ``cuda:<index>`` means the same device in the
        children as here.

    Returns
    -------
    list of DeviceSlot

    Example
    -------
    >>> [slot.run_options for slot in device_slots(["cuda:0", "cuda:1"])]
    [['--device', 'cuda:0'], ['--device', 'cuda:1']]
    >>> [(slot.name, slot.env) for slot in device_slots(["cuda:0", "cuda:1", "cuda:2", "cuda:3"], 2, "4,5,6,7")]
    [('cuda:0+cuda:1', {'CUDA_VISIBLE_DEVICES': '4,5'}), ('cuda:2+cuda:3', {'CUDA_VISIBLE_DEVICES': '6,7'})]
    >>> device_slots(["cpu"], 2)[0].run_options
    ['--device', 'cpu', '--distributed_backend', 'gloo']
    """
    if nproc_per_node < 1:
        raise RunFoldsError(f"--nproc_per_node must be at least 1 (got {nproc_per_node}).")
    if nproc_per_node == 1:
        if not devices:
            return [DeviceSlot("the default device")]
        return [DeviceSlot(device, ["--device", device]) for device in devices]
    if not devices:
        import torch

        devices = ["cuda"] if torch.cuda.is_available() else ["cpu"]
    if all(device == "cpu" for device in devices):
        return [
            DeviceSlot(f"cpu ({nproc_per_node} processes)", ["--device", "cpu", "--distributed_backend", "gloo"])
            for _ in devices
        ]
    if list(devices) == ["cuda"]:
        return [DeviceSlot(f"{nproc_per_node} visible GPUs", ["--distributed_backend", "nccl"])]
    indices = []
    for device in devices:
        kind, _, index = device.partition(":")
        if kind != "cuda" or not index.isdigit():
            raise RunFoldsError(
                f"With --nproc_per_node {nproc_per_node}, --devices are cpu, cuda, or cuda:<index> GPUs (got {device})."
            )
        indices.append(int(index))
    if len(indices) % nproc_per_node:
        raise RunFoldsError(
            f"--devices lists {len(indices)} GPUs: not a multiple of --nproc_per_node {nproc_per_node}."
        )
    visible = visible_devices.split(",") if visible_devices else None
    slots = []
    for start in range(0, len(indices), nproc_per_node):
        group = indices[start : start + nproc_per_node]
        if visible and max(group) >= len(visible):
            raise RunFoldsError(f"cuda:{max(group)} is not among CUDA_VISIBLE_DEVICES={visible_devices}.")
        physical = [visible[i] if visible else str(i) for i in group]
        slots.append(
            DeviceSlot(
                "+".join(f"cuda:{i}" for i in group),
                ["--distributed_backend", "nccl"],
                {"CUDA_VISIBLE_DEVICES": ",".join(physical)},
            )
        )
    return slots


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
        See ``device_slots``.
    nproc_per_node : int
        See ``device_slots``.
    share_stage1 : bool
        Link a finished stage 1 with the same settings from another experiment of ``output_folder``.
    dry_run : bool
        Print what would run, run nothing.

    Example
    -------
    >>> runner = FoldRunner("table3_concat_scl_cos", load_experiments()["table3_concat_scl_cos"], ".", "results",
    ...                     stage_args={"stage2": ["--number_of_epochs", "5"]})
    >>> overrides = runner.stage_overrides(1, "stage2")
    >>> overrides["test_session"], overrides["scl"], overrides["aux_tasks"], overrides["number_of_epochs"]
    ('1', 'cos', '[gender, style]', '5')
    >>> overrides["stage1_folder"].endswith(os.path.join("results", "table3_concat_scl_cos", "fold1", "stage1"))
    True
    """

    def __init__(
        self,
        experiment,
        entry,
        data_folder,
        output_folder,
        folds=FOLDS,
        wav2vec2_hub=None,
        extra_args=(),
        stage_args=None,
        devices=None,
        nproc_per_node=1,
        share_stage1=True,
        dry_run=False,
    ):
        self.experiment = experiment
        self.entry = entry
        self.stages = experiment_stages(entry)
        self.data_folder = os.path.abspath(data_folder)
        self.output_folder = os.path.abspath(output_folder)
        self.folds = list(folds)
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
        self.stopping = threading.Event()  # set on Ctrl-C: folds still waiting for a device do not start
        for name, args in [("--extra_args", self.extra_args)] + [
            (f"--{s}_args", a) for s, a in self.stage_args.items()
        ]:
            reserved = sorted(set(parse_override_args(args)) & set(RESERVED_OPTIONS))
            if reserved:
                raise RunFoldsError(
                    f"{name} sets {reserved}: use run_folds.py's own options (--data_folder, --folds, --devices ...)."
                )
        unknown = set(self.stage_args) - set(self.stages)
        if unknown:
            raise RunFoldsError(
                f"{experiment} is a single-stage experiment: {sorted(unknown)} overrides have nothing to apply to."
            )

    @property
    def experiment_folder(self):
        """``<output_folder>/<experiment>``."""
        return os.path.join(self.output_folder, self.experiment)

    def stage_folder(self, fold, stage):
        """The ``--output_folder`` of one stage of one fold."""
        return os.path.join(self.experiment_folder, f"fold{fold}", stage)

    def log_path(self, fold, stage):
        """The console log of one stage of one fold."""
        return os.path.join(self.experiment_folder, f"fold{fold}", f"{stage}.log")

    def stage_overrides(self, fold, stage):
        """Every override of one stage's command line: layout, the experiment's settings, the user's extras."""
        base = {
            "data_folder": self.data_folder,
            "test_session": str(fold),
            "output_folder": self.stage_folder(fold, stage),
        }
        if self.wav2vec2_hub:
            base["wav2vec2_hub"] = self.wav2vec2_hub
        if stage == "stage2":
            base["stage1_folder"] = self.stage_folder(fold, "stage1")
        return merge_overrides(
            args_from_overrides(base),
            overrides_to_args(self.entry[stage]),
            self.extra_args,
            self.stage_args.get(stage, []),
        )

    def stage_settings(self, fold, stage):
        """What a stage computes (its overrides without where it runs): compared with the recorded settings."""
        settings = {
            "script": STAGE_SCRIPTS[stage][0],
            "hparams": STAGE_SCRIPTS[stage][1],
            "overrides": {k: v for k, v in self.stage_overrides(fold, stage).items() if k not in LOCATION_OPTIONS},
            "nproc_per_node": self.nproc_per_node,
        }
        if stage == "stage2":
            # A stage 2 is only valid for the stage 1 it started from: retraining stage 1 invalidates it.
            stage1_record = read_json(os.path.join(self.stage_folder(fold, "stage1"), RECORD_FILE)) or {}
            settings["stage1_finished"] = stage1_record.get("finished")
        return settings

    def command(self, fold, stage, slot):
        """The command line of one stage of one fold on a device slot."""
        script, hparams = STAGE_SCRIPTS[stage]
        launcher = [sys.executable]
        if self.nproc_per_node > 1:
            launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={self.nproc_per_node}"]
        return (
            launcher
            + [os.path.join(REPO, script), os.path.join(REPO, hparams)]
            + args_from_overrides(self.stage_overrides(fold, stage))
            + list(slot.run_options)
        )

    def report(self, fold, stage, message):
        """One progress line."""
        logger.info("[%s] fold %s %s: %s", self.experiment, fold, stage, message)

    def run_stage(self, fold, stage, slot):
        """Runs one stage of one fold unless it finished with the same settings; raises ``StageFailure``.

        Returns
        -------
        str
            ``skipped``, ``linked``, ``finished`` or ``dry run``.
        """
        folder = self.stage_folder(fold, stage)
        metrics_file = os.path.join(folder, "test_metrics.json")
        settings = self.stage_settings(fold, stage)
        record = read_json(os.path.join(folder, RECORD_FILE))
        if record is not None and record.get("settings") != settings:
            raise StageFailure(fold, stage, settings_difference(record.get("settings") or {}, settings, folder))
        if os.path.isfile(metrics_file):
            metrics = read_json(metrics_file)
            why = "test_metrics.json exists" + ("" if record else " (run outside run_folds.py: settings not checked)")
            self.report(
                fold,
                stage,
                f"skipped, finished earlier: {why}; UA {metrics['UA']:.2f}, WA {metrics['WA']:.2f} "
                f"(delete {folder} to train it again)",
            )
            return "skipped"
        if os.path.islink(folder) and not os.path.exists(folder):
            os.unlink(folder)  # a shared stage 1 that was deleted since: train this fold's own
        if stage == "stage1" and self.share_stage1 and not os.path.exists(folder):
            shared = self.find_shared_stage1(fold, settings)
            if shared:
                if self.dry_run:
                    self.report(fold, stage, f"would link the finished stage 1 of {shared}")
                    return "dry run"
                os.makedirs(os.path.dirname(folder), exist_ok=True)
                os.symlink(os.path.relpath(shared, os.path.dirname(folder)), folder)
                self.report(
                    fold,
                    stage,
                    f"linked to the finished stage 1 of {shared} (same settings; --no_shared_stage1 trains it again)",
                )
                return "linked"
        command = self.command(fold, stage, slot)
        log = self.log_path(fold, stage)
        if self.dry_run:
            self.report(fold, stage, f"would run on {slot.name}: {shlex.join(command)}")
            return "dry run"
        resuming = os.path.isdir(os.path.join(folder, "save"))
        self.report(fold, stage, f"{'resuming' if resuming else 'running'} on {slot.name} (log: {log})")
        os.makedirs(folder, exist_ok=True)
        run_record = {
            "experiment": self.experiment,
            "fold": fold,
            "stage": stage,
            "status": "running",
            "settings": settings,
            "command": command,
        }
        write_record(folder, run_record)
        start = time.time()
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} run_folds.py runs: {shlex.join(command)}\n")
            handle.flush()
            done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, **slot.env})
        wall = time.time() - start
        if done.returncode in (-signal.SIGINT, 130):
            raise StageFailure(fold, stage, "interrupted (Ctrl-C); the same command resumes it", log)
        if done.returncode != 0:
            raise StageFailure(
                fold, stage, f"{STAGE_SCRIPTS[stage][0]} exited with code {done.returncode} after {wall:.0f} s", log
            )
        if not os.path.isfile(metrics_file):
            raise StageFailure(fold, stage, f"{STAGE_SCRIPTS[stage][0]} ended without writing {metrics_file}", log)
        run_record.update(
            status="finished",
            finished=time.strftime("%Y-%m-%dT%H:%M:%S"),
            wall_s=round(wall, 1),  # of the run that finished the stage (a resumed stage: its last part)
        )
        write_record(folder, run_record)
        metrics = read_json(metrics_file)
        self.report(fold, stage, f"finished in {wall:.0f} s: UA {metrics['UA']:.2f}, WA {metrics['WA']:.2f}")
        return "finished"

    def find_shared_stage1(self, fold, settings):
        """A finished stage 1 of this fold with the same settings in another experiment of the output folder."""
        if not os.path.isdir(self.output_folder):
            return None
        for name in sorted(os.listdir(self.output_folder)):
            candidate = os.path.join(self.output_folder, name, f"fold{fold}", "stage1")
            if name == self.experiment or os.path.islink(candidate):
                continue
            record = read_json(os.path.join(candidate, RECORD_FILE))
            if record and record.get("status") == "finished" and record.get("settings") == settings:
                if os.path.isfile(os.path.join(candidate, "test_metrics.json")):
                    return candidate
        return None

    def run_fold(self, fold, slot):
        """Runs the stages of one fold in order; returns the failure, if any (later stages then do not run)."""
        for stage in self.stages:
            if self.stopping.is_set():
                return None
            try:
                self.run_stage(fold, stage, slot)
            except StageFailure as failure:
                self.report(
                    fold, stage, f"FAILED: {failure.reason}" + (f" (log: {failure.log})" if failure.log else "")
                )
                return failure
            except OSError as error:
                failure = StageFailure(fold, stage, f"{type(error).__name__}: {error}")
                self.report(fold, stage, f"FAILED: {failure.reason}")
                return failure
        return None

    def run(self):
        """Runs every fold (in parallel over the device slots), then writes the summary.

        Returns
        -------
        list of StageFailure
        """
        # The corpus is checked once, before any fold loads a backbone: the train scripts' check and messages.
        for fold in self.folds:
            check_corpus(self.data_folder, fold)
        logger.info(
            "[%s] %s Folds %s on %s; output: %s",
            self.experiment,
            self.entry.get("description", ""),
            " ".join(map(str, self.folds)),
            ", ".join(slot.name for slot in self.slots),
            self.experiment_folder,
        )
        free_slots = queue.Queue()
        for slot in self.slots:
            free_slots.put(slot)

        def run_on_a_free_slot(fold):
            slot = free_slots.get()
            try:
                return self.run_fold(fold, slot)
            finally:
                free_slots.put(slot)

        try:
            with ThreadPoolExecutor(max_workers=len(self.slots)) as pool:
                failures = [f for f in pool.map(run_on_a_free_slot, self.folds) if f is not None]
        except KeyboardInterrupt:
            # The running stages got the Ctrl-C too; the pool waits for them, and no other stage starts.
            self.stopping.set()
            raise
        if not self.dry_run:
            self.summarize()
        return failures

    def summarize(self):
        """Writes the summary of every finished fold of the experiment (also folds of earlier invocations)."""
        try:
            summary = write_summary(self.experiment_folder, self.experiment, self.entry)
        except SummaryError as error:
            logger.info("[%s] no summary: %s", self.experiment, error)
            return None
        final = summary["final"]
        logger.info(
            "[%s] %s over folds %s: UA %s, WA %s (mean ± sample std); pooled UA %.2f, WA %.2f; paper UA %s, WA %s. "
            "Summary: %s",
            self.experiment,
            summary["final_stage"],
            ", ".join(map(str, summary["folds"])),
            format_mean_std(final["mean"]["UA"], final["std"]["UA"]),
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


def list_experiments(experiments):
    """The experiments file as a table (``--list``)."""
    lines = [f"{'experiment':34} {'stages':6} {'paper UA':>8} {'paper WA':>8}  paper table: row"]
    for name, entry in experiments.items():
        paper = entry.get("paper") or {}
        ua, wa = (f"{paper[k]:.2f}" if k in paper else "" for k in ("UA", "WA"))
        lines.append(
            f"{name:34} {len(experiment_stages(entry)):<6} {ua:>8} {wa:>8}  "
            f"{entry.get('table', '')}: {entry.get('row', '')}"
        )
    return "\n".join(lines)


def parse_args(argv=None):
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description="Run a paper row (recipes/experiments.yaml) on IEMOCAP's leave-one-session-out folds "
        "and summarise it.",
        epilog="Overrides containing no space need the = form: --stage1_args=--debug",
    )
    parser.add_argument(
        "--experiment", default=DEFAULT_EXPERIMENT, help="row of the experiments file (default: %(default)s)"
    )
    parser.add_argument("--data_folder", help="IEMOCAP_full_release, or the folder containing it")
    parser.add_argument(
        "--output_folder", default="results/folds", help="runs go to <output_folder>/<experiment>/fold<K>/stage<N>"
    )
    parser.add_argument(
        "--folds", nargs="+", type=int, choices=FOLDS, default=list(FOLDS), help="held-out sessions (default: all)"
    )
    parser.add_argument(
        "--wav2vec2_hub", help="backbone of both stages: hub id or local folder (default: the yaml's, XLS-R 300m)"
    )
    parser.add_argument("--extra_args", default="", help='overrides for both stages, e.g. "--seed 7 --batch_size 8"')
    parser.add_argument("--stage1_args", default="", help='overrides for stage 1 only, e.g. "--number_of_epochs 100"')
    parser.add_argument("--stage2_args", default="", help="overrides for stage 2 only")
    parser.add_argument(
        "--devices",
        nargs="+",
        help="e.g. cuda:0 cuda:1: one fold per device at a time "
        "(default: one fold at a time on SpeechBrain's default device)",
    )
    parser.add_argument("--nproc_per_node", type=int, default=1, help="DDP processes per stage (torch.distributed.run)")
    parser.add_argument(
        "--no_shared_stage1",
        action="store_true",
        help="train stage 1 even if another experiment has the same one finished",
    )
    parser.add_argument("--dry_run", action="store_true", help="print the commands, run nothing")
    parser.add_argument("--summarize", action="store_true", help="only (re)write the summary of --experiment")
    parser.add_argument(
        "--compare",
        action="store_true",
        help="write <output_folder>/comparison.{md,json}: every experiment there next to the paper",
    )
    parser.add_argument("--list", action="store_true", help="list the experiments and the paper's numbers")
    parser.add_argument("--experiments_file", default=EXPERIMENTS_FILE, help="default: %(default)s")
    args = parser.parse_args(argv)
    if not (args.list or args.compare or args.summarize) and not args.data_folder:
        parser.error("--data_folder is required to run folds")
    return args


def main(argv=None):
    """Runs the command line; returns the exit status (1 if a fold failed)."""
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s run_folds - %(message)s", datefmt="%H:%M:%S", stream=sys.stdout
    )
    try:
        experiments = load_experiments(args.experiments_file)
        if args.list:
            print(list_experiments(experiments))
            return 0
        if args.compare:
            write_comparison(args.output_folder, experiments)
            with open(os.path.join(args.output_folder, "comparison.md"), encoding="utf-8") as handle:
                print(handle.read())
            return 0
        if args.experiment not in experiments:
            raise RunFoldsError(
                f"Unknown experiment {args.experiment!r}; python recipes/run_folds.py --list shows them."
            )
        entry = experiments[args.experiment]
        if args.summarize:
            write_summary(os.path.join(args.output_folder, args.experiment), args.experiment, entry)
            with open(os.path.join(args.output_folder, args.experiment, "summary.md"), encoding="utf-8") as handle:
                print(handle.read())
            return 0
        runner = FoldRunner(
            args.experiment,
            entry,
            args.data_folder,
            args.output_folder,
            folds=args.folds,
            wav2vec2_hub=args.wav2vec2_hub,
            extra_args=shlex.split(args.extra_args),
            stage_args={
                stage: shlex.split(getattr(args, f"{stage}_args"))
                for stage in STAGE_SCRIPTS
                if getattr(args, f"{stage}_args")
            },
            devices=args.devices,
            nproc_per_node=args.nproc_per_node,
            share_stage1=not args.no_shared_stage1,
            dry_run=args.dry_run,
        )
        failures = runner.run()
    except (RunFoldsError, OverrideError, SummaryError, IEMOCAPError) as error:
        print(f"run_folds.py: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted. Run the same command again to resume: finished stages are skipped.", file=sys.stderr)
        return 130
    for failure in failures:
        print(f"\nFAILED: {failure}", file=sys.stderr)
        if failure.log and os.path.isfile(failure.log):
            with open(failure.log, encoding="utf-8", errors="replace") as handle:
                tail = handle.read().splitlines()[-LOG_TAIL_LINES:]
            print("  last lines of its log:\n    " + "\n    ".join(tail), file=sys.stderr)
    if failures:
        print(
            f"\n{len(failures)} of {len(args.folds)} fold(s) failed; the others' results are in the summary.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
