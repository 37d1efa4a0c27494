#!/usr/bin/env python3
"""Runs an experiment of ``recipes/experiments.yaml`` (a row of the paper's Tables 1-3) on the five
leave-one-session-out folds of IEMOCAP, and summarises it.

For each fold, stage 1 (``train_stage1.py``) and, for two-stage experiments, stage 2 (``train_stage2.py``) run
as subprocesses, with the same command lines a user would type, or as SLURM jobs (``--launcher slurm``, see
``recipes/folds/slurm_jobs.py``), into::

    <output_folder>/<experiment>/seed<S>/fold<K>/stage1        stage1.log: the stage's console output
    <output_folder>/<experiment>/seed<S>/fold<K>/stage2        stage2.log

Each fold trains once per seed of ``--seeds`` (default: the yaml's seed, 1986): ``--seeds 1 2 3`` gives every
(fold, seed) pair its own runs, and the summaries give mean, std and a 95% confidence interval over them
(``recipes/reports/significance.py``); ``recipes/compare.py`` then tells whether two experiments differ.

While a stage trains, a line reports each epoch it records in its ``metrics.jsonl`` (epoch k of N, the latest
and best valid UA, elapsed and estimated time left: ``recipes/folds/stage_progress.py``).

Then ``recipes/reports/fold_summary.py`` writes ``<output_folder>/<experiment>/summary.{json,md}`` (per fold, mean ±
sample std over folds, pooled UA / WA; WER, gender and style UA where present; stage 1's results too),
``confusion_matrix.png`` and ``training_curves.png``.

To run the paper's best system (Table 3, concat + SCL_cos) on all five folds::

    python recipes/run_folds.py --experiment table3_concat_scl_cos \\
        --data_folder /path/to/IEMOCAP_full_release --output_folder results/folds

    python recipes/run_folds.py --list                                    # the paper's rows
    python recipes/run_folds.py --compare --output_folder results/folds   # every experiment next to the paper

Options: ``--folds 1 3``; ``--seeds 1 2 3``; ``--wav2vec2_hub`` (both stages); ``--extra_args "--lr 2e-5"``
(both stages), ``--stage1_args "--number_of_epochs 100"``, ``--stage2_args ...`` (overrides of the yaml or
SpeechBrain run options; use ``--stage1_args=--debug`` for a value without spaces); ``--devices cuda:0 cuda:1``
spreads folds over devices (one fold per device at a time, each stage with its own ``--device``); ``--nproc_per_node N``
runs each stage with ``python -m torch.distributed.run`` (SpeechBrain's DDP; ``--devices`` then come in groups
of N, or ``cpu`` with the gloo backend); ``--dry_run`` prints the commands.

Re-running the same command skips every stage that finished (its ``test_metrics.json`` exists) and resumes an
interrupted one from its checkpoints. The settings of each stage are recorded beside it (``run_folds.json``);
running again with other settings into the same folder stops with the differences instead of mixing them.
Experiments whose stage 1 is the same (Table 1's full SER + ASR, Table 2 settings 2-3, Table 3) train it once
per fold and seed: a finished identical stage 1 of another experiment in the same output folder is linked, not retrained
(``--no_shared_stage1`` trains it again). A failing fold/stage is reported with its log; the other folds go on
and are summarised.

One driver at a time per experiment folder: a second one stops, naming the first (``recipes/folds/folder_lock.py``).
SIGINT (Ctrl-C) or SIGTERM stops the running stages cleanly (each in a process group of its own gets the
signal, and is killed if still running a minute later) and exits with 130 / 143; the same command resumes them.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import argparse
import logging
import os
import shlex
import sys

from corpora import CorpusError
from corpora.folds import (
    CORPORA,
    PROTOCOLS,
)
from custom_modules.constants import DEFAULT_SEED
from recipes.folds.folder_lock import FolderInUseError, FolderLock
from recipes.folds.local_processes import DeviceError
from recipes.folds.overrides import (
    OverrideError,
)
from recipes.folds.runner import STAGE_SCRIPTS, FoldRunner, Interrupted, RunFoldsError
from recipes.folds.slurm_jobs import (
    SlurmOptions,
)
from recipes.reports.fold_summary import (
    EXPERIMENTS_FILE,
    SummaryError,
    experiment_stages,
    load_experiments,
    write_summary,
)
from recipes.reports.paper_comparison import write_comparison

DEFAULT_EXPERIMENT = "table3_concat_scl_cos"
LOG_TAIL_LINES = 15


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
    corpus = parser.add_argument_group("The corpus and its folds (README, 'Your own corpus')")
    corpus.add_argument("--corpus", choices=CORPORA, default="iemocap", help="default: %(default)s")
    corpus.add_argument(
        "--data_folder", help="the corpus as downloaded: IEMOCAP_full_release (or its parent), CREMA-D's, RAVDESS's"
    )
    corpus.add_argument("--manifest", help="--corpus manifest: the CSV or JSON-lines file")
    corpus.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        help="the folds (default: the corpus's: IEMOCAP sessions; CREMA-D, RAVDESS speaker_kfold; a manifest its "
        "fold/split column, else speaker_kfold)",
    )
    corpus.add_argument("--n_folds", type=int, default=5, help="speaker_kfold's folds (default: %(default)s)")
    corpus.add_argument(
        "--fold_seed", type=int, default=DEFAULT_SEED, help="speaker_kfold's shuffle of the speakers (%(default)s)"
    )
    parser.add_argument(
        "--output_folder",
        default="results/folds",
        help="runs go to <output_folder>/<experiment>/seed<S>/fold<K>/stage<N>",
    )
    parser.add_argument(
        "--folds", nargs="+", type=int, help="held-out folds (IEMOCAP: sessions; default: every fold of the protocol)"
    )
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=[DEFAULT_SEED],
        help="every fold trains once per seed (default: %(default)s, the yaml's); summaries then give a 95%% "
        "confidence interval over folds x seeds",
    )
    parser.add_argument(
        "--wav2vec2_hub", help="backbone of both stages: hub id or local folder (default: the yaml's, XLS-R 300m)"
    )
    parser.add_argument("--extra_args", default="", help='overrides for both stages, e.g. "--batch_size 8"')
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
    parser.add_argument(
        "--progress_every",
        type=float,
        default=600,
        help="seconds between progress lines of a running stage when an epoch lasts longer (default: %(default)s; "
        "a line comes with every epoch)",
    )
    slurm = parser.add_argument_group("SLURM (--launcher slurm: every fold and stage as a job, through submitit)")
    slurm.add_argument(
        "--launcher",
        choices=("local", "slurm"),
        default="local",
        help="local: subprocesses of this process (default); slurm: SLURM jobs, stage 2 after its stage 1",
    )
    slurm.add_argument("--slurm_partition", help="partition of the jobs (default: the cluster's)")
    slurm.add_argument("--slurm_account", help="account charged for the jobs")
    slurm.add_argument("--slurm_qos", help="quality of service of the jobs")
    slurm.add_argument(
        "--slurm_time",
        type=int,
        default=SlurmOptions.time_min,
        help="time limit of a job in minutes (default: %(default)s); a stage that needs longer is requeued and "
        "resumes from its checkpoint",
    )
    slurm.add_argument(
        "--slurm_max_requeues",
        type=int,
        default=SlurmOptions.max_requeues,
        help="how often a job that hit its time limit is requeued (default: %(default)s)",
    )
    slurm.add_argument(
        "--gpus_per_node", type=int, help="GPUs per job (default: --nproc_per_node; 0: the stages run on the CPU)"
    )
    slurm.add_argument(
        "--cpus_per_task", type=int, default=SlurmOptions.cpus_per_task, help="CPUs per job (default: %(default)s)"
    )
    slurm.add_argument("--mem_gb", type=float, help="memory per job in GB (default: the cluster's)")
    slurm.add_argument(
        "--slurm_setup",
        action="append",
        default=[],
        help='a shell line run before each job, e.g. "module load cuda" (repeat for several)',
    )
    slurm.add_argument(
        "--no_wait", action="store_true", help="exit once the jobs are submitted (run the same command to watch them)"
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
    if not (args.list or args.compare or args.summarize) and not (args.data_folder or args.manifest):
        parser.error("--data_folder (or, with --corpus manifest, --manifest) is required to run folds")
    if args.launcher == "local" and args.no_wait:
        parser.error("--no_wait goes with --launcher slurm")
    return args


def slurm_options(args):
    """The ``SlurmOptions`` of the command line (None with ``--launcher local``)."""
    if args.launcher != "slurm":
        return None
    return SlurmOptions(
        partition=args.slurm_partition,
        account=args.slurm_account,
        qos=args.slurm_qos,
        time_min=args.slurm_time,
        gpus_per_node=args.nproc_per_node if args.gpus_per_node is None else args.gpus_per_node,
        cpus_per_task=args.cpus_per_task,
        mem_gb=args.mem_gb,
        setup=args.slurm_setup,
        max_requeues=args.slurm_max_requeues,
    )


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
            seeds=args.seeds,
            corpus=args.corpus,
            manifest=args.manifest,
            protocol=args.protocol,
            n_folds=args.n_folds,
            fold_seed=args.fold_seed,
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
            slurm=slurm_options(args),
            slurm_no_wait=args.no_wait,
            progress_every=args.progress_every,
        )
        runner.check_corpus()
        if args.dry_run:
            failures = runner.run()
        else:
            with FolderLock(runner.experiment_folder, [os.path.basename(sys.executable), *sys.argv]):
                failures = runner.run()
    except (RunFoldsError, DeviceError, OverrideError, SummaryError, FolderInUseError, CorpusError) as error:
        print(f"run_folds.py: error: {error}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        if stop.on_slurm:
            what = "stopped watching; the SLURM jobs keep running (scancel stops them), the same command watches them."
        else:
            what = (
                "the running stages were stopped. Run the same command to resume: finished stages are skipped, "
                "interrupted ones continue from their last checkpoint."
            )
        print(f"\n{stop}: {what}", file=sys.stderr)
        return 128 + stop.signum
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
            f"\n{len(failures)} of {len(runner.runs)} run(s) (fold, seed) failed; the others' results "
            "are in the summary.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
