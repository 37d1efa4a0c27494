"""Arousal, valence and dominance as tasks (CCC, read from IEMOCAP's EmoEvaluation lines, learned by both stages,
output by the exported model), class weights for imbalanced corpora, and early stopping."""

import csv
import json
import os
import re

import numpy as np
import pytest
import scipy.stats
import torch

from corpora import CorpusError
from corpora.folds import check_run_corpus
from corpora.iemocap import collect_utterances
from custom_modules.early_stopping import epoch_counter, shortfall, training_end
from custom_modules.losses import ccc_loss, emotion_class_weights
from custom_modules.metrics import DimensionMetrics, concordance_correlation
from custom_modules.metrics_log import METRICS_LOG, read_metrics_log
from custom_modules.settings import SettingsError, checked_settings
from recipes import classify, timeline
from tests.conftest import DIMENSIONS, ONE_THREAD, run_recipe


def load_json(folder, name):
    with open(os.path.join(folder, name), encoding="utf-8") as handle:
        return json.load(handle)


def reference_ccc(x, y):
    """CCC from Pearson's r (scipy.stats) and the population standard deviations: 2 r sx sy / (sx² + sy² + Δμ²)."""
    r = scipy.stats.pearsonr(x, y).statistic
    sx, sy = np.std(x), np.std(y)
    return 2 * r * sx * sy / (sx**2 + sy**2 + (np.mean(x) - np.mean(y)) ** 2)


def test_ccc_matches_its_definition_and_a_scipy_pearson_computation_on_random_data():
    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.normal(3.0, 0.8, size=50)
        x = rng.uniform(0.2, 1.5) * y + rng.normal(rng.normal(0, 0.5), rng.uniform(0.1, 1.0), size=50)
        ccc = float(concordance_correlation(torch.tensor(x), torch.tensor(y)))
        assert ccc == pytest.approx(reference_ccc(x, y), abs=1e-10)
        covariance = np.mean((x - x.mean()) * (y - y.mean()))
        assert ccc == pytest.approx(2 * covariance / (x.var() + y.var() + (x.mean() - y.mean()) ** 2), abs=1e-10)
    y = torch.tensor([1.0, 2.0, 4.0, 5.0])
    assert float(concordance_correlation(y, y)) == pytest.approx(1.0)
    assert float(concordance_correlation(-y, y)) < 0
    metrics = DimensionMetrics()
    metrics.append(["a", "b", "c", "d"], y, torch.tensor([1.0, float("nan"), 4.0, 5.5]))
    kept = np.array([1.0, 4.0, 5.0]), np.array([1.0, 4.0, 5.5])
    assert metrics.summarize() == {"CCC": pytest.approx(reference_ccc(*kept)), "count": 3, "missing": 1}


def test_ccc_loss_gradient_pulls_predictions_towards_the_targets_in_mean_and_spread():
    targets = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    for start in (targets + 1.5, 0.2 * targets + 2.4, torch.tensor([3.0, 1.0, 4.0, 2.0, 2.5])):
        predictions = start.clone().requires_grad_(True)
        loss = ccc_loss(predictions, targets)
        loss.backward()
        stepped = predictions.detach() - 0.1 * predictions.grad
        assert float(ccc_loss(stepped, targets)) < float(loss.detach())
    # shifted up: every prediction is pushed down; too flat: the ends are pushed apart
    shifted = (targets + 1.5).requires_grad_(True)
    ccc_loss(shifted, targets).backward()
    assert (shifted.grad > 0).all()
    flat = (0.2 * targets + 2.4).requires_grad_(True)
    ccc_loss(flat, targets).backward()
    assert flat.grad[0] > 0 > flat.grad[-1]
    # unannotated utterances get no gradient
    partial = torch.tensor([2.0, 3.0, 9.0, 1.0]).requires_grad_(True)
    ccc_loss(partial, torch.tensor([1.0, 2.0, float("nan"), 3.0])).backward()
    assert partial.grad[2] == 0


def test_balanced_class_weights_come_from_the_training_split_counts_and_average_one():
    weights = emotion_class_weights({"neu": 40, "hap": 20, "ang": 20, "sad": 10}, "balanced")
    assert sum(weights.values()) / len(weights) == pytest.approx(1.0)
    assert weights["sad"] == pytest.approx(4 * weights["neu"]) and weights["hap"] == pytest.approx(weights["ang"])
    assert emotion_class_weights({"neu": 40, "hap": 20}, "none") is None
    with pytest.raises(ValueError, match="sad"):
        emotion_class_weights({"neu": 40, "sad": 0}, "balanced")


def test_dimensions_are_read_from_the_emoevaluation_lines_and_follow_the_audio(generated_corpus):
    release = generated_corpus[1]
    utterances, _ = collect_utterances(release)
    path = os.path.join(release, "Session1", "dialog", "EmoEvaluation", "Ses01F_impro01.txt")
    with open(path, encoding="utf-8") as handle:
        lines = [line.split("\t") for line in handle if line.startswith("[")]
    assert lines
    for _, utt_id, _label, triple in lines:
        if utt_id in utterances:
            valence, arousal, dominance = map(float, triple.strip().strip("[]").split(","))
            entry = utterances[utt_id]
            assert (entry["valence"], entry["arousal"], entry["dominance"]) == (valence, arousal, dominance)
    # audible: the loud, fast classes are rated more activated than the quiet, slow one
    by_class = {emo: [e["arousal"] for e in utterances.values() if e["emo"] == emo] for emo in ("ang", "sad")}
    assert np.mean(by_class["ang"]) > np.mean(by_class["sad"]) + 1.0
    assert all(1.0 <= e[d] <= 5.0 for e in utterances.values() for d in DIMENSIONS)


def test_a_run_may_use_the_corpus_dimensions_and_is_told_which_there_are_otherwise(generated_corpus, tmp_path):
    def settings(*tasks, **extra):
        overrides = {"data_folder": generated_corpus[0], "aux_tasks": list(tasks), **extra}
        return checked_settings("hparams/stage2.yaml", overrides | {"stage1_folder": str(tmp_path)})

    check_run_corpus(settings("gender", *DIMENSIONS))
    with pytest.raises(CorpusError, match="its dimensions valence, arousal, dominance"):
        check_run_corpus(settings("pleasure"))
    with pytest.raises(CorpusError, match="--selection_metric CCC.*add valence, arousal, dominance"):
        check_run_corpus(settings("gender", selection_metric="CCC"))
    with pytest.raises(SettingsError, match="--selection_metric CCC"):
        settings(*DIMENSIONS, aux_weight=1 / 3)
    with pytest.raises(SettingsError, match="class_weights"):
        settings("gender", class_weights="inverse")


def test_stage1_learns_the_three_dimensions_and_stops_early_recording_why(dimension_stage1_run):
    folder, _ = dimension_stage1_run
    metrics = load_json(folder, "test_metrics.json")
    assert all(metrics[f"{d}_CCC"] > 0.1 for d in DIMENSIONS), {d: metrics[f"{d}_CCC"] for d in DIMENSIONS}
    assert metrics["CCC"] == pytest.approx(np.mean([metrics[f"{d}_CCC"] for d in DIMENSIONS]))
    end = metrics["training_end"]
    epochs = read_metrics_log(os.path.join(folder, METRICS_LOG))["epochs"]
    assert end["stopped_early"] and end["epochs_trained"] == len(epochs) < end["number_of_epochs"]
    assert end["patience"] == 1 and "did not improve for 1 epoch" in end["reason"]
    valid_ua = [record["valid"]["UA"] for record in epochs]
    assert valid_ua[-1] <= max(valid_ua[:-1]), "stopped after an epoch without improvement"
    assert metrics["epoch"] == end["best_epoch"] == 1 + valid_ua.index(max(valid_ua))
    assert all(f"{d}_CCC" in epochs[-1]["valid"] for d in DIMENSIONS)
    train_counts = metrics["corpus"]["split_counts"]["train"]
    assert metrics["class_weights"] == pytest.approx(emotion_class_weights(train_counts, "balanced"))
    assert metrics["settings"]["class_weights"] == "balanced" and metrics["settings"]["patience"] == 1
    with open(os.path.join(folder, "train_log.txt"), encoding="utf-8") as handle:
        assert "arousal_CCC" in handle.read()


def test_a_stopped_run_started_again_stays_stopped_and_tests_the_same_checkpoint(dimension_stage1_run):
    folder, command = dimension_stage1_run
    before = load_json(folder, "test_metrics.json")
    done = run_recipe(*command, env=ONE_THREAD)
    assert "Going into epoch" not in done.stdout + done.stderr
    after = load_json(folder, "test_metrics.json")
    assert after["training_end"] == before["training_end"] and after["UA"] == before["UA"]
    records = read_metrics_log(os.path.join(folder, METRICS_LOG))
    assert len(records["epochs"]) == before["training_end"]["epochs_trained"]


def test_stage2_with_dimensions_learns_them_and_fuses_their_latents(dimension_stage2_run):
    metrics = load_json(dimension_stage2_run, "test_metrics.json")
    assert all(metrics[f"{d}_CCC"] > 0.1 for d in DIMENSIONS), {d: metrics[f"{d}_CCC"] for d in DIMENSIONS}
    assert metrics["settings"]["aux_tasks"] == ["gender", "style", *DIMENSIONS]
    assert metrics["training_end"] == {
        "stopped_early": False,
        "epochs_trained": metrics["settings"]["number_of_epochs"],
        "number_of_epochs": metrics["settings"]["number_of_epochs"],
        "patience": None,
        "best_epoch": None,
        "reason": f"trained all {metrics['settings']['number_of_epochs']} epochs",
    }
    config = load_json(dimension_stage2_run, "model_config.json")
    assert set(config["heads"]["dimensions"]) == set(DIMENSIONS)
    predictions = load_json(dimension_stage2_run, "test_predictions.json")
    assert all(isinstance(p["arousal_pred"], float) and 1.0 <= p["arousal"] <= 5.0 for p in predictions)


def test_exported_model_classify_and_timeline_give_the_dimensions(dimension_stage2_run, tmp_path, capsys):
    model_folder = str(tmp_path / "model")
    run_recipe("recipes/export.py", "--experiment_folder", dimension_stage2_run, "--output_folder", model_folder)
    test = load_json(os.path.join(dimension_stage2_run, "manifests"), "test.json")
    wavs = [entry["wav"] for entry in sorted(test.values(), key=lambda e: e["duration"])[-2:]]
    assert classify.main(["--model", model_folder, "--output_csv", str(tmp_path / "out.csv"), *wavs]) == 0
    table = capsys.readouterr().out
    assert re.search(r"arousal\s+valence\s+dominance", table)
    with open(tmp_path / "out.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [float(rows[0][d]) for d in DIMENSIONS]
    predictions = load_json(dimension_stage2_run, "test_predictions.json")
    trained = {p["id"]: p for p in predictions}
    utt_id = os.path.splitext(os.path.basename(wavs[0]))[0]
    assert float(rows[0]["arousal"]) == pytest.approx(trained[utt_id]["arousal_pred"], abs=1e-3)
    assert timeline.main(["--model", model_folder, "--output_folder", str(tmp_path / "timeline"), wavs[-1]]) == 0
    with open(tmp_path / "timeline" / f"{os.path.splitext(os.path.basename(wavs[-1]))[0]}.csv") as handle:
        header = next(csv.reader(handle))
    assert header[-3:] == list(DIMENSIONS)


def test_early_stopping_counter_stops_on_a_plateau_and_says_so():
    counter = epoch_counter(10, patience=2)
    for epoch in counter:
        counter.update_metric(shortfall("UA", [50.0, 55.0, 55.0, 55.0, 60.0][epoch - 1] if epoch <= 5 else 60.0))
    end = training_end(counter, "UA")
    # an equal UA is no improvement (SpeechBrain's stopper maximising would count it as one)
    assert (end["epochs_trained"], end["best_epoch"], end["stopped_early"]) == (4, 2, True)
    assert "best 55.00" in end["reason"]
