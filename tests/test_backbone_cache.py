"""One copy of the backbone per machine: a hub id is looked up in the Hugging Face cache (offline too), stage 2
never touches the hub, and a local folder is read in place. The cache is a real one (``synthetic.hub_cache``
writes the layout huggingface_hub reads) in a temporary ``HF_HOME``; the recipe runs in subprocesses, offline."""

import hashlib
import json
import os
import shlex
import subprocess
import sys

import pytest

from custom_modules.constants import DEFAULT_SEED
from synthetic.hub_cache import write_hub_cache
from tests.conftest import FAST_TRAINING, REPO

HUB_ID = "user/tiny"
# Two rows that need two different stage 1s (table1_full_ser trains SER only), one of them with a stage 2.
ROWS = ("table3_concat_scl_cos", "table1_full_ser")
FOLDS = ("1", "2")


def file_digest(path):
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def copies_of(weights_file, *folders):
    """Regular files (symlinks are not copies) under ``folders`` whose bytes are those of ``weights_file``."""
    size, digest = os.path.getsize(weights_file), file_digest(weights_file)
    copies = []
    for folder in folders:
        for root, _, names in os.walk(folder):
            for name in names:
                path = os.path.join(root, name)
                if not os.path.islink(path) and os.path.getsize(path) == size and file_digest(path) == digest:
                    copies.append(path)
    return copies


@pytest.fixture(scope="module")
def hub_grid(generated_corpus, tiny_backbone, tmp_path_factory):
    """Two rows x two folds of run_folds.py on the hub id ``user/tiny``, offline, found in a Hugging Face cache
    in a fresh ``HF_HOME``: ``(HF_HOME, output folder, run_folds.py's output)``."""
    hf_home = tmp_path_factory.mktemp("hf_home")
    write_hub_cache(tiny_backbone, HUB_ID, str(hf_home / "hub"))
    output = tmp_path_factory.mktemp("grid") / "results"
    env = {key: value for key, value in os.environ.items() if key not in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")}
    env.update(HF_HOME=str(hf_home), HF_HUB_OFFLINE="1")
    logs = []
    for row in ROWS:
        # fmt: off
        command = [
            sys.executable, "recipes/run_folds.py", "--experiment", row, "--data_folder", generated_corpus[0],
            "--output_folder", str(output), "--folds", *FOLDS, "--wav2vec2_hub", HUB_ID, "--devices", "cpu", "cpu",
            "--extra_args", shlex.join([*FAST_TRAINING, "--number_of_epochs", "1"]),
        ]
        # fmt: on
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env, timeout=900)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        logs.append(done.stdout + done.stderr)
    return str(hf_home), str(output), "\n".join(logs)


def test_a_grid_on_a_hub_id_keeps_one_copy_of_the_backbone_and_runs_offline(hub_grid, tiny_backbone):
    hf_home, output, log = hub_grid
    stage_runs = [
        os.path.join(output, row, f"seed{DEFAULT_SEED}", f"fold{fold}", stage)
        for row, stages in zip(ROWS, (("stage1", "stage2"), ("stage1",)))
        for fold in FOLDS
        for stage in stages
    ]
    for run in stage_runs:
        assert os.path.isfile(os.path.join(run, "test_metrics.json")), run
    assert log.count("finished in") == len(stage_runs), "two different stage 1s per fold, and stage 2, all trained"
    copies = copies_of(os.path.join(tiny_backbone, "model.safetensors"), hf_home, output)
    blobs = os.path.join(hf_home, "hub", "models--user--tiny", "blobs")
    assert len(copies) == 1 and os.path.dirname(copies[0]) == blobs, copies
    # Stage 1 recorded the hub id; stage 2 built the backbone from what stage 1 saved and checked it by name.
    for run in stage_runs:
        with open(os.path.join(run, "model_config.json"), encoding="utf-8") as handle:
            assert json.load(handle)["backbone"]["source"] == HUB_ID


def test_a_backbone_cache_without_the_model_fails_offline(generated_corpus, hub_grid, tmp_path):
    # The fixture's runs found the model because they looked in the Hugging Face cache: a run told to look
    # elsewhere (the old layout, a folder per run) cannot find it offline.
    hf_home = hub_grid[0]
    env = {**os.environ, "HF_HOME": hf_home, "HF_HUB_OFFLINE": "1"}
    # fmt: off
    command = [
        sys.executable, "train_stage1.py", "hparams/stage1.yaml", "--data_folder", generated_corpus[0],
        "--output_folder", str(tmp_path / "run"), "--wav2vec2_hub", HUB_ID,
        "--backbone_cache", str(tmp_path / "run" / "save" / "wav2vec2_hub"),
    ]
    # fmt: on
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env, timeout=300)
    # The run's log has been set up by then (the fold is prepared first): the error is logged to the console and
    # to the run's log.txt.
    assert done.returncode != 0 and "couldn't find them in the cached files" in done.stdout + done.stderr
    assert "couldn't find them in the cached files" in (tmp_path / "run" / "log.txt").read_text(encoding="utf-8")


def test_a_local_backbone_folder_is_read_in_place(stage1_run, stage2_run, tiny_backbone):
    weights = os.path.join(tiny_backbone, "model.safetensors")
    assert copies_of(weights, stage1_run, stage2_run) == []
    assert copies_of(weights, os.path.dirname(tiny_backbone)) == [weights]
