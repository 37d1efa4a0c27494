"""Losses of the two-stage method: the multi-task weighting and the self-contrastive loss (SCL).

The paper's printed SCL equations have sign slips; these implement the stated intent, which is to pull the
emotion, gender and style latents of the same utterance together:

- ``norm``: ``||x_e - x_g|| + ||x_e - x_s|| + ||x_g - x_s||`` (L2), batch mean;
- ``cos``: the sum over the three pairs of ``1 - cos_sim``, batch mean.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import itertools

import torch
import torch.nn.functional as F

SCL_KINDS = ("none", "norm", "cos")


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
