"""recipes/run_folds.py and recipes/experiments.yaml: folds end to end, summaries that agree with the runs,
re-runs that skip finished work, failures that are reported, and every paper row as a runnable configuration."""

import json
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

import numpy as np
import pytest
import scipy.stats
import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml

from custom_modules.adapters import BottleneckAdapter
from custom_modules.constants import CTC_VOCAB_SIZE, DEFAULT_SEED
from custom_modules.handoff import load_stage1_encoder, write_model_config
from custom_modules.metrics_log import METRICS_LOG, read_metrics_log
from recipes.folds.folder_lock import FolderInUseError, FolderLock
from recipes.folds.layout import FoldRun
from recipes.folds.overrides import args_from_overrides
from recipes.folds.runner import STAGE_SCRIPTS, FoldRunner
from recipes.reports.fold_plots import training_curves_figure
from recipes.reports.fold_summary import load_experiments
from tests.conftest import FAST_TRAINING, REPO, run_recipe
from tests.test_stage1 import logged_epochs
from train_stage1 import Stage1Brain
from train_stage2 import Stage2Brain

EXPERIMENT = "table3_concat_scl_cos"
SEED = DEFAULT_SEED  # run_folds.py's default: one run per fold, with the yaml's seed
RUN = os.path.join(f"seed{SEED}", "fold{fold}")  # a run's folder in its experiment's
RUN_FOLDS = os.path.join("recipes", "run_folds.py")
EPOCHS = "2"  # per stage: enough for curves and a model selection, few enough for 2 folds in ~2 minutes
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_folds_command(corpus_parent, backbone, output_folder, *extra, folds=("1", "2")):
    """The run_folds.py command line of these tests: the tiny backbone, FAST_TRAINING, 2 epochs per stage."""
    # fmt: off
    return [
        RUN_FOLDS,
        "--experiment", EXPERIMENT,
        "--data_folder", corpus_parent,
        "--output_folder", output_folder,
        "--folds", *folds,
        "--wav2vec2_hub", backbone,
        "--extra_args", shlex.join([*FAST_TRAINING, "--number_of_epochs", EPOCHS]),
        *extra,
    ]
    # fmt: on


def run_failing(*args):
    """Runs a recipe command that must fail; returns its output."""
    done = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode != 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def load_json(*parts):
    with open(os.path.join(*parts), encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def two_fold_run(generated_corpus, tiny_backbone, tmp_path_factory):
    """Folds 1 and 2 of the two-stage experiment, side by side on the CPU: ``(output_folder, log, seconds)``."""
    output = str(tmp_path_factory.mktemp("folds") / "results")
    start = time.time()
    done = run_recipe(*run_folds_command(generated_corpus[0], tiny_backbone, output, "--devices", "cpu", "cpu"))
    return output, done.stdout + done.stderr, time.time() - start


@pytest.fixture
def run_copy(two_fold_run, tmp_path):
    """A private copy of the two-fold run's output folder, for tests that add to it."""
    copy = str(tmp_path / "results")
    shutil.copytree(two_fold_run[0], copy, symlinks=True)
    return copy


def test_summary_per_fold_mean_std_and_pooled_agree_with_the_runs(two_fold_run):
    output, log, _ = two_fold_run
    folder = os.path.join(output, EXPERIMENT)
    summary = load_json(folder, "summary.json")
    assert summary["folds"] == [1, 2] and summary["seeds"] == [SEED] and summary["final_stage"] == "stage2"
    assert "sample" in summary["std"] and "n - 1" in summary["std"]
    for stage in ("stage1", "stage2"):
        block = summary["stages"][stage]
        runs = {fold: load_json(folder, RUN.format(fold=fold), stage, "test_metrics.json") for fold in (1, 2)}
        expected_keys = {"WA", "UA", "WER"} if stage == "stage1" else {"WA", "UA", "gender_UA", "style_UA"}
        assert set(block["mean"]) == expected_keys
        assert [(row["fold"], row["seed"]) for row in block["runs"]] == [(1, SEED), (2, SEED)]
        for row, metrics in zip(block["runs"], runs.values()):
            assert {key: row[key] for key in expected_keys} == {key: metrics[key] for key in expected_keys}
            assert row["epoch"] == metrics["epoch"] and row["count"] == metrics["count"]
        for key in expected_keys:
            values = [runs[fold][key] for fold in (1, 2)]
            assert block["mean"][key] == pytest.approx(statistics.mean(values))
            assert block["std"][key] == pytest.approx(np.std(values, ddof=1))
            sem = scipy.stats.sem(values)  # 0 when both folds agree exactly (e.g. WER 100 of an untrained CTC head)
            interval = (
                scipy.stats.t.interval(0.95, 1, loc=statistics.mean(values), scale=sem) if sem else [values[0]] * 2
            )
            # an interval past the metric's range (WER: below 0 only) says the runs are too few, and is not given
            beyond = interval[0] < 0 or (key != "WER" and interval[1] > 100)
            assert block["ci95"][key] == (None if beyond else pytest.approx(list(interval)))
        summed = sum(np.array(runs[fold]["confusion_matrix"]) for fold in (1, 2))
        recall = np.diag(summed) / summed.sum(axis=1)
        assert block["pooled"]["confusion_matrix"] == summed.tolist()
        assert block["pooled"]["UA"] == pytest.approx(100 * recall.mean())
        assert block["pooled"]["WA"] == pytest.approx(100 * np.trace(summed) / summed.sum())
        assert block["pooled"]["count"] == sum(runs[fold]["count"] for fold in (1, 2)) == int(summed.sum())
    # adapter-only training (stage 2): train and valid UA per epoch, averaged over the runs, and their gap
    records = [read_metrics_log(os.path.join(folder, RUN.format(fold=f), "stage2", METRICS_LOG)) for f in (1, 2)]
    table = summary["stages"]["stage2"]["overfitting"]
    assert [row["epoch"] for row in table] == [1, 2] and "overfitting" not in summary["stages"]["stage1"]
    for row in table:
        epoch = [next(e for e in r["epochs"] if e["epoch"] == row["epoch"]) for r in records]
        assert row["train_UA"] == pytest.approx(statistics.mean(e["train"]["UA"] for e in epoch))
        assert row["valid_UA"] == pytest.approx(statistics.mean(e["valid"]["UA"] for e in epoch))
        assert row["gap"] == pytest.approx(row["train_UA"] - row["valid_UA"])
    # the final results are stage 2's, the paper's numbers sit beside them
    assert summary["final"]["mean"] == summary["stages"]["stage2"]["mean"]
    assert summary["paper"] == {"UA": 78.49, "WA": 77.85}
    markdown = open(os.path.join(folder, "summary.md"), encoding="utf-8").read()
    ua = summary["final"]["mean"]["UA"], summary["final"]["std"]["UA"]
    assert f"UA {ua[0]:.2f} ± {ua[1]:.2f}" in markdown and "## Stage 1" in markdown
    # a line when each fold and stage starts, as it records epochs, and when it ends
    for fold in (1, 2):
        for stage in ("stage1", "stage2"):
            run = f"fold {fold} seed {SEED} {stage}"
            assert f"{run}: running on cpu" in log and f"{run}: finished in" in log
            last_epoch = rf"{run}: epoch 2/2, valid UA [\d.]+ \(best [\d.]+ at epoch [12]\), "
            assert re.search(last_epoch + r"0:\d\d:\d\d elapsed, ~0:00:00 left", log), (fold, stage)


def test_run_draws_a_confusion_matrix_and_the_training_curves_of_every_fold_and_stage(two_fold_run):
    output = two_fold_run[0]
    folder = os.path.join(output, EXPERIMENT)
    for name in ("confusion_matrix.png", "training_curves.png"):
        with open(os.path.join(folder, name), "rb") as handle:
            assert handle.read(8) == PNG_SIGNATURE, name
        import matplotlib.image

        image = matplotlib.image.imread(os.path.join(folder, name))
        assert image.shape[0] > 200 and image.shape[1] > 200, name
    # the curves come from metrics.jsonl: one point per epoch of each fold and stage, the tested epoch marked
    for fold in (1, 2):
        for stage in ("stage1", "stage2"):
            records = read_metrics_log(os.path.join(folder, RUN.format(fold=fold), stage, METRICS_LOG))
            assert [e["epoch"] for e in records["epochs"]] == [1, 2]
            assert all(isinstance(e["train"]["loss"], float) for e in records["epochs"])
            tested = load_json(folder, RUN.format(fold=fold), stage, "test_metrics.json")["epoch"]
            assert records["test"]["epoch loaded"] == tested
    runs = {FoldRun(fold, SEED): os.path.join(folder, RUN.format(fold=fold)) for fold in (1, 2)}
    curves = {
        stage: {run: read_metrics_log(os.path.join(path, stage, METRICS_LOG)) for run, path in runs.items()}
        for stage in ("stage1", "stage2")
    }
    figure = training_curves_figure(curves, EXPERIMENT)
    ua_row = figure.axes[len(curves) :]  # subplots are listed row by row: losses first, then valid UA
    for stage, ua_axes in zip(curves, ua_row):
        stars = {line.get_label(): list(line.get_xdata()) for line in ua_axes.get_lines() if line.get_marker() == "*"}
        tested = {run: curves[stage][run]["test"]["epoch loaded"] for run in runs}
        assert stars == {f"{run}: tested epoch {epoch}": [epoch] for run, epoch in tested.items()}, stage


def test_rerun_skips_finished_stages_without_training(two_fold_run, generated_corpus, tiny_backbone):
    output, _, first_seconds = two_fold_run
    folder = os.path.join(output, EXPERIMENT)
    logs = {
        path: os.stat(path).st_mtime_ns
        for path in (os.path.join(folder, RUN.format(fold=f), f"stage{s}.log") for f in (1, 2) for s in (1, 2))
    }
    summary = load_json(folder, "summary.json")
    start = time.time()
    done = run_recipe(*run_folds_command(generated_corpus[0], tiny_backbone, output, "--devices", "cpu", "cpu"))
    seconds = time.time() - start
    log = done.stdout + done.stderr
    assert log.count("skipped, finished earlier: test_metrics.json exists") == 4
    assert "running on" not in log
    assert {path: os.stat(path).st_mtime_ns for path in logs} == logs, "no stage ran again"
    assert load_json(folder, "summary.json")["stages"] == summary["stages"]
    assert seconds < first_seconds / 2, (
        f"a re-run that trains nothing took {seconds:.0f} s (first run {first_seconds:.0f} s)"
    )


def test_failing_fold_names_its_stage_and_log_and_the_other_folds_are_summarised(
    run_copy, generated_corpus, tiny_backbone, two_fold_run
):
    # fold 3's stage 1 has a single checkpoint, complete, whose encoder file was damaged on disk afterwards:
    # nothing to fall back to (tests/test_reliability.py covers the fall-back to an earlier checkpoint)
    stage1 = os.path.join(run_copy, EXPERIMENT, RUN.format(fold=3), "stage1")
    checkpoint_dir = next(
        os.path.join(root, name)
        for root, names, _ in os.walk(os.path.join(run_copy, EXPERIMENT, RUN.format(fold=1), "stage1", "save"))
        for name in names
        if name.startswith("CKPT+")
    )
    broken = os.path.join(stage1, "save", os.path.basename(checkpoint_dir))
    shutil.copytree(checkpoint_dir, broken)
    with open(os.path.join(broken, "encoder.ckpt"), "r+b") as handle:
        handle.truncate(100)
    log = run_failing(*run_folds_command(generated_corpus[0], tiny_backbone, run_copy, folds=("1", "2", "3")))
    stage_log = os.path.join(run_copy, EXPERIMENT, RUN.format(fold=3), "stage1.log")
    assert f"FAILED: fold 3 seed {SEED} stage1 failed: train_stage1.py exited with code 2" in log
    assert f"(log: {stage_log})" in log and "last lines of its log" in log
    stage_output = open(stage_log, encoding="utf-8").read()
    assert f"Loading a checkpoint from {broken}" in stage_output
    assert (
        f"train_stage1.py: error: No checkpoint in {os.path.dirname(broken)} can be loaded: {broken}/encoder.ckpt"
        in log
    )
    assert "Traceback" not in stage_output and "Restore the damaged file(s) from a backup, or delete" in log
    assert f"fold 3 seed {SEED} stage2" not in log, "stage 2 never runs on a failed stage 1"
    assert "1 of 3 run(s) (fold, seed) failed" in log
    summary = load_json(run_copy, EXPERIMENT, "summary.json")
    assert summary["folds"] == [1, 2] and summary["runs_started"] == [f"fold {f} seed {SEED}" for f in (1, 2, 3)]
    assert summary["stages"] == load_json(two_fold_run[0], EXPERIMENT, "summary.json")["stages"]
    assert (
        f"Runs started but not finished (not in the tables): fold 3 seed {SEED}"
        in open(os.path.join(run_copy, EXPERIMENT, "summary.md"), encoding="utf-8").read()
    )


# ---- faults: a second driver, signals -------------------------------------------------------------------------

SINGLE_STAGE = "table1_full_ser_asr"


def single_stage_command(corpus_parent, backbone, output_folder, epochs="3"):
    """run_folds.py on fold 1 of a single-stage experiment (Table 1's stage 1), ``epochs`` long."""
    command = run_folds_command(corpus_parent, backbone, output_folder, folds=("1",))
    command[command.index("--experiment") + 1] = SINGLE_STAGE
    command[command.index("--extra_args") + 1] = shlex.join([*FAST_TRAINING, "--number_of_epochs", epochs])
    return command


def start_driver(command, log_file):
    """Starts ``python command`` with its output into ``log_file``."""
    with open(log_file, "w", encoding="utf-8") as handle:
        return subprocess.Popen([sys.executable, *command], cwd=REPO, stdout=handle, stderr=subprocess.STDOUT)


def wait_for_epoch(process, stage_folder, epoch=1, timeout=300):
    """Waits until a stage run by ``process`` recorded ``epoch`` in its metrics.jsonl."""
    deadline = time.time() + timeout
    while not any(r["epoch"] == epoch for r in read_metrics_log(os.path.join(stage_folder, METRICS_LOG))["epochs"]):
        assert process.poll() is None, "the driver ended before its stage recorded an epoch"
        assert time.time() < deadline, f"no epoch {epoch} recorded in {timeout} s"
        time.sleep(0.2)


def processes_running(text):
    """Process ids whose command line contains ``text``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if text.encode() in handle.read():
                    found.append(int(pid))
        except OSError:
            pass  # ended meanwhile
    return found


def stop_driver(process, signum, timeout=120):
    """Sends ``signum`` to a driver and waits for it; kills it (and fails) if it does not end."""
    process.send_signal(signum)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def test_second_driver_on_a_folder_in_use_refuses_and_sigint_stops_the_first_whose_rerun_resumes(
    generated_corpus, tiny_backbone, tmp_path
):
    output = str(tmp_path / "results")
    # Long enough that the stage still trains after the second driver (a Python start) has been refused.
    command = single_stage_command(generated_corpus[0], tiny_backbone, output, epochs="16")
    stage = os.path.join(output, SINGLE_STAGE, RUN.format(fold=1), "stage1")
    first = start_driver(command, tmp_path / "first.log")
    try:
        wait_for_epoch(first, stage)
        second = subprocess.run([sys.executable, *command], cwd=REPO, capture_output=True, text=True, timeout=120)
        returncode = stop_driver(first, signal.SIGINT)
    finally:
        if first.poll() is None:
            first.kill()
    # the second driver stops at once, naming the first: process, host, command
    assert second.returncode == 2 and "Traceback" not in second.stderr
    assert f"is held by another run_folds.py (process {first.pid} on {socket.gethostname()}, since " in second.stderr
    assert shlex.join(command) in second.stderr
    # SIGINT stopped the first driver's stage and nothing of it runs on
    first_log = (tmp_path / "first.log").read_text(encoding="utf-8")
    assert returncode == 130, first_log
    assert "SIGINT: the running stages were stopped. Run the same command to resume" in first_log
    assert f"fold 1 seed {SEED} stage1: FAILED: stopped by SIGINT; the same command resumes it" in first_log
    assert not processes_running(stage), "the stage's processes ended with the driver"
    assert load_json(stage, "run_folds.json")["status"] == "interrupted"
    assert not os.path.exists(os.path.join(stage, "test_metrics.json"))
    # the same command resumes the stage from its checkpoint: no epoch lost or trained twice
    resumed = run_recipe(*command).stdout
    assert f"fold 1 seed {SEED} stage1: resuming on" in resumed and f"fold 1 seed {SEED} stage1: finished in" in resumed
    assert logged_epochs(stage) == list(range(1, 17))
    attempts = (
        open(os.path.join(output, SINGLE_STAGE, RUN.format(fold=1), "stage1.log"), encoding="utf-8")
        .read()
        .split("===== ")
    )
    resumed_epochs = [int(e) for e in re.findall(r"Going into epoch (\d+)", attempts[-1])]
    assert len(attempts) == 3 and resumed_epochs and min(resumed_epochs) > 1, "the re-run started after epoch 1"


def test_sigterm_stops_the_running_stages_cleanly(generated_corpus, tiny_backbone, tmp_path):
    output = str(tmp_path / "results")
    stage = os.path.join(output, SINGLE_STAGE, RUN.format(fold=1), "stage1")
    driver = start_driver(single_stage_command(generated_corpus[0], tiny_backbone, output), tmp_path / "driver.log")
    try:
        wait_for_epoch(driver, stage)
        returncode = stop_driver(driver, signal.SIGTERM)
    finally:
        if driver.poll() is None:
            driver.kill()
    log = (tmp_path / "driver.log").read_text(encoding="utf-8")
    assert returncode == 143, log
    assert (
        "SIGTERM: stopping 1 running stage(s)" in log
        and f"fold 1 seed {SEED} stage1: FAILED: stopped by SIGTERM" in log
    )
    assert not processes_running(stage)
    assert load_json(stage, "run_folds.json")["status"] == "interrupted"


def test_lock_of_a_killed_driver_is_free_again(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from recipes.folds.folder_lock import FolderLock; "
            "lock = FolderLock(sys.argv[1]).acquire(); print('locked', flush=True); time.sleep(600)",
            str(tmp_path),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(FolderInUseError, match=f"process {holder.pid} on "):
            FolderLock(str(tmp_path)).acquire()
    finally:
        holder.kill()  # SIGKILL: no chance to release anything
        holder.wait()
    FolderLock(str(tmp_path)).acquire().release()


def test_rerun_with_other_settings_stops_with_the_differences_instead_of_skipping(
    run_copy, generated_corpus, tiny_backbone
):
    log = run_failing(
        *run_folds_command(
            generated_corpus[0], tiny_backbone, run_copy, "--stage2_args", "--scl norm --weight_decay 0.02"
        )
    )
    assert log.count(f"fold 1 seed {SEED} stage1: skipped") == 1
    assert "holds a run with other settings (scl: cos there, norm now; weight_decay: <unset> there, 0.02 now)" in log
    assert "2 of 2 run(s) (fold, seed) failed" in log


def test_seed_belongs_to_run_folds_own_option(generated_corpus, tiny_backbone, tmp_path):
    log = run_failing(*run_folds_command(generated_corpus[0], tiny_backbone, str(tmp_path), "--extra_args", "--seed 7"))
    assert "--extra_args sets ['seed']: use run_folds.py's own options (--data_folder, --folds, --seeds" in log


def test_experiments_with_the_same_stage1_share_it_and_are_compared_with_the_paper(
    run_copy, generated_corpus, tiny_backbone
):
    # Table 1's full SER + ASR row is exactly the stage 1 of Table 3: it is linked, not trained again
    command = run_folds_command(generated_corpus[0], tiny_backbone, run_copy)
    command[command.index("--experiment") + 1] = "table1_full_ser_asr"
    log = run_recipe(*command).stdout
    assert log.count("linked to the finished stage 1 of") == 2 and "running on" not in log
    for fold in (1, 2):
        link = os.path.join(run_copy, "table1_full_ser_asr", RUN.format(fold=fold), "stage1")
        assert os.path.islink(link)
        assert os.path.samefile(link, os.path.join(run_copy, EXPERIMENT, RUN.format(fold=fold), "stage1"))
    single = load_json(run_copy, "table1_full_ser_asr", "summary.json")
    assert single["final_stage"] == "stage1"
    assert (
        single["stages"]["stage1"]["mean"]
        == load_json(run_copy, EXPERIMENT, "summary.json")["stages"]["stage1"]["mean"]
    )

    done = run_recipe(RUN_FOLDS, "--compare", "--output_folder", run_copy)
    rows = {row["experiment"]: row for row in load_json(run_copy, "comparison.json")}
    assert list(rows) == ["table1_full_ser_asr", EXPERIMENT], "rows follow the paper's order"
    assert rows["table1_full_ser_asr"]["paper"] == {"UA": 75.40, "WA": 75.17}
    assert rows[EXPERIMENT]["UA"]["mean"] == load_json(run_copy, EXPERIMENT, "summary.json")["final"]["mean"]["UA"]
    assert all(row["folds"] == [1, 2] and row["seeds"] == [SEED] for row in rows.values())
    # runs unlike the paper's are not compared with it, and the reasons are given
    differences = rows[EXPERIMENT]["differences"]
    assert not rows[EXPERIMENT]["comparable"]
    assert any(d.startswith(f"backbone {tiny_backbone}") for d in differences)
    assert "stage1: 2 epochs (paper: 200)" in differences and "stage2: batch 4 (paper: 16)" in differences
    assert "corpus of 193 4-class utterances (full release: 5,531)" in differences
    assert "folds 1, 2 of 5" in differences and rows[EXPERIMENT]["notes"] == [f"1 seed ({SEED})"]
    table = open(os.path.join(run_copy, "comparison.md"), encoding="utf-8").read()
    assert "| table3_concat_scl_cos | 3: concat + SCL_cos | 78.49 | 77.85 |" in table and table in done.stdout
    assert "| not comparable |" in table and "| +" not in table and "| -" not in table


# ---- every paper row resolves to a runnable configuration --------------------------------------------------

# What each row of the paper means (DESIGN.md §2), written independently of recipes/experiments.yaml:
# (finetune of the encoder, tasks, task adapters after pooling, fusion, scl) per stage, and the paper's UA / WA.
EGS = ("emo", "gender", "style")
FULL_SER_ASR = ("full", ("emo", "asr"), False, False, "none")
ADAPTERS_SER_ASR = ("adapters", ("emo", "asr"), True, False, "none")
PAPER_ROWS = {
    "table1_adapters_ser": (("adapters", ("emo",), True, False, "none"), None, (68.51, 67.83)),
    "table1_adapters_ser_asr": (ADAPTERS_SER_ASR, None, (71.70, 71.28)),
    "table1_adapters_ser_gender_style": (("adapters", EGS, True, False, "none"), None, (70.19, 69.85)),
    "table1_full_ser": (("full", ("emo",), False, False, "none"), None, (70.88, 71.57)),
    "table1_full_ser_asr": (FULL_SER_ASR, None, (75.40, 75.17)),
    "table1_full_ser_gender_style": (("full", EGS, False, False, "none"), None, (71.05, 70.27)),
    "table1_full_all": (("full", ("emo", "asr", "gender", "style"), False, False, "none"), None, (76.19, 75.49)),
    "table2_setting1_adapters_adapters": (
        ADAPTERS_SER_ASR,
        ("adapters", ("emo",), True, False, "none"),
        (71.89, 71.46),
    ),
    "table2_setting2_all_all": (FULL_SER_ASR, ("full", ("emo",), False, False, "none"), (74.92, 73.81)),
    "table2_setting3_all_adapters": (FULL_SER_ASR, ("adapters", ("emo",), True, False, "none"), (76.54, 76.07)),
    "table3_no_fusion": (FULL_SER_ASR, ("adapters", EGS, True, False, "none"), (77.13, 76.30)),
    "table3_concat": (FULL_SER_ASR, ("adapters", EGS, True, True, "none"), (76.89, 76.06)),
    "table3_concat_scl_norm": (FULL_SER_ASR, ("adapters", EGS, True, True, "norm"), (77.91, 77.24)),
    "table3_concat_scl_cos": (FULL_SER_ASR, ("adapters", EGS, True, True, "cos"), (78.49, 77.85)),
}
# The ablations the paper leaves out: Table 3's stage 1, and stage 2 with one thing changed (its adapter sizes too).
BEST_SIZES = {"lora_rank": 64, "lora_alpha": 64, "bottleneck_dim": 256}
ABLATION_ROWS = {
    "ablation_gender_only": (("adapters", ("emo", "gender"), True, False, "none"), BEST_SIZES),
    "ablation_gender_only_concat": (("adapters", ("emo", "gender"), True, True, "none"), BEST_SIZES),
    "ablation_gender_only_concat_scl_cos": (("adapters", ("emo", "gender"), True, True, "cos"), BEST_SIZES),
    "ablation_style_only": (("adapters", ("emo", "style"), True, False, "none"), BEST_SIZES),
    "ablation_style_only_concat": (("adapters", ("emo", "style"), True, True, "none"), BEST_SIZES),
    "ablation_style_only_concat_scl_cos": (("adapters", ("emo", "style"), True, True, "cos"), BEST_SIZES),
    "ablation_lora_rank8": (("adapters", EGS, True, True, "cos"), {**BEST_SIZES, "lora_rank": 8, "lora_alpha": 8}),
    "ablation_lora_rank16": (("adapters", EGS, True, True, "cos"), {**BEST_SIZES, "lora_rank": 16, "lora_alpha": 16}),
    "ablation_bottleneck64": (("adapters", EGS, True, True, "cos"), {**BEST_SIZES, "bottleneck_dim": 64}),
    "ablation_ctc_bpe": (("adapters", EGS, True, True, "cos"), BEST_SIZES),
    "ablation_residual_task_adapters_no_fusion": (("adapters", EGS, True, False, "none"), BEST_SIZES),
    "ablation_residual_task_adapters_concat": (("adapters", EGS, True, True, "none"), BEST_SIZES),
    "ablation_residual_task_adapters_concat_scl_cos": (("adapters", EGS, True, True, "cos"), BEST_SIZES),
    "ablation_ctc_mean": (("adapters", EGS, True, True, "cos"), BEST_SIZES),
    "ablation_no_spec_augment": (("adapters", EGS, True, True, "cos"), BEST_SIZES),
}
# Beyond the paper's tasks: the corpus's dimensions in stage 2 (with the best system's, or alone).
AVD = ("arousal", "valence", "dominance")
EXTENSION_ROWS = {
    "extension_dimensions_aux": (("adapters", (*EGS, *AVD), True, True, "cos"), BEST_SIZES),
    "extension_dimensions_aux_concat": (("adapters", (*EGS, *AVD), True, True, "none"), BEST_SIZES),
    "extension_dimensions_only": (("adapters", ("emo", *AVD), True, False, "none"), BEST_SIZES),
}
# The ablations that change stage 1 instead (they train their own), and what they change.
STAGE1_CHANGES = {
    "ablation_ctc_bpe": {"ctc_units": "bpe", "bpe_vocab_size": 100},
    "ablation_ctc_mean": {"ctc_reduction": "mean"},
    "ablation_no_spec_augment": {"spec_augment": False},
}
# The forms the paper does not draw: residual task adapters (stage 2), SpecAugment off (both stages).
RESIDUAL_TASK_ADAPTERS = {name for name in ABLATION_ROWS if name.startswith("ablation_residual_task_adapters")}
WITHOUT_SPEC_AUGMENT = {"ablation_no_spec_augment"}
ADAPTER_PARAMETER_KINDS = {"q_proj", "k_proj", "v_proj", "output_dense"}


def test_experiments_file_has_every_paper_row_with_the_papers_numbers_then_the_ablations():
    experiments = load_experiments()
    assert list(experiments) == list(PAPER_ROWS) + list(ABLATION_ROWS) + list(EXTENSION_ROWS)
    for name in [*ABLATION_ROWS, *EXTENSION_ROWS]:
        kind = "ablation" if name in ABLATION_ROWS else "extension"
        assert experiments[name]["paper"] is None and experiments[name]["table"] == kind, name
        changes = STAGE1_CHANGES.get(name, {})
        assert experiments[name]["stage1"] == {**experiments[EXPERIMENT]["stage1"], **changes}, (
            "the best row's stage 1, or it with what the ablation changes"
        )
    for name, (_, stage2, (ua, wa)) in PAPER_ROWS.items():
        assert experiments[name]["paper"] == {"UA": ua, "WA": wa}, name
        assert (experiments[name]["stage2"] is None) == (stage2 is None), name
        assert experiments[name]["description"].strip(), name


def stage_hparams(name, stage, data_folder, output_folder, backbone):
    """Loads a stage's yaml exactly as run_folds.py's command line would (fold 1), building every module.

    Stage 1 is saved as an untrained stage-1 run (a checkpoint and its model_config.json), which stage 2 starts
    from (``--allow_unfinished_stage1 True``: it has no test metrics)."""
    runner = FoldRunner(name, load_experiments()[name], data_folder, output_folder, folds=[1], wav2vec2_hub=backbone)
    extra = ["--allow_unfinished_stage1", "True"] if stage == "stage2" else []
    # What the train script writes from the prepared fold: the heads' scales of the corpus's dimensions.
    extra += ["--task_dimensions", json.dumps({task: [3.0, 1.0] for task in AVD})]
    hparams_file, run_opts, overrides = sb.parse_arguments(
        [
            os.path.join(REPO, STAGE_SCRIPTS[stage][1]),
            *args_from_overrides(runner.stage_overrides(FoldRun(1, SEED), stage)),
            *extra,
        ]
    )
    with open(hparams_file, encoding="utf-8") as handle:
        hparams = load_hyperpyyaml(handle, overrides)
    if stage == "stage1":
        save_as_stage1_run(hparams, backbone)
    return hparams


def save_as_stage1_run(hparams, backbone):
    """Writes what a stage-1 run leaves for stage 2: a checkpoint of its modules and its model_config.json."""
    os.makedirs(hparams["output_folder"], exist_ok=True)
    hparams["checkpointer"].save_checkpoint(meta={"UA": 0.0, "epoch": 0})
    write_model_config(hparams["output_folder"], hparams["encoder"], hparams["heads"], backbone)


def check_stage_means(hparams, expected, stage, sizes=None, residual=False, spec_augment=True):
    """Asserts that the built encoder, heads and loss settings are what the row means (and the adapter ``sizes``,
    if given; the task adapters' form and SpecAugment); runs a forward."""
    finetune, tasks, task_adapters, fusion, scl = expected
    encoder, heads = hparams["encoder"], hparams["heads"]
    assert encoder.spec_augment == spec_augment
    assert all(getattr(heads.task_adapters[t], "residual", residual) == residual for t in heads.utterance_tasks)
    if stage == "stage2":
        load_stage1_encoder(encoder, hparams["stage1_folder"])  # train_stage2.py's hand-off
    assert encoder.finetune == finetune
    trainable = encoder.trainable_parameter_names()
    adapter_names = [n for n in trainable if ".adapter_down_proj." in n or ".adapter_up_proj." in n]
    if finetune == "adapters":
        assert trainable and adapter_names == trainable, "only adapters train in the encoder"
        assert {n.split(".adapter_")[0].split(".")[-1] for n in trainable} == ADAPTER_PARAMETER_KINDS
    else:
        assert not adapter_names and any(".attention.q_proj." in n for n in trainable), "the whole Transformer trains"
        assert not any("feature_extractor" in n for n in trainable), "the CNN feature encoder stays frozen"
    assert heads.utterance_tasks == [t for t in (*EGS, *AVD) if t in tasks]
    assert heads.dimension_tasks == [t for t in AVD if t in tasks]
    assert (heads.ctc_lin is not None) == ("asr" in tasks)
    assert all(isinstance(heads.task_adapters[t], BottleneckAdapter) == task_adapters for t in heads.utterance_tasks)
    dim = hparams["encoder_dim"]
    assert heads.classifiers["emo"].w.in_features == (len(heads.utterance_tasks) * dim if fusion else dim)
    if sizes:
        assert {key: getattr(encoder, key) for key in sizes} == sizes
        widths = {heads.task_adapters[t].adapter_down_proj.out_features for t in heads.utterance_tasks}
        assert widths == {sizes["bottleneck_dim"]}
    assert hparams.get("scl", "none") == scl and hparams["fusion"] == fusion
    # the stage's Brain accepts the combination (stage 2 refuses an SCL without gender or style), and the model runs
    brain_class = {"stage1": Stage1Brain, "stage2": Stage2Brain}[stage]
    brain_class(modules=hparams["modules"], opt_class=hparams["opt_class"], hparams=hparams, run_opts={"device": "cpu"})
    with torch.no_grad():
        outputs = heads(*encoder(torch.randn(2, 8000), torch.tensor([1.0, 0.7])))
    assert set(outputs) - {"latents", "embedding", "frame_lens"} == set(tasks)


@pytest.mark.parametrize("name", list(PAPER_ROWS) + list(ABLATION_ROWS) + list(EXTENSION_ROWS))
def test_row_builds_the_model_it_means(name, tiny_backbone, generated_corpus, tmp_path):
    if name in PAPER_ROWS:
        stage1, stage2, _ = PAPER_ROWS[name]
        sizes = None
    else:
        stage1, (stage2, sizes) = FULL_SER_ASR, {**ABLATION_ROWS, **EXTENSION_ROWS}[name]
    spec_augment = name not in WITHOUT_SPEC_AUGMENT
    hparams = stage_hparams(name, "stage1", generated_corpus[0], str(tmp_path), tiny_backbone)
    check_stage_means(hparams, stage1, "stage1", spec_augment=spec_augment)
    if "asr" in stage1[1]:
        changes = STAGE1_CHANGES.get(name, {})
        units = changes["bpe_vocab_size"] if changes.get("ctc_units") == "bpe" else CTC_VOCAB_SIZE
        assert hparams["heads"].ctc_lin.w.out_features == units, "the CTC head predicts the row's units"
        assert hparams["ctc_reduction"] == changes.get("ctc_reduction", "sum"), "the lineage's CTC scale"
    if stage2 is not None:
        hparams = stage_hparams(name, "stage2", generated_corpus[0], str(tmp_path), tiny_backbone)
        assert hparams["stage1_folder"] == os.path.join(str(tmp_path), name, RUN.format(fold=1), "stage1")
        residual = name in RESIDUAL_TASK_ADAPTERS
        check_stage_means(hparams, stage2, "stage2", sizes, residual=residual, spec_augment=spec_augment)


def test_best_row_is_the_yaml_defaults(tiny_backbone, generated_corpus, tmp_path):
    experiment = load_experiments()[EXPERIMENT]
    stage1_folder = str(tmp_path / "stage1")
    for stage in ("stage1", "stage2"):
        placeholders = {"data_folder": generated_corpus[0], "output_folder": str(tmp_path / stage)}
        if stage == "stage1":
            placeholders["wav2vec2_hub"] = tiny_backbone
        else:
            placeholders.update(stage1_folder=stage1_folder, allow_unfinished_stage1=True)
        with open(os.path.join(REPO, STAGE_SCRIPTS[stage][1]), encoding="utf-8") as handle:
            defaults = load_hyperpyyaml(handle, placeholders)
        if stage == "stage1":
            save_as_stage1_run(defaults, tiny_backbone)
        assert {key: defaults[key] for key in experiment[stage]} == experiment[stage], stage


def test_table2_setting1_stage2_keeps_training_the_stage1_adapters_with_new_heads(
    tiny_backbone, generated_corpus, tmp_path
):
    name = "table2_setting1_adapters_adapters"
    stage1_hparams = stage_hparams(name, "stage1", generated_corpus[0], str(tmp_path), tiny_backbone)
    stage1 = stage1_hparams["encoder"]
    with torch.no_grad():  # trained adapters: not their zero-initialised up-projections
        for parameter in stage1.parameters():
            if parameter.requires_grad:
                parameter.add_(torch.randn_like(parameter))
    # the best checkpoint of the stage-1 run (save_frozen: True, the whole encoder)
    stage1_hparams["checkpointer"].save_checkpoint(meta={"UA": 1.0, "epoch": 1})

    hparams = stage_hparams(name, "stage2", generated_corpus[0], str(tmp_path), tiny_backbone)
    stage2 = hparams["encoder"]
    load_stage1_encoder(stage2, hparams["stage1_folder"])  # train_stage2.py's hand-off
    state1, state2 = stage1.state_dict(), stage2.state_dict()
    assert set(state1) == set(state2)
    assert all(torch.equal(state1[key], state2[key]) for key in state1), (
        "bit-identical stage-1 encoder, adapters included"
    )
    assert stage2.trainable_parameter_names() == stage1.trainable_parameter_names()
    # the heads are stage 2's own, as in every stage-2 row: only the encoder comes from stage 1
    heads1, heads2 = stage1_hparams["heads"].state_dict(), hparams["heads"].state_dict()
    assert set(heads2) < set(heads1), "stage 2 (SER only) has no CTC head"
    assert not any(torch.equal(heads1[key], heads2[key]) for key in heads2 if key.endswith("weight"))
    assert {
        n.split(".adapter_")[0].split(".")[-1] for n in stage2.trainable_parameter_names()
    } == ADAPTER_PARAMETER_KINDS
