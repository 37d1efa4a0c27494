"""Heads (fusion), the paper's losses (multi-task weighting, SCL) and whole-set metrics."""

import math

import pytest
import torch

from custom_modules.heads import MultiTaskHeads
from custom_modules.losses import multitask_loss, self_contrastive_loss
from custom_modules.metrics import ClassificationMetrics, classification_summary

N_CLASSES = {"emo": 4, "gender": 2, "style": 2}


def test_scl_norm_matches_hand_computed_value():
    x_e = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    x_g = torch.tensor([[4.0, 4.0], [0.0, 2.0]])
    x_s = torch.tensor([[1.0, 0.0], [0.0, -1.0]])
    # utterance 1: |e-g| = 5, |e-s| = 0, |g-s| = 5 -> 10; utterance 2: 2 + 1 + 3 = 6; batch mean 8
    assert self_contrastive_loss([x_e, x_g, x_s], "norm").item() == pytest.approx(8.0)


def test_scl_cos_matches_hand_computed_value():
    x_e = torch.tensor([[1.0, 0.0]])
    x_g = torch.tensor([[0.0, 2.0]])
    x_s = torch.tensor([[1.0, 1.0]])
    expected = (1 - 0.0) + (1 - 1 / math.sqrt(2)) + (1 - 1 / math.sqrt(2))
    assert self_contrastive_loss([x_e, x_g, x_s], "cos").item() == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("kind", ["norm", "cos"])
def test_scl_is_zero_for_identical_latents_and_its_gradient_is_finite(kind):
    x = torch.randn(5, 8, requires_grad=True)
    loss = self_contrastive_loss([x, x * 1, x + 0], kind)
    loss.backward()
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    assert torch.isfinite(x.grad).all()


def test_scl_pulls_latents_together():
    x_e, x_g, x_s = (torch.randn(4, 6, requires_grad=True) for _ in range(3))
    loss = self_contrastive_loss([x_e, x_g, x_s], "norm")
    loss.backward()
    with torch.no_grad():
        moved = [x - 0.1 * x.grad for x in (x_e, x_g, x_s)]
    assert self_contrastive_loss(moved, "norm") < loss


def test_unknown_scl_kind_raises():
    with pytest.raises(ValueError, match="scl must be one of"):
        self_contrastive_loss([torch.zeros(1, 2)] * 3, "l1")


@pytest.mark.parametrize(
    "aux, emo_weight",
    [([], 1.0), (["asr"], 0.9), (["gender", "style"], 0.8), (["asr", "gender", "style"], 0.7)],
)
def test_multitask_loss_gives_emotion_one_minus_k_times_a(aux, emo_weight):
    losses = {"emo": torch.tensor(1.0), **{task: torch.tensor(10.0) for task in aux}}
    expected = emo_weight * 1.0 + 0.1 * 10.0 * len(aux)
    assert multitask_loss(losses, 0.1).item() == pytest.approx(expected)


def test_fusion_triples_the_emotion_classifier_input():
    plain = MultiTaskHeads(16, N_CLASSES, ["gender", "style"], task_adapters=True, task_adapter_dim=4)
    fused = MultiTaskHeads(16, N_CLASSES, ["gender", "style"], task_adapters=True, task_adapter_dim=4, fusion=True)
    assert plain.classifiers["emo"].w.in_features == 16
    assert fused.classifiers["emo"].w.in_features == 48
    out = fused(torch.randn(2, 10, 16), torch.ones(2))
    assert torch.equal(out["embedding"], torch.cat([out["latents"][t] for t in ("emo", "gender", "style")], -1))


@pytest.mark.parametrize("aux", [["gender"], ["style"]])
def test_fusion_with_one_auxiliary_task_concatenates_the_two_latents(aux):
    fused = MultiTaskHeads(16, N_CLASSES, aux, task_adapters=True, task_adapter_dim=4, fusion=True)
    assert fused.classifiers["emo"].w.in_features == 32
    out = fused(torch.randn(2, 10, 16), torch.ones(2))
    assert torch.equal(out["embedding"], torch.cat([out["latents"]["emo"], out["latents"][aux[0]]], -1))


def test_fusion_without_gender_or_style_raises():
    with pytest.raises(ValueError, match="add gender or style"):
        MultiTaskHeads(16, N_CLASSES, ["asr"], fusion=True, ctc_vocab_size=29)


def test_heads_pool_over_real_frames_only():
    heads = MultiTaskHeads(3, N_CLASSES, [])
    feats = torch.zeros(1, 4, 3)
    feats[0, :2] = 1.0  # two real frames, two padding frames of garbage-free zeros
    feats[0, 2:] = 100.0
    out = heads(feats, torch.tensor([0.5]))
    assert torch.allclose(out["latents"]["emo"], torch.ones(1, 3))


def test_asr_head_gives_frame_level_log_probabilities():
    heads = MultiTaskHeads(8, N_CLASSES, ["asr"], ctc_vocab_size=29)
    out = heads(torch.randn(2, 7, 8), torch.ones(2))
    assert out["asr"].shape == (2, 7, 29)
    assert torch.allclose(out["asr"].exp().sum(-1), torch.ones(2, 7), atol=1e-5)


def test_ua_is_computed_over_the_whole_set_not_averaged_over_batches():
    labels = ["neu", "hap", "ang", "sad"]
    batches = [([0, 0, 0, 1], [0, 0, 0, 0]), ([1, 2, 3, 3], [1, 2, 3, 0])]
    metrics = ClassificationMetrics(labels)
    for i, (targets, predictions) in enumerate(batches):
        metrics.append([f"{i}-{j}" for j in range(4)], torch.tensor(predictions), torch.tensor(targets))
    whole = metrics.summarize()
    # recalls over the whole set: neu 3/3, hap 1/2, ang 1/1, sad 1/2
    assert whole["UA"] == pytest.approx(100 * (1 + 0.5 + 1 + 0.5) / 4)
    assert whole["WA"] == pytest.approx(100 * 6 / 8)
    batch_mean = sum(classification_summary(t, p, labels)["UA"] for t, p in batches) / 2
    assert whole["UA"] != pytest.approx(batch_mean)
    assert whole["confusion_matrix"] == [[3, 0, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 1]]


def test_classes_absent_from_the_set_do_not_count_towards_ua():
    summary = classification_summary([0, 0, 1], [0, 1, 1], ["neu", "hap", "ang", "sad"])
    assert summary["UA"] == pytest.approx(100 * (0.5 + 1.0) / 2)
    assert summary["per_class_recall"]["ang"] is None
