"""Stage 1 end to end on the generated corpus with the tiny backbone: learning, metrics, resuming, overrides."""

import json
import os
import re

import pytest

from custom_modules.constants import EMOTIONS
from custom_modules.metrics import classification_summary
from tests.conftest import run_recipe, stage1_command

LOG_LINE = re.compile(r"^epoch: (\d+), .* - train loss: ([\d.e+-]+).* - valid loss: ([\d.e+-]+).*valid UA: ([\d.e+-]+)")


def read_train_log(folder):
    """``[(epoch, train loss, valid loss, valid UA)]`` from a run's train_log.txt."""
    rows = []
    with open(os.path.join(folder, "train_log.txt"), encoding="utf-8") as handle:
        for line in handle:
            match = LOG_LINE.match(line)
            if match:
                rows.append((int(match.group(1)), *map(float, match.groups()[1:])))
    return rows


def load_json(folder, name):
    with open(os.path.join(folder, name), encoding="utf-8") as handle:
        return json.load(handle)


def test_stage1_training_loss_falls_and_emotion_is_learned(stage1_run):
    log = read_train_log(stage1_run)
    assert [row[0] for row in log] == list(range(1, len(log) + 1))
    first_loss, last_loss = log[0][1], log[-1][1]
    assert last_loss < 0.7 * first_loss
    best_valid_ua = max(row[3] for row in log)
    assert best_valid_ua >= 45.0, f"valid UA {best_valid_ua} is not clearly above chance (25)"
    metrics = load_json(stage1_run, "test_metrics.json")
    assert metrics["UA"] > 35.0
    assert metrics["epoch"] == max(log, key=lambda row: row[3])[0], "the checkpoint of best valid UA is tested"


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


def test_stage1_rerun_resumes_from_its_checkpoint(generated_corpus, tiny_backbone, tmp_path):
    output = str(tmp_path / "stage1")
    command = stage1_command(generated_corpus[0], tiny_backbone, output, epochs="2")
    run_recipe(*command)
    first_metrics = load_json(output, "test_metrics.json")
    again = run_recipe(*command)
    assert "Going into epoch" not in again.stdout + again.stderr, "a finished run must not train again"
    assert load_json(output, "test_metrics.json")["UA"] == first_metrics["UA"]
    longer = run_recipe(*stage1_command(generated_corpus[0], tiny_backbone, output, epochs="3"))
    log = longer.stdout + longer.stderr
    assert "Going into epoch 3" in log and "Going into epoch 1" not in log
    assert [row[0] for row in read_train_log(output)] == [1, 2, 3]


def test_single_stage_adapter_row_trains_only_adapters_and_heads(generated_corpus, tiny_backbone, tmp_path):
    # Table 1, adapters only, SER + gender + style.
    output = str(tmp_path / "single_stage_adapters")
    overrides = ["--finetune", "adapters", "--task_adapters", "True", "--aux_tasks", "[gender, style]"]
    run_recipe(*stage1_command(generated_corpus[0], tiny_backbone, output, *overrides, epochs="1"))
    metrics = load_json(output, "test_metrics.json")
    assert {"gender_UA", "style_UA"} <= set(metrics) and "WER" not in metrics
    assert metrics["parameters"]["trainable_share"] < 0.5
    assert metrics["settings"]["finetune"] == "adapters"
