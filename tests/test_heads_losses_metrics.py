"""Heads (fusion), the paper's losses (multi-task weighting, SCL) and whole-set metrics."""

import math

import pytest
import torch

from custom_modules.heads import MultiTaskHeads
from custom_modules.losses import CTC_REDUCTIONS, asr_ctc_loss, multitask_loss, self_contrastive_loss
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


@pytest.mark.parametrize("scl", ["norm", "cos"])
def test_task_latents_differ_from_the_start_and_the_scl_pulls_them_with_a_nonzero_gradient(scl):
    torch.manual_seed(0)
    heads = MultiTaskHeads(16, N_CLASSES, ["gender", "style"], task_adapters=True, task_adapter_dim=4, fusion=True)
    out = heads(torch.randn(3, 10, 16), torch.ones(3))
    x_emo, x_gender, x_style = (out["latents"][task] for task in ("emo", "gender", "style"))
    for a, b in ((x_emo, x_gender), (x_emo, x_style), (x_gender, x_style)):
        assert ((a - b).norm(dim=-1) > 0.1 * a.norm(dim=-1)).all(), "each task projects the pooled vector its own way"
    loss = self_contrastive_loss([x_emo, x_gender, x_style], scl)
    loss.backward()
    assert loss.item() > 0.01
    for task in ("emo", "gender", "style"):
        assert heads.task_adapters[task].adapter_up_proj.weight.grad.abs().sum() > 0, task


def test_residual_task_adapters_start_identical_so_the_scl_starts_at_zero_without_gradient():
    heads = MultiTaskHeads(
        16, N_CLASSES, ["gender", "style"], task_adapters=True, task_adapter_dim=4, task_adapter_residual=True
    )
    feats = torch.randn(3, 10, 16)
    out = heads(feats, torch.ones(3))
    pooled = feats.mean(dim=1)
    assert all(torch.equal(out["latents"][task], pooled) for task in ("emo", "gender", "style"))
    loss = self_contrastive_loss(list(out["latents"].values()), "norm")
    loss.backward()
    assert loss.item() == 0.0
    assert all(p.grad is None or not p.grad.any() for p in heads.task_adapters.parameters())
    assert heads.settings()["task_adapter_residual"] is True


def test_ctc_sum_adds_the_utterances_losses_and_mean_divides_each_by_its_transcript_length():
    torch.manual_seed(0)
    log_probs = torch.randn(3, 40, 6).log_softmax(dim=-1)
    tokens = torch.tensor([[1, 2, 3, 4, 5], [2, 3, 0, 0, 0], [5, 1, 1, 0, 0]])
    lengths = torch.tensor([5, 2, 3])
    one_by_one = torch.stack(
        [
            torch.nn.functional.ctc_loss(
                log_probs[i : i + 1].transpose(0, 1), tokens[i : i + 1, : lengths[i]], [40], [int(lengths[i])]
            )
            * lengths[i]  # torch's mean divides by the transcript length
            for i in range(3)
        ]
    )
    frame_lens, token_lens = torch.ones(3), lengths / 5
    total = asr_ctc_loss(log_probs, tokens, frame_lens, token_lens, "sum")
    mean = asr_ctc_loss(log_probs, tokens, frame_lens, token_lens, "mean")
    assert total.item() == pytest.approx(one_by_one.sum().item(), rel=1e-5)
    assert mean.item() == pytest.approx((one_by_one / lengths).mean().item(), rel=1e-5)
    assert CTC_REDUCTIONS == ("sum", "mean")
    with pytest.raises(ValueError, match="ctc_reduction must be one of"):
        asr_ctc_loss(log_probs, tokens, frame_lens, token_lens, "batchmean")


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


def test_fusion_without_an_auxiliary_label_raises():
    with pytest.raises(ValueError, match=r"add one \(the paper: gender and style\) to aux_tasks"):
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
