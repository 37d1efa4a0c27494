"""run_folds.py --launcher slurm against a real SLURM: every fold and stage a job through submitit, stage 2 after
its stage 1, a job interrupted as at its time limit requeued and resumed from its checkpoint, a later invocation
watching the jobs of an earlier one instead of submitting them again.

The cluster is a single node started by ``.ci/slurm_up.sh`` (CI runs it, then the tests with REQUIRE_SLURM=1, so
that a missing cluster fails them). Elsewhere these tests are skipped when ``sinfo`` finds no usable partition.
"""

import datetime
import os
import re
import shutil
import subprocess
import sys

import pytest

from recipes.folds.slurm_jobs import read_jobs
from tests.conftest import REPO, run_recipe
from tests.test_run_folds import EXPERIMENT, SEED, load_json, run_folds_command, start_driver, wait_for_epoch
from tests.test_stage1 import logged_epochs

RUN1 = f"seed{SEED}/fold1"  # fold 1's run folder in its experiment's (one seed: run_folds.py's default)
FOLD1 = f"fold 1 seed {SEED}"  # how run_folds.py names it in its lines

PARTITION = os.environ.get("SLURM_CI_PART", "debug")


def slurm_problem():
    """Why SLURM cannot run jobs here, or None if it can."""
    if shutil.which("sinfo") is None:
        return "sinfo not found (no SLURM client)"
    try:
        done = subprocess.run(["sinfo", "-h", "-p", PARTITION, "-o", "%t"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "sinfo timed out"
    if done.returncode != 0 or not set(done.stdout.split()) & {"idle", "mix", "alloc"}:
        return f"no usable node in partition {PARTITION}: {done.stdout.strip()} {done.stderr.strip()}"
    return None


@pytest.fixture(scope="module")
def slurm_partition():
    """The partition of a SLURM that runs jobs; fails under REQUIRE_SLURM=1 if there is none, else skips."""
    problem = slurm_problem()
    if problem:
        if os.environ.get("REQUIRE_SLURM") == "1":
            pytest.fail(f"REQUIRE_SLURM=1 but SLURM cannot run jobs: {problem} (bash .ci/slurm_up.sh starts one)")
        pytest.skip(f"no SLURM here: {problem}")
    return PARTITION


def scontrol_job(job_id):
    """A job's fields as slurmctld reports them (kept MinJobAge seconds after its end)."""
    out = subprocess.run(["scontrol", "-o", "show", "job", str(job_id)], capture_output=True, text=True).stdout
    return dict(item.split("=", 1) for item in out.split() if "=" in item)


def test_grid_runs_as_slurm_jobs_stage2_after_stage1_and_a_requeued_job_resumes(
    slurm_partition, generated_corpus, tiny_backbone, tmp_path
):
    output = str(tmp_path / "results")
    # fmt: off
    command = run_folds_command(
        generated_corpus[0], tiny_backbone, output,
        "--launcher", "slurm", "--slurm_partition", slurm_partition, "--gpus_per_node", "0", "--cpus_per_task", "1",
        "--slurm_time", "10", "--stage1_args", "--number_of_epochs 3", "--stage2_args", "--number_of_epochs 1",
        folds=("1",),
    )
    # fmt: on
    # submitted without waiting: stage 2 waits for stage 1
    submitted = run_recipe(*command, "--no_wait").stdout
    jobs = read_jobs(os.path.join(output, EXPERIMENT))
    stage1_job, stage2_job = jobs[f"{RUN1}/stage1"]["job_id"], jobs[f"{RUN1}/stage2"]["job_id"]
    assert f"{FOLD1} stage1: submitted as SLURM job {stage1_job}" in submitted
    assert f"{FOLD1} stage2: submitted as SLURM job {stage2_job}, to start after job {stage1_job}" in submitted
    assert "not waiting (--no_wait)" in submitted

    # the same command watches those jobs; stage 1's job is interrupted after its first epoch, with the signal
    # SLURM sends before a time limit (what submitit's job._interrupt(timeout=True) sends)
    stage1 = os.path.join(output, EXPERIMENT, RUN1, "stage1")
    watcher = start_driver(command, tmp_path / "watcher.log")
    try:
        wait_for_epoch(watcher, stage1)
        subprocess.run(["scancel", "--signal=USR2", stage1_job], check=True)
        returncode = watcher.wait(timeout=600)
    finally:
        if watcher.poll() is None:
            watcher.kill()
    log = (tmp_path / "watcher.log").read_text(encoding="utf-8")
    assert returncode == 0, log
    assert f"{FOLD1} stage1: already submitted as SLURM job {stage1_job}" in log
    assert f"{FOLD1} stage2: already submitted as SLURM job {stage2_job}" in log
    assert re.search(rf"{FOLD1} stage1: epoch 1/3, valid UA [\d.]+", log), "progress of the running job"

    # SLURM's own record: stage 1 requeued once and completed, stage 2 started after stage 1 ended
    first, second = scontrol_job(stage1_job), scontrol_job(stage2_job)
    assert first["JobState"] == "COMPLETED" and first["Restarts"] == "1", first
    assert second["JobState"] == "COMPLETED" and second["Restarts"] == "0", second
    ended, started = (datetime.datetime.fromisoformat(t) for t in (first["EndTime"], second["StartTime"]))
    assert started >= ended

    # the requeued job resumed stage 1 from its checkpoint: a second attempt that did not start at epoch 1
    attempts = open(os.path.join(output, EXPERIMENT, RUN1, "stage1.log"), encoding="utf-8").read().split("===== ")
    resumed_epochs = [int(e) for e in re.findall(r"Going into epoch (\d+)", attempts[-1])]
    assert len(attempts) == 3 and resumed_epochs and min(resumed_epochs) > 1
    assert logged_epochs(stage1) == [1, 2, 3]
    job_output = open(os.path.join(output, EXPERIMENT, "slurm", stage1_job, f"{stage1_job}_0_log.out")).read()
    assert f"Requeued job {stage1_job}" in job_output
    assert load_json(stage1, "run_folds.json")["slurm_job_id"] == stage1_job

    # results and summary as a local run writes them
    summary = load_json(output, EXPERIMENT, "summary.json")
    assert summary["folds"] == [1] and summary["final_stage"] == "stage2"
    assert (
        summary["stages"]["stage2"]["runs"][0]["UA"]
        == load_json(output, EXPERIMENT, RUN1, "stage2", "test_metrics.json")["UA"]
    )
    assert logged_epochs(os.path.join(output, EXPERIMENT, RUN1, "stage2")) == [1]


def test_slurm_dry_run_shows_the_command_of_every_job_and_submits_nothing(generated_corpus, tiny_backbone, tmp_path):
    output = str(tmp_path / "results")
    command = run_folds_command(
        generated_corpus[0], tiny_backbone, output, "--launcher", "slurm", "--gpus_per_node", "0", "--dry_run"
    )
    done = subprocess.run([sys.executable, *command], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for fold in (1, 2):
        for stage, script in (("stage1", "train_stage1.py"), ("stage2", "train_stage2.py")):
            assert re.search(
                rf"fold {fold} seed {SEED} {stage}: would submit a SLURM job running \S+ \S*{script} .*--device cpu",
                done.stdout,
            )
    assert not os.path.exists(os.path.join(output, EXPERIMENT, "slurm_jobs.json")), "nothing submitted"


def test_failed_stage1_job_is_reported_with_its_log_and_its_stage2_job_cancelled(
    slurm_partition, generated_corpus, tiny_backbone, tmp_path
):
    output = str(tmp_path / "results")
    # stage 1 fails at its start: a learning rate that is not a number (refused with exit status 2)
    # fmt: off
    command = run_folds_command(
        generated_corpus[0], tiny_backbone, output,
        "--launcher", "slurm", "--slurm_partition", slurm_partition, "--gpus_per_node", "0", "--cpus_per_task", "1",
        "--slurm_time", "10", "--stage1_args", "--lr notanumber", folds=("1",),
    )
    # fmt: on
    done = subprocess.run([sys.executable, *command], cwd=REPO, capture_output=True, text=True, timeout=600)
    jobs = read_jobs(os.path.join(output, EXPERIMENT))
    stage1_job, stage2_job = jobs[f"{RUN1}/stage1"]["job_id"], jobs[f"{RUN1}/stage2"]["job_id"]
    stage_log = os.path.join(output, EXPERIMENT, RUN1, "stage1.log")
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        f"FAILED: {FOLD1} stage1 failed: SLURM job {stage1_job}: train_stage1.py exited with code 2 after"
        in done.stderr
    )
    assert f"(log: {stage_log})" in done.stderr, "the stage's log is named"
    assert "--lr notanumber: the backbone's learning rate must be a number > 0" in done.stderr, "and its end shown"
    assert f"{FOLD1} stage2: cancelled SLURM job {stage2_job}: stage1 failed" in done.stdout
    assert scontrol_job(stage1_job)["JobState"] == "FAILED"
    never_ran = scontrol_job(stage2_job)
    # never given a node; RunTime cannot tell: slurmctld 22.05 reports EndTime minus epoch when the job is
    # cancelled before its dependency is evaluated (StartTime=Unknown)
    assert never_ran["JobState"] == "CANCELLED" and never_ran["NodeList"] == "" and "BatchHost" not in never_ran, (
        never_ran
    )
    assert not os.path.exists(os.path.join(output, EXPERIMENT, RUN1, "stage2.log")), "stage 2 never started"
