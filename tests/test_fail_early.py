"""A wrong corpus stops every entry point before anything expensive: the train scripts before their yaml builds the
backbone (a hub id that is nowhere, offline, would fail otherwise), run_folds.py before any fold starts."""

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

# Not in any cache: building it, offline, would end in transformers' OSError instead of the corpus message.
UNREACHABLE_BACKBONE = "no-such-user/no-such-backbone"


def run_entry_point(*args):
    """Runs a recipe command offline; returns ``(exit status, stdout + stderr)``."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, env=env, timeout=300)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("script", ["train_stage1.py", "train_stage2.py"])
def test_train_scripts_check_the_corpus_before_building_the_backbone(script, tmp_path):
    output = tmp_path / "run"
    stage = script[len("train_") : -len(".py")]
    args = [script, f"hparams/{stage}.yaml", "--data_folder", str(tmp_path / "nowhere"), "--output_folder", output]
    args += ["--wav2vec2_hub", UNREACHABLE_BACKBONE]
    if stage == "stage2":
        args += ["--stage1_folder", str(tmp_path / "no_stage1")]  # checked after the corpus
    status, log = run_entry_point(*map(str, args))
    assert status == 2
    assert f"{script}: error: --data_folder '{tmp_path / 'nowhere'}' does not exist" in log
    assert "Traceback" not in log and "OSError" not in log and "stage1_folder" not in log
    assert not output.exists(), "nothing is created before the corpus is checked"


def test_train_script_names_a_folder_that_is_not_the_corpus_and_a_wrong_test_session(generated_corpus, tmp_path):
    status, log = run_entry_point(
        "train_stage1.py", "hparams/stage1.yaml", "--data_folder", str(tmp_path), "--wav2vec2_hub",
        UNREACHABLE_BACKBONE, "--output_folder", str(tmp_path / "run"),
    )  # fmt: skip
    assert status == 2 and "is not IEMOCAP_full_release nor its parent: Session1/dialog/EmoEvaluation" in log
    status, log = run_entry_point(
        "train_stage1.py", "hparams/stage1.yaml", "--data_folder", generated_corpus[0], "--test_session", "6",
        "--wav2vec2_hub", UNREACHABLE_BACKBONE, "--output_folder", str(tmp_path / "run"),
    )  # fmt: skip
    assert status == 2 and "train_stage1.py: error: test_session must be one of 1, 2, 3, 4, 5 (got 6)" in log
    assert "OSError" not in log and not (tmp_path / "run").exists()


def test_run_folds_checks_the_corpus_once_before_any_fold(tmp_path):
    output = tmp_path / "results"
    status, log = run_entry_point(
        "recipes/run_folds.py", "--data_folder", str(tmp_path), "--output_folder", str(output),
        "--wav2vec2_hub", UNREACHABLE_BACKBONE,
    )  # fmt: skip
    assert status == 2
    assert f"'{tmp_path}' is not IEMOCAP_full_release nor its parent" in log
    assert log.count("is not IEMOCAP_full_release") == 1 and "fold 1" not in log
    assert not output.exists(), "no fold started"
