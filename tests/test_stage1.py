"""Stage 1 end to end on the generated corpus with the tiny backbone: learning, metrics, resuming, overrides."""

import json
import os

import pytest

from custom_modules.constants import EMOTIONS
from custom_modules.metrics import classification_summary
from custom_modules.metrics_log import METRICS_LOG, read_metrics_log
from tests.conftest import run_recipe, stage1_command


def read_epoch_metrics(folder):
    """``[(epoch, train loss, valid loss, valid UA)]`` from a run's metrics.jsonl, one row per recorded epoch."""
    records = read_metrics_log(os.path.join(folder, METRICS_LOG))["epochs"]
    return [(r["epoch"], r["train"]["loss"], r["valid"]["loss"], r["valid"]["UA"]) for r in records]


def logged_epochs(folder):
    """Every epoch record of a run's metrics.jsonl in file order (an epoch recorded twice would show twice)."""
    with open(os.path.join(folder, METRICS_LOG), encoding="utf-8") as handle:
        return [record["epoch"] for record in map(json.loads, handle) if "epoch" in record]


def load_json(folder, name):
    with open(os.path.join(folder, name), encoding="utf-8") as handle:
        return json.load(handle)


def test_stage1_training_loss_falls_and_emotion_is_learned(stage1_run):
    log = read_epoch_metrics(stage1_run)
    assert [row[0] for row in log] == list(range(1, len(log) + 1))
    first_loss, last_loss = log[0][1], log[-1][1]
    assert last_loss < 0.7 * first_loss
    best_valid_ua = max(row[3] for row in log)
    assert best_valid_ua >= 45.0, f"valid UA {best_valid_ua} is not clearly above chance (25)"
    metrics = load_json(stage1_run, "test_metrics.json")
    assert metrics["UA"] > 35.0
    assert metrics["epoch"] == max(log, key=lambda row: row[3])[0], "the checkpoint of best valid UA is tested"
    records = read_metrics_log(os.path.join(stage1_run, METRICS_LOG))
    assert records["test"]["epoch loaded"] == metrics["epoch"] and records["test"]["test"]["UA"] == metrics["UA"]
    assert {r["number_of_epochs"] for r in records["epochs"]} == {len(log)}
    assert all(r["lr_encoder"] > 0 and r["lr_heads"] > 0 for r in records["epochs"])


def test_stage1_test_metrics_agree_with_the_saved_predictions(stage1_run):
    metrics = load_json(stage1_run, "test_metrics.json")
    predictions = load_json(stage1_run, "test_predictions.json")
    manifest = load_json(os.path.join(stage1_run, "manifests"), "test.json")
    assert {p["id"] for p in predictions} == set(manifest)
    recomputed = classification_summary(
        [EMOTIONS.index(p["emo"]) for p in predictions], [EMOTIONS.index(p["emo_pred"]) for p in predictions], EMOTIONS
    )
    for key in ("WA", "UA", "per_class_recall", "confusion_matrix", "count"):
        assert metrics[key] == recomputed[key], key
    assert all(p["emo"] == manifest[p["id"]]["emo"] for p in predictions)
    # WER from the saved hypotheses and the manifest's transcripts
    from speechbrain.utils.metric_stats import ErrorRateStats

    wer = ErrorRateStats()
    wer.append(
        [p["id"] for p in predictions],
        [p["hypothesis"].split() for p in predictions],
        [manifest[p["id"]]["transcript"].split() for p in predictions],
    )
    assert metrics["WER"] == pytest.approx(wer.summarize("error_rate"))
    assert metrics["parameters"]["trainable"] < metrics["parameters"]["total"]
    assert metrics["settings"]["aux_tasks"] == ["asr"]


def tensorboard_scalars(folder):
    """Tag -> [(step, value)] from the TensorBoard event files of a folder, read by TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(folder)
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_stage1_rerun_resumes_from_its_checkpoint_and_its_tensorboard_curves_continue(
    generated_corpus, tiny_backbone, tmp_path
):
    output = str(tmp_path / "stage1")
    with_tensorboard = ["--use_tensorboard", "True"]
    command = stage1_command(generated_corpus[0], tiny_backbone, output, *with_tensorboard, epochs="2")
    run_recipe(*command)
    first_metrics = load_json(output, "test_metrics.json")
    again = run_recipe(*command)
    assert "Going into epoch" not in again.stdout + again.stderr, "a finished run must not train again"
    assert load_json(output, "test_metrics.json")["UA"] == first_metrics["UA"]
    longer = run_recipe(*stage1_command(generated_corpus[0], tiny_backbone, output, *with_tensorboard, epochs="3"))
    log = longer.stdout + longer.stderr
    assert "Going into epoch 3" in log and "Going into epoch 1" not in log
    assert logged_epochs(output) == [1, 2, 3]

    # TensorBoard: one valid UA per epoch at the epoch's step across the resumed runs, as in metrics.jsonl, and the
    # test of the selected checkpoint at the selected epoch
    scalars = tensorboard_scalars(os.path.join(output, "tensorboard"))
    valid_ua = [(epoch, ua) for epoch, _, _, ua in read_epoch_metrics(output)]
    assert [step for step, _ in scalars["UA/valid"]] == [1, 2, 3]
    assert [value for _, value in scalars["UA/valid"]] == pytest.approx([ua for _, ua in valid_ua])
    metrics = load_json(output, "test_metrics.json")
    assert scalars["UA/test"][-1] == (metrics["epoch"], pytest.approx(metrics["UA"]))
    assert {"loss/train", "loss/valid", "WER/valid", "lr_encoder"} <= set(scalars)


def test_tensorboard_is_off_by_default(stage1_run):
    assert not os.path.exists(os.path.join(stage1_run, "tensorboard"))
    assert os.path.isfile(os.path.join(stage1_run, METRICS_LOG))


def test_single_stage_adapter_row_trains_only_adapters_and_heads(generated_corpus, tiny_backbone, tmp_path):
    # Table 1, adapters only, SER + gender + style.
    output = str(tmp_path / "single_stage_adapters")
    overrides = ["--finetune", "adapters", "--task_adapters", "True", "--aux_tasks", "[gender, style]"]
    run_recipe(*stage1_command(generated_corpus[0], tiny_backbone, output, *overrides, epochs="1"))
    metrics = load_json(output, "test_metrics.json")
    assert {"gender_UA", "style_UA"} <= set(metrics) and "WER" not in metrics
    assert metrics["parameters"]["trainable_share"] < 0.5
    assert metrics["settings"]["finetune"] == "adapters"


def test_stage1_records_its_spec_augment_and_ctc_scale(stage1_run):
    from custom_modules.handoff import read_model_config

    config = read_model_config(stage1_run)
    assert config["encoder"]["spec_augment"] is True
    assert config["backbone"]["hf_config"]["apply_spec_augment"] is True
    assert config["backbone"]["hf_config"]["mask_time_prob"] > 0, "the tiny backbone masks as hub checkpoints do"
    settings = load_json(stage1_run, "test_metrics.json")["settings"]
    assert settings["spec_augment"] is True and settings["ctc_reduction"] == "mean"  # the tiny backbone's override
