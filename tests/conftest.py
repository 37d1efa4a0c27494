"""Shared fixtures: a tiny random wav2vec 2.0 folder, a generated IEMOCAP-format corpus, and trained runs of
both stages on it, each built once per test session and reused."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from recipes.demo import DEFAULT_EPOCHS, TINY_BACKBONE_OVERRIDES
from synthetic.backbones import build_backbone

REPO = Path(__file__).resolve().parents[1]
TEST_SESSION = "2"
# The tiny backbone's overrides of the demo (everything else is the recipe's yaml as users run it).
FAST_TRAINING = TINY_BACKBONE_OVERRIDES
STAGE1_EPOCHS = STAGE2_EPOCHS = str(DEFAULT_EPOCHS)


def run_recipe(*args, env=None, timeout=900):
    """Runs a recipe command (``python <args>``) from the repository root; fails with its log if it fails."""
    done = subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-6000:]}"
        )
    return done


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory):
    """A local Hugging Face folder holding a randomly initialised 2-layer wav2vec 2.0."""
    return build_backbone(str(tmp_path_factory.mktemp("backbone") / "tiny"), "tiny", seed=0)


@pytest.fixture
def tiny_lobe(tiny_backbone, tmp_path):
    """Returns a factory of fresh SpeechBrain Wav2Vec2 lobes loaded from the tiny folder (the real code path)."""
    from speechbrain.integrations.huggingface import Wav2Vec2

    def make():
        return Wav2Vec2(tiny_backbone, save_path=str(tmp_path / "hf_cache"))

    return make


@pytest.fixture(scope="session")
def generated_corpus(tmp_path_factory):
    """A generated corpus in IEMOCAP_full_release layout: ``(parent folder, release folder, ground truth)``."""
    from synthetic.corpus import generate_corpus

    parent = tmp_path_factory.mktemp("corpus")
    release = parent / "IEMOCAP_full_release"
    truth = generate_corpus(str(release), seed=0)
    return str(parent), str(release), truth


@pytest.fixture
def corpus_copy(generated_corpus, tmp_path):
    """A private, writable copy of the generated release folder, for tests that damage it."""
    copy = tmp_path / "IEMOCAP_full_release"
    shutil.copytree(generated_corpus[1], copy)
    return str(copy)


def stage1_command(corpus_parent, backbone, output_folder, *extra, epochs=STAGE1_EPOCHS):
    """The stage-1 command line the tests run (the README's, with FAST_TRAINING)."""
    return [
        "train_stage1.py",
        "hparams/stage1.yaml",
        "--data_folder",
        corpus_parent,
        "--output_folder",
        output_folder,
        "--test_session",
        TEST_SESSION,
        "--wav2vec2_hub",
        backbone,
        "--number_of_epochs",
        epochs,
        *FAST_TRAINING,
        *extra,
    ]


def stage2_command(
    corpus_parent, backbone, stage1_folder, output_folder, *extra, epochs=STAGE2_EPOCHS, test_session=TEST_SESSION
):
    """The stage-2 command line the tests run."""
    return [
        "train_stage2.py",
        "hparams/stage2.yaml",
        "--data_folder",
        corpus_parent,
        "--stage1_folder",
        stage1_folder,
        "--output_folder",
        output_folder,
        "--test_session",
        test_session,
        "--wav2vec2_hub",
        backbone,
        "--number_of_epochs",
        epochs,
        *FAST_TRAINING,
        *extra,
    ]


@pytest.fixture(scope="session")
def stage1_run(generated_corpus, tiny_backbone, tmp_path_factory):
    """A finished stage-1 run (SER + CTC, full finetuning) on fold 2 of the generated corpus."""
    output = str(tmp_path_factory.mktemp("runs") / "stage1")
    run_recipe(*stage1_command(generated_corpus[0], tiny_backbone, output))
    return output


@pytest.fixture(scope="session")
def stage2_run(generated_corpus, tiny_backbone, stage1_run, tmp_path_factory):
    """A finished stage-2 run (adapters, emotion + gender + style, fusion, SCL_cos) on top of ``stage1_run``."""
    output = str(tmp_path_factory.mktemp("runs") / "stage2")
    run_recipe(*stage2_command(generated_corpus[0], tiny_backbone, stage1_run, output))
    return output
