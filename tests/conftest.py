"""Shared fixtures: a tiny random wav2vec 2.0 folder, a generated IEMOCAP-format corpus, trained runs of both
stages on it, their exported model folders and those folders loaded, each built once per test session and reused
(by every pytest-xdist worker: ``built_once``); and the helpers the inference tests share."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from filelock import FileLock

from custom_modules.handoff import MODEL_CONFIG_FILE
from recipes.demo import DEFAULT_EPOCHS, TINY_BACKBONE_OVERRIDES
from synthetic.backbones import build_backbone

REPO = Path(__file__).resolve().parents[1]
TEST_SESSION = "2"
# The tiny backbone's overrides of the demo (everything else is the recipe's yaml as users run it).
FAST_TRAINING = TINY_BACKBONE_OVERRIDES
STAGE1_EPOCHS = STAGE2_EPOCHS = str(DEFAULT_EPOCHS)
STAGES = ("stage1", "stage2")
N_HELD_OUT = 6
# The Hugging Face repository the stage-2 export is made for (its model card loads from it); stage 1's card keeps
# the placeholder.
STAGE2_REPO_ID = "test-user/ser-two-stage-fold2"


def import_blocker(packages, reason):
    """Code that a script run in a fresh interpreter starts with: from there on, importing any of ``packages``
    (or their modules) fails with ``ModuleNotFoundError: <module> <reason>``; ``BLOCKED`` names them."""
    return f"""
import importlib.abc
import sys

BLOCKED = {tuple(packages)!r}


class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"{{fullname}} {reason}")
        return None


sys.meta_path.insert(0, Blocked())
"""


# Code for scripts run in a fresh interpreter that must work without this repository: from here on, importing
# one of the recipe's packages fails (the environment's editable install would otherwise find them).
WITHOUT_THE_RECIPE = import_blocker(
    ("custom_modules", "recipes", "synthetic", "iemocap_prepare", "train_stage1", "train_stage2", "tests"),
    "is the training repository's: an exported model must not need it",
)
# One intra-op thread, here and in the commands run: on a shared 2-core machine torch's two threads wait for
# each other whenever the other core is busy (the tiny model ran 80x slower with 2 threads than with 1 there).
ONE_THREAD = {"OMP_NUM_THREADS": "1"}
# pytest.ini runs the suite in two pytest-xdist workers, one per core of CI's machine: each worker and every command
# it runs keeps to one thread, for the reason above.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.update(ONE_THREAD)


def built_once(tmp_path_factory, name, build):
    """A folder built once per test session and shared by its pytest-xdist workers: the first worker that needs
    it builds it (under a file lock), the others wait for it and reuse it.

    Arguments
    ---------
    tmp_path_factory : pytest.TempPathFactory
    name : str
        The folder's name in the session's temporary folder.
    build : callable
        ``build(folder)``: fills the (new, empty) folder.

    Returns
    -------
    pathlib.Path
    """
    base = tmp_path_factory.getbasetemp()
    # Each worker has a folder of its own in the session's; without workers the session's is this one.
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder, built = root / name, root / f"{name}.built"
    with FileLock(str(root / f"{name}.lock")):
        if not built.exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a failed build left
            folder.mkdir()
            build(folder)
            built.touch()
    return folder


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


def run_command(*args, cwd=REPO, env=None):
    """Runs ``python <args>`` with one torch thread and returns the finished process, whatever its exit status."""
    return subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**(env or os.environ), **ONE_THREAD},
        timeout=600,
    )


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory):
    """A local Hugging Face folder holding a randomly initialised 2-layer wav2vec 2.0."""
    folder = built_once(tmp_path_factory, "backbone", lambda folder: build_backbone(str(folder / "tiny"), "tiny", 0))
    return str(folder / "tiny")


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

    def generate(parent):
        truth = generate_corpus(str(parent / "IEMOCAP_full_release"), seed=0)
        (parent / "truth.json").write_text(json.dumps(truth), encoding="utf-8")

    parent = built_once(tmp_path_factory, "corpus", generate)
    truth = json.loads((parent / "truth.json").read_text(encoding="utf-8"))
    return str(parent), str(parent / "IEMOCAP_full_release"), truth


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

    def train(folder):
        run_recipe(*stage1_command(generated_corpus[0], tiny_backbone, str(folder / "stage1")))

    return str(built_once(tmp_path_factory, "stage1_run", train) / "stage1")


@pytest.fixture(scope="session")
def stage2_run(generated_corpus, tiny_backbone, stage1_run, tmp_path_factory):
    """A finished stage-2 run (adapters, emotion + gender + style, fusion, SCL_cos) on top of ``stage1_run``."""

    def train(folder):
        run_recipe(*stage2_command(generated_corpus[0], tiny_backbone, stage1_run, str(folder / "stage2")))

    return str(built_once(tmp_path_factory, "stage2_run", train) / "stage2")


# The dimension tasks as IEMOCAP's reader names them, and the early-stopping stage 1 that learns them.
DIMENSIONS = ("arousal", "valence", "dominance")
DIMENSION_STAGE1_EPOCHS = "6"
DIMENSION_STAGE1_EXTRA = ("--aux_tasks", "[asr, arousal, valence, dominance]", "--patience", "1")
DIMENSION_STAGE1_EXTRA += ("--class_weights", "balanced")


@pytest.fixture(scope="session")
def dimension_stage1_run(generated_corpus, tiny_backbone, tmp_path_factory):
    """A stage-1 run with the three dimensions beside ASR, balanced class weights and early stopping (patience 1,
    which stops it before its last epoch on fold 2): ``(output folder, its command)``."""
    output = str(tmp_path_factory.mktemp("runs") / "stage1_dimensions")
    command = stage1_command(
        generated_corpus[0], tiny_backbone, output, *DIMENSION_STAGE1_EXTRA, epochs=DIMENSION_STAGE1_EPOCHS
    )
    run_recipe(*command, env=ONE_THREAD)
    return output, command


@pytest.fixture(scope="session")
def dimension_stage2_run(generated_corpus, tiny_backbone, dimension_stage1_run, tmp_path_factory):
    """Stage 2 with the three dimensions added to gender and style, their latents in the fusion, on
    ``dimension_stage1_run``. Without the SCL: SCL_cos pulls the valence latent onto the others, and valence is not
    learnt in these few epochs (README, "Dimensions: arousal, valence, dominance")."""
    output = str(tmp_path_factory.mktemp("runs") / "stage2_dimensions")
    tasks = ("--aux_tasks", "[gender, style, arousal, valence, dominance]", "--scl", "none")
    command = stage2_command(generated_corpus[0], tiny_backbone, dimension_stage1_run[0], output, *tasks)
    run_recipe(*command, env=ONE_THREAD)
    return output


@pytest.fixture(scope="session")
def held_out_files(stage2_run):
    """Test-session wav files of the generated corpus (never trained on), short and long ones."""
    with open(os.path.join(stage2_run, "manifests", "test.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    by_duration = sorted(manifest.values(), key=lambda entry: (entry["duration"], entry["wav"]))
    step = len(by_duration) // N_HELD_OUT
    return [entry["wav"] for entry in by_duration[::step][:N_HELD_OUT]]


@pytest.fixture(scope="session")
def exported(stage1_run, stage2_run, tiny_backbone, tmp_path_factory):
    """Both runs exported by ``recipes/export.py`` (LoRA folded, the default; stage 2 for ``STAGE2_REPO_ID``; with
    ``--onnx --quantize int8``, so both folders also hold the ONNX files and ``onnx_interface.py``) from moved
    copies of the runs and the backbone, the copies deleted afterwards: nothing the export wrote can
    lean on a training-time path.

    Returns ``{"stage1": folder, "stage2": folder, "gone": [deleted paths]}``.
    """
    moved_names = {stage1_run: "stage1", stage2_run: "stage2", tiny_backbone: "backbone"}

    def export(root):
        moved = {original: root / "moved" / name for original, name in moved_names.items()}
        for original, copy in moved.items():
            shutil.copytree(original, copy)
        for stage in STAGES:
            # What a user does after moving runs apart: the paths inside their files follow them.
            for name in ("hyperparams.yaml", MODEL_CONFIG_FILE):
                file = root / "moved" / stage / name
                text = file.read_text(encoding="utf-8")
                for original in sorted(moved, key=len, reverse=True):
                    text = text.replace(original, str(moved[original]))
                file.write_text(text, encoding="utf-8")
        config_file = root / "moved" / "stage2" / MODEL_CONFIG_FILE
        config = json.loads(config_file.read_text(encoding="utf-8"))
        config["stage1_folder"] = os.path.join("..", "stage1")
        config_file.write_text(json.dumps(config), encoding="utf-8")
        folders, run_of = {}, dict(zip(STAGES, (stage1_run, stage2_run)))
        for stage in STAGES:
            folders[stage] = str(root / f"exported_{stage}")
            repo = ["--repo_id", STAGE2_REPO_ID] if stage == "stage2" else []
            run_recipe(
                "recipes/export.py", "--experiment_folder", moved[run_of[stage]],
                "--output_folder", folders[stage], *repo, "--onnx", "--quantize", "int8", env=ONE_THREAD,
            )  # fmt: skip
        shutil.rmtree(root / "moved")

    root = built_once(tmp_path_factory, "export", export)
    folders = {stage: str(root / f"exported_{stage}") for stage in STAGES}
    return {**folders, "gone": [str(root / "moved" / name) for name in moved_names.values()]}


@pytest.fixture(scope="session")
def recognizers(exported):
    """Both exported models loaded in this process with ``foreign_class`` (sys.path restored afterwards)."""
    from speechbrain.inference.interfaces import foreign_class

    saved_path = list(sys.path)
    try:
        return {
            stage: foreign_class(
                source=exported[stage], pymodule_file="custom_interface.py", classname="EmotionRecognizer"
            )
            for stage in STAGES
        }
    finally:
        sys.path[:] = saved_path


def audio_input_error(recognizer):
    """The ``AudioInputError`` class of a loaded model: its own bundled copy (custom_interface.py), not ours."""
    return sys.modules[type(recognizer).__module__].AudioInputError


def assert_same_predictions(got, expected, atol):
    """Two ``predict_files`` results agree: the same labels and transcript, probabilities within ``atol``."""
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        if key.endswith("_probs"):
            assert got[key].keys() == value.keys()
            assert list(got[key].values()) == pytest.approx(list(value.values()), abs=atol), (got["file"], key)
        elif key != "file":
            assert got[key] == value, (got["file"], key)


def write_float_wav(path, signal, sample_rate):
    """Writes a float32 wav (no 16-bit rounding between the variants a test compares)."""
    soundfile.write(str(path), np.asarray(signal, dtype=np.float32), sample_rate, subtype="FLOAT")
    return str(path)
