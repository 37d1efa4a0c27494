"""Losses of the two-stage method: the multi-task weighting, the CTC term's scale and the self-contrastive loss
(SCL).

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

SCL_KINDS = ("none", "norm", "cos")
# sum: Hugging Face's Wav2Vec2ForCTC default (ctc_loss_reduction="sum" in the checkpoints' configs), which the
# paper's lineage inherits; mean: SpeechBrain's ctc_loss default.
CTC_REDUCTIONS = ("sum", "mean")


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
    """
    aux = [loss for task, loss in losses.items() if task != "emo"]
    emo_weight = 1.0 - len(aux) * aux_weight
    if emo_weight <= 0:
        raise ValueError(f"aux_weight {aux_weight} with {len(aux)} auxiliary tasks leaves no weight for emotion.")
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
