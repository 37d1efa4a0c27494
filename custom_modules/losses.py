"""Losses of the two-stage method: the multi-task weighting, the CTC term's scale and the self-contrastive loss
(SCL); and beyond the paper, the dimension tasks' 1 - CCC and the emotion classes' weights.

The paper's printed SCL equations have sign slips; these implement the stated intent, which is to pull the
emotion, gender and style latents of the same utterance together:

- ``norm``: ``||x_e - x_g|| + ||x_e - x_s|| + ||x_g - x_s||`` (L2), batch mean;
- ``cos``: the sum over the three pairs of ``1 - cos_sim``, batch mean.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import itertools

import speechbrain as sb
import torch
import torch.nn.functional as F

from custom_modules.constants import BLANK_INDEX
from custom_modules.metrics import concordance_correlation

SCL_KINDS = ("none", "norm", "cos")
# sum: Hugging Face's Wav2Vec2ForCTC default (ctc_loss_reduction="sum" in the checkpoints' configs), which the
# paper's lineage inherits; mean: SpeechBrain's ctc_loss default.
CTC_REDUCTIONS = ("sum", "mean")
# 1 - k a in floating point (1 - 3 x 1/3): within this of 0, emotion has no weight, which is a dimensional model
# (the dimension tasks alone train).
EMOTION_WEIGHT_TOLERANCE = 1e-9


def self_contrastive_loss(latents, kind):
    """Pulls the latents of the same utterance together.

    Arguments
    ---------
    latents : list of torch.Tensor
        The ``[batch, dim]`` latents to align (x_emo, x_gender, x_style; at least two), every pair pulled together.
    kind : str
        ``norm`` or ``cos`` (``none`` returns zero).

    Returns
    -------
    torch.Tensor
        Scalar loss.

    Example
    -------
    >>> x_e, x_g, x_s = torch.tensor([[3.0, 0.0]]), torch.tensor([[0.0, 4.0]]), torch.tensor([[0.0, 0.0]])
    >>> self_contrastive_loss([x_e, x_g, x_s], "norm")  # 5 + 3 + 4
    tensor(12.)
    >>> self_contrastive_loss([x_e, x_e, x_e], "cos")
    tensor(0.)
    """
    if kind not in SCL_KINDS:
        raise ValueError(f"scl must be one of {SCL_KINDS}, got {kind!r}.")
    if kind == "none":
        return latents[0].new_zeros(())
    pairs = list(itertools.combinations(latents, 2))
    if kind == "norm":
        per_pair = [torch.linalg.vector_norm(a - b, dim=-1) for a, b in pairs]
    else:
        per_pair = [1.0 - F.cosine_similarity(a, b, dim=-1) for a, b in pairs]
    return torch.stack(per_pair).sum(dim=0).mean()


def multitask_loss(losses, aux_weight):
    """The paper's weighting ``(1 - k a) L_emo + a sum(aux)`` with ``k`` auxiliary tasks.

    Stage 1 (SER + ASR, l = 0.1) and stage 2 (emotion + gender + style, b = 0.1) are both this formula.

    Arguments
    ---------
    losses : dict
        Task -> scalar loss; must hold ``emo``.
    aux_weight : float
        ``a``.

    Returns
    -------
    torch.Tensor

    Example
    -------
    >>> multitask_loss({"emo": torch.tensor(1.0), "asr": torch.tensor(2.0)}, 0.1)
    tensor(1.1000)
    >>> multitask_loss({"emo": torch.tensor(1.0), "arousal": torch.tensor(0.5), "valence": torch.tensor(0.1)}, 0.5)
    tensor(0.3000)
    """
    aux = [loss for task, loss in losses.items() if task != "emo"]
    emo_weight = 1.0 - len(aux) * aux_weight
    if emo_weight < -EMOTION_WEIGHT_TOLERANCE:
        raise ValueError(f"aux_weight {aux_weight} with {len(aux)} auxiliary tasks leaves emotion a negative weight.")
    emo_weight = max(emo_weight, 0.0)
    return emo_weight * losses["emo"] + aux_weight * sum(aux, losses["emo"].new_zeros(()))


def asr_ctc_loss(log_probs, tokens, frame_lens, token_lens, reduction):
    """The ASR task's CTC loss on a batch, at the scale ``reduction`` names.

    The two scales differ by far more than a constant: ``sum`` adds up the utterances' losses (each about the
    length of its transcript times the per-token loss), ``mean`` divides each by its transcript length and averages
    over the batch. At batch 16 and IEMOCAP's transcripts (tens of characters) ``sum`` gives the ASR term two to
    three orders of magnitude more weight against the emotion cross-entropy than ``mean``, with the same ``l``.
    Cai et al. 2021 (TideDancer/interspeech21_emotion, ``model.py``), the lineage of the paper's SER + ASR stage,
    computes ``F.ctc_loss(..., reduction=self.config.ctc_loss_reduction)`` with the checkpoint's ``"sum"``.

    Arguments
    ---------
    log_probs : torch.Tensor
        ``[batch, frames, vocab]`` log-probabilities.
    tokens : torch.Tensor
        ``[batch, tokens]`` padded targets (no blank).
    frame_lens, token_lens : torch.Tensor
        Relative lengths (SpeechBrain's convention).
    reduction : str
        ``sum`` or ``mean`` (``CTC_REDUCTIONS``).

    Returns
    -------
    torch.Tensor
        Scalar loss.

    Example
    -------
    >>> log_probs = torch.randn(2, 30, 5).log_softmax(dim=-1)
    >>> tokens, token_lens = torch.tensor([[1, 2, 3, 4], [2, 3, 0, 0]]), torch.tensor([1.0, 0.5])
    >>> one = [asr_ctc_loss(log_probs[i : i + 1], tokens[i : i + 1, : 4 - 2 * i], torch.ones(1), torch.ones(1), "sum")
    ...        for i in range(2)]
    >>> total, mean = (asr_ctc_loss(log_probs, tokens, torch.ones(2), token_lens, r) for r in CTC_REDUCTIONS)
    >>> torch.allclose(total, one[0] + one[1]), torch.allclose(mean, (one[0] / 4 + one[1] / 2) / 2)
    (True, True)
    """
    if reduction not in CTC_REDUCTIONS:
        raise ValueError(f"ctc_reduction must be one of {CTC_REDUCTIONS}, got {reduction!r}.")
    return sb.nnet.losses.ctc_loss(
        log_probs, tokens, frame_lens, token_lens, blank_index=BLANK_INDEX, reduction=reduction
    )


def ccc_loss(predictions, targets):
    """``1 - CCC`` of a batch (``custom_modules.metrics.concordance_correlation``): the dimension tasks' loss, as
    dimensional SER trains (it asks for the targets' mean and spread, not only their order).

    Utterances without a value (NaN: a manifest's empty cell) are left out; a batch with fewer than two values has
    no CCC and gives a zero loss that still belongs to the graph (every process of DDP steps the same parameters).

    Arguments
    ---------
    predictions, targets : torch.Tensor
        ``[batch]``.

    Returns
    -------
    torch.Tensor
        Scalar, in [0, 2].

    Example
    -------
    >>> targets = torch.tensor([1.0, 2.0, 3.0, float("nan")])
    >>> ccc_loss(torch.tensor([1.0, 2.0, 3.0, 9.0]), targets), ccc_loss(torch.tensor([3.0, 2.0, 1.0, 0.0]), targets)
    (tensor(0.), tensor(2.))
    """
    annotated = ~torch.isnan(targets)
    if int(annotated.sum()) < 2:
        return predictions.sum() * 0.0
    return 1.0 - concordance_correlation(predictions[annotated], targets[annotated])


CLASS_WEIGHTS = ("none", "balanced")


def emotion_class_weights(counts, kind):
    """The emotion cross-entropy's class weights from the training split's counts.

    ``balanced``: inverse class frequency, scaled so that the weights average 1 over the classes (a class with
    the mean of the inverse frequencies weighs 1; a class half as frequent as another weighs twice as much); ``none``
    (the paper's): None, every utterance counts the same.

    Arguments
    ---------
    counts : dict
        Label -> utterances of the training split, in the classifier's order.
    kind : str
        One of ``CLASS_WEIGHTS``.

    Returns
    -------
    dict or None
        Label -> weight.

    Example
    -------
    >>> emotion_class_weights({"neu": 60, "hap": 30, "sad": 20}, "balanced")
    {'neu': 0.5, 'hap': 1.0, 'sad': 1.5}
    >>> emotion_class_weights({"neu": 60, "hap": 30}, "none") is None
    True
    """
    if kind not in CLASS_WEIGHTS:
        raise ValueError(f"class_weights must be one of {CLASS_WEIGHTS}, got {kind!r}.")
    if kind == "none":
        return None
    empty = [label for label, count in counts.items() if not count]
    if empty:
        raise ValueError(f"class_weights balanced: class(es) {', '.join(empty)} have no training utterance.")
    inverse = {label: 1.0 / count for label, count in counts.items()}
    mean = sum(inverse.values()) / len(inverse)
    return {label: value / mean for label, value in inverse.items()}
