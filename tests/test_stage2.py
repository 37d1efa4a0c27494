"""Stage 2 end to end: the stage-1 encoder stays bit-identical, only adapters and heads train, and it learns."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import torch

from custom_modules.handoff import (
    HandoffError,
    best_checkpoint,
    load_stage1_encoder,
    load_trained_run,
    read_model_config,
)
from tests.conftest import REPO, run_recipe, stage2_command
from tests.test_stage1 import load_json, read_epoch_metrics

ADAPTER_PARAMETER = re.compile(r"\.(adapter_down_proj|adapter_up_proj)\.(weight|bias)$")


@pytest.fixture(scope="module")
def stage2_model(stage2_run):
    """The trained stage-2 model, rebuilt as export rebuilds it."""
    encoder, heads, _ = load_trained_run(stage2_run)
    return {"encoder": encoder, "heads": heads}


def test_stage2_leaves_stage1_weights_bit_identical(stage1_run, stage2_model):
    stage1_state = torch.load(best_checkpoint(stage1_run).paramfiles["encoder"], weights_only=True)
    stage2_state = stage2_model["encoder"].state_dict()
    compared = 0
    for name, value in stage1_state.items():
        wrapped = {
            name,
            re.sub(r"(\.[qkv]_proj)\.", r"\1.pretrained_module.", name),
            re.sub(r"(\.output_dense)\.", r"\1.pretrained_linear.", name),
        }
        match = [n for n in wrapped if n in stage2_state]
        assert len(match) == 1, name
        assert torch.equal(stage2_state[match[0]], value), name
        compared += 1
    assert compared == len(stage1_state)


def test_stage2_trains_exactly_the_adapters_and_heads(stage2_run, stage2_model):
    encoder, heads = stage2_model["encoder"], stage2_model["heads"]
    trainable = encoder.trainable_parameter_names()
    assert trainable and all(ADAPTER_PARAMETER.search(name) for name in trainable)
    assert {n.split(".adapter_")[0].split(".")[-1] for n in trainable} == {"q_proj", "k_proj", "v_proj", "output_dense"}
    assert all(p.requires_grad for p in heads.parameters())
    # what a stage-2 checkpoint stores is exactly what trains
    checkpoint = best_checkpoint(stage2_run)
    saved = torch.load(checkpoint.paramfiles["encoder"], weights_only=True)
    assert set(saved) == set(trainable)
    metrics = load_json(stage2_run, "test_metrics.json")
    n_trainable = sum(p.numel() for m in (encoder, heads) for p in m.parameters() if p.requires_grad)
    assert metrics["parameters"]["trainable"] == n_trainable


def test_stage2_learns_emotion_with_fusion_and_scl_on_the_papers_task_adapters(stage2_run):
    log = read_epoch_metrics(stage2_run)
    assert log[-1][1] < log[0][1], "training loss must fall"
    metrics = load_json(stage2_run, "test_metrics.json")
    assert metrics["UA"] > 35.0
    assert {"gender_UA", "style_UA"} <= set(metrics)
    settings = metrics["settings"]
    assert settings["fusion"] is True and settings["scl"] == "cos" and settings["task_adapter_residual"] is False
    assert settings["spec_augment"] is True
    assert read_model_config(stage2_run)["heads"]["task_adapter_residual"] is False


@pytest.fixture(scope="module")
def no_fusion_run(generated_corpus, tiny_backbone, stage1_run, tmp_path_factory):
    """Table 3's first row (no fusion, no SCL) on ``stage1_run``: each task adapter serves its own task only."""
    output = str(tmp_path_factory.mktemp("runs") / "stage2_no_fusion")
    run_recipe(
        *stage2_command(generated_corpus[0], tiny_backbone, stage1_run, output, "--fusion", "False", "--scl", "none")
    )
    return output


def test_stage2_learns_gender_and_style_where_their_task_adapters_serve_them(no_fusion_run):
    # With fusion and the SCL the gender and style latents also serve emotion (README, "Choices the paper leaves
    # open"): on the generated corpus they then stay near chance, so their learning is checked here.
    metrics = load_json(no_fusion_run, "test_metrics.json")
    assert metrics["UA"] > 35.0
    assert metrics["gender_UA"] > 60.0
    assert metrics["style_UA"] > 60.0


def _unusable_stage1_folder(kind, tmp_path, stage1_run):
    folder = tmp_path / "stage1"
    if kind == "empty":
        folder.mkdir()
    elif kind == "manifests-only":
        shutil.copytree(os.path.join(stage1_run, "manifests"), folder / "manifests")
    return str(folder)


@pytest.mark.parametrize(
    "kind, message",
    [("missing", "does not exist"), ("empty", "holds no checkpoint"), ("manifests-only", "holds no checkpoint")],
)
def test_stage2_without_a_usable_stage1_folder_stops_with_the_fix(
    generated_corpus, tiny_backbone, stage1_run, tmp_path, kind, message
):
    stage1_folder = _unusable_stage1_folder(kind, tmp_path, stage1_run)
    log = _run_stage2_expecting_failure(generated_corpus, tiny_backbone, stage1_folder, tmp_path)
    assert message in log and "Run train_stage1.py" in log


def _run_stage2_expecting_failure(generated_corpus, backbone, stage1_folder, tmp_path, *overrides, **options):
    """Runs stage 2 with ``overrides`` (option, value pairs) in place of the test command's own values."""
    command = stage2_command(
        generated_corpus[0], backbone, stage1_folder, str(tmp_path / "stage2"), epochs="1", **options
    )
    for option, value in zip(overrides[::2], overrides[1::2]):
        if option in command:
            command[command.index(option) + 1] = value
        else:
            command += [option, value]
    done = subprocess.run([sys.executable, *command], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode != 0
    assert "train_stage2.py: error: " in done.stderr
    assert "Traceback" not in done.stdout + done.stderr, "an expected input error is a message, not a crash"
    return done.stdout + done.stderr


def test_stage2_on_a_stage1_model_of_another_shape_stops_with_the_fix(generated_corpus, stage1_run, tmp_path):
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    from synthetic.backbones import ARCHITECTURES

    other = str(tmp_path / "wider")
    Wav2Vec2Model(Wav2Vec2Config(**{**ARCHITECTURES["tiny"], "hidden_size": 96})).save_pretrained(other)
    Wav2Vec2FeatureExtractor(return_attention_mask=True).save_pretrained(other)
    log = _run_stage2_expecting_failure(generated_corpus, other, stage1_run, tmp_path)
    assert "hidden_size: 64 in stage 1, 96 here" in log and "leave --wav2vec2_hub out" in log


@pytest.mark.parametrize(
    "extra, options, message",
    [
        ((), {"test_session": "3"}, "prepared with --test_fold 2, this run with --test_fold 3"),
        (("--valid_ratio", "0.3"), {}, "prepared with --valid_ratio 0.2, this run with --valid_ratio 0.3"),
        (("--seed", "7"), {}, "prepared with --seed 1986, this run with --seed 7"),
    ],
)
def test_stage2_with_another_split_than_stage1_stops_before_writing_anything(
    generated_corpus, tiny_backbone, stage1_run, tmp_path, extra, options, message
):
    log = _run_stage2_expecting_failure(generated_corpus, tiny_backbone, stage1_run, tmp_path, *extra, **options)
    assert message in log and "Pass --" in log
    assert not (tmp_path / "stage2").exists(), "refused before the output folder is made"


def test_stage2_validated_on_other_utterances_than_stage1_stops(generated_corpus, tiny_backbone, stage1_run, tmp_path):
    # The same options, but the stage-1 run's record says otherwise than its manifests (a corpus that changed).
    stage1_copy = tmp_path / "stage1"
    shutil.copytree(stage1_run, stage1_copy)
    valid = stage1_copy / "manifests" / "valid.json"
    manifest = json.loads(valid.read_text(encoding="utf-8"))
    manifest.pop(sorted(manifest)[0])
    valid.write_text(json.dumps(manifest), encoding="utf-8")
    log = _run_stage2_expecting_failure(generated_corpus, tiny_backbone, str(stage1_copy), tmp_path)
    assert "was validated on other utterances" in log


def test_a_stage2_run_given_as_stage1_folder_is_named_with_its_stage1(
    generated_corpus, tiny_backbone, stage2_run, stage1_run, tmp_path
):
    log = _run_stage2_expecting_failure(generated_corpus, tiny_backbone, stage2_run, tmp_path)
    assert f"--stage1_folder {stage2_run} is a stage-2 run (trained from the stage-1 run" in log
    assert os.path.normpath(stage1_run) in log


def _stage2_hparams(backbone, stage1_folder, tmp_path, **overrides):
    """Stage 2's hparams from its yaml, on the manifests of ``stage1_folder`` (as the same fold writes them)."""
    from hyperpyyaml import load_hyperpyyaml

    values = {
        "data_folder": str(tmp_path),
        "output_folder": str(tmp_path / "stage2"),
        "stage1_folder": stage1_folder,
        "manifest_folder": os.path.join(stage1_folder, "manifests"),
        "wav2vec2_hub": backbone,
        **overrides,
    }
    with open(REPO / "hparams" / "stage2.yaml", encoding="utf-8") as handle:
        return load_hyperpyyaml(handle, values)


def test_stage2_on_a_stage1_model_of_another_backbone_family_stops_with_the_fix(stage1_run, tmp_path):
    from synthetic.backbones import build_backbone

    # A HuBERT of the same shapes as stage 1's wav2vec 2.0: its parameters would load, silently, into another model.
    hubert = build_backbone(str(tmp_path / "tiny_hubert"), "tiny", family="hubert")
    with pytest.raises(HandoffError) as error:
        _stage2_hparams(hubert, stage1_run, tmp_path)
    message = str(error.value)
    assert "model_type: wav2vec2 in stage 1, hubert here" in message
    assert f"--wav2vec2_hub {read_model_config(stage1_run)['backbone']['source']}" in message


def test_stage2_on_an_unfinished_stage1_stops_unless_allowed(stage1_run, tiny_backbone, tmp_path):
    unfinished = str(tmp_path / "stage1")
    shutil.copytree(stage1_run, unfinished, ignore=shutil.ignore_patterns("test_metrics.json"))
    with pytest.raises(HandoffError, match="has not finished.*--allow_unfinished_stage1 True"):
        _stage2_hparams(tiny_backbone, unfinished, tmp_path)
    hparams = _stage2_hparams(tiny_backbone, unfinished, tmp_path, allow_unfinished_stage1=True)
    meta = load_stage1_encoder(hparams["encoder"], unfinished)
    assert meta["UA"] == best_checkpoint(stage1_run).meta["UA"]
