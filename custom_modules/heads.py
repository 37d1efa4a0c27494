"""Task heads shared by both stages: pooled utterance tasks (emotion and the auxiliary labels: IEMOCAP's gender
and style, or a corpus's own) and frame-level ASR.

Utterance tasks: mean pooling of the encoder output over time (padding masked), a per-task adapter giving the
latents ``x_emo``, ``x_gender``, ``x_style`` (the paper's ``BottleneckAdapter`` in stage 2 and Table 1's adapter
rows: FC, ReLU, FC, a different random projection per task; the identity in stage-1 full finetuning), then a
linear classifier per task (a dimension task, arousal, valence, dominance or a manifest's numeric column: one
linear unit, a regression on the annotation's scale). With feature fusion the emotion classifier reads
``concat(x_emo, x_gender, x_style)`` (the paper), or the emotion latent with the one auxiliary latent an ablation
keeps (and the dimension tasks' latents, when there are some).
ASR: one linear layer over the characters on every frame, for CTC.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import torch
from speechbrain.nnet.linear import Linear
from torch import nn

from custom_modules.adapters import BottleneckAdapter
from custom_modules.constants import N_CLASSES
from custom_modules.encoder import length_mask

# The frame-level task; every other auxiliary task is an utterance label of the corpus (IEMOCAP: gender, style).
ASR_TASK = "asr"


class MultiTaskHeads(nn.Module):
    """Pooling, task latents and classifiers for emotion plus the chosen auxiliary tasks.

    Arguments
    ---------
    input_size : int
        Encoder feature size.
    n_classes : dict
        Number of classes of each utterance task: the corpus's (default: IEMOCAP's,
        ``custom_modules.constants.N_CLASSES``).
    aux_tasks : list of str
        Auxiliary tasks: ``asr``, labels of ``n_classes`` (IEMOCAP: ``gender``, ``style``) and dimensions of
        ``dimensions``; emotion is always on.
    task_adapters : bool
        A bottleneck adapter per task after pooling (paper's stage 2), else the identity.
    task_adapter_dim : int
        Bottleneck size of those adapters.
    task_adapter_residual : bool
        Those adapters add their input back and start as the identity (an ablation: the three latents then start
        equal); False is the paper's FC, ReLU, FC.
    fusion : bool
        The emotion classifier reads the concatenated latents of every utterance task
        (``concat(x_emo, x_gender, x_style)`` with both auxiliary tasks); needs gender or style.
    ctc_vocab_size : int
        Output size of the ASR layer (blank included); needed with ``asr``.
    dimensions : dict
        The corpus's dimension tasks, each with the ``[mean, std]`` of its training values
        (``corpora.folds.fold_dimensions``): a dimension head predicts ``mean + std * linear(latent)``, so it starts
        near the mean and learns in units of the spread, whatever the annotation's scale.

    Example
    -------
    >>> heads = MultiTaskHeads(8, aux_tasks=["gender", "style"], task_adapters=True, task_adapter_dim=4, fusion=True)
    >>> out = heads(torch.randn(3, 20, 8), torch.tensor([1.0, 0.5, 0.8]))
    >>> out["emo"].shape, out["latents"]["style"].shape
    (torch.Size([3, 4]), torch.Size([3, 8]))
    >>> heads.classifiers["emo"].w.in_features
    24
    >>> MultiTaskHeads(8, aux_tasks=["gender"], fusion=True).classifiers["emo"].w.in_features  # an ablation
    16
    >>> heads = MultiTaskHeads(8, aux_tasks=["arousal"], dimensions={"arousal": [3.0, 0.5], "valence": [3.0, 0.6]})
    >>> heads.dimension_tasks, heads(torch.randn(3, 20, 8), torch.ones(3))["arousal"].shape
    (['arousal'], torch.Size([3]))
    """

    def __init__(
        self,
        input_size,
        n_classes=None,
        aux_tasks=(),
        task_adapters=False,
        task_adapter_dim=256,
        task_adapter_residual=False,
        fusion=False,
        ctc_vocab_size=None,
        dimensions=None,
    ):
        super().__init__()
        n_classes = dict(n_classes or N_CLASSES)
        dimensions = {task: [float(value) for value in scale] for task, scale in (dimensions or {}).items()}
        known = [ASR_TASK, *(task for task in n_classes if task != "emo"), *dimensions]
        unknown = set(aux_tasks) - set(known)
        if unknown:
            raise ValueError(f"Unknown auxiliary task(s) {sorted(unknown)}; choose among {known}.")
        self.utterance_tasks = ["emo"] + [t for t in aux_tasks if t != ASR_TASK]
        # Regression tasks: one value on the annotation's scale, trained with 1 - CCC (custom_modules.losses).
        self.dimension_tasks = [t for t in self.utterance_tasks if t in dimensions]
        self.dimension_scales = {task: dimensions[task] for task in self.dimension_tasks}
        if fusion and len(self.utterance_tasks) < 2:
            raise ValueError(
                "fusion: True concatenates the emotion latent with the auxiliary label latents: add one (the paper: "
                "gender and style) to aux_tasks."
            )
        self.fusion = fusion
        self._settings = {
            "input_size": input_size,
            "n_classes": n_classes,
            "aux_tasks": list(aux_tasks),
            "task_adapters": task_adapters,
            "task_adapter_dim": task_adapter_dim,
            "task_adapter_residual": task_adapter_residual,
            "fusion": fusion,
            "ctc_vocab_size": ctc_vocab_size,
            "dimensions": dimensions,
        }
        self.task_adapters = nn.ModuleDict(
            {
                task: BottleneckAdapter(input_size, task_adapter_dim, task_adapter_residual)
                if task_adapters
                else nn.Identity()
                for task in self.utterance_tasks
            }
        )
        self.classifiers = nn.ModuleDict(
            {
                task: Linear(
                    input_size=input_size * (len(self.utterance_tasks) if task == "emo" and fusion else 1),
                    n_neurons=1 if task in self.dimension_scales else n_classes[task],
                )
                for task in self.utterance_tasks
            }
        )
        self.ctc_lin = None
        if ASR_TASK in aux_tasks:
            if not ctc_vocab_size:
                raise ValueError("The asr task needs ctc_vocab_size.")
            self.ctc_lin = Linear(input_size=input_size, n_neurons=ctc_vocab_size)

    def settings(self):
        """This module's constructor arguments, JSON-ready: saved beside the weights so that a later step rebuilds
        the heads without the run's yaml."""
        return dict(self._settings)

    def forward(self, feats, frame_lens):
        """Runs every head.

        Arguments
        ---------
        feats : torch.Tensor
            Encoder output, ``[batch, frames, input_size]``.
        frame_lens : torch.Tensor
            Relative lengths in frames, ``[batch]`` (the encoder's second output).

        Returns
        -------
        dict
            ``latents`` (task -> ``[batch, input_size]``), ``embedding`` (the emotion classifier's input), a
            log-probability tensor ``[batch, classes]`` per classification task, the values ``[batch]`` of each
            dimension task, ``asr`` (``[batch, frames, vocab]``
            log-probabilities) when ASR is on, and ``frame_lens`` (as given: CTC needs them).
        """
        pooled = masked_mean(feats, frame_lens)
        latents = {task: self.task_adapters[task](pooled) for task in self.utterance_tasks}
        embedding = torch.cat([latents[t] for t in self.utterance_tasks], dim=-1) if self.fusion else latents["emo"]
        outputs = {"latents": latents, "embedding": embedding, "frame_lens": frame_lens}
        for task in self.utterance_tasks:
            features = embedding if task == "emo" else latents[task]
            if task in self.dimension_scales:
                mean, std = self.dimension_scales[task]
                outputs[task] = mean + std * self.classifiers[task](features).squeeze(-1)
            else:
                outputs[task] = torch.log_softmax(self.classifiers[task](features), dim=-1)
        if self.ctc_lin is not None:
            outputs["asr"] = torch.log_softmax(self.ctc_lin(feats), dim=-1)
        return outputs


def masked_mean(feats, frame_lens):
    """Mean over the real (unpadded) frames of each utterance.

    SpeechBrain's ``StatisticsPooling`` is not used: it adds random noise to the mean (to keep x-vector
    standard deviations non-zero), which would make predictions differ from run to run and between the
    training-time and the exported model.

    Arguments
    ---------
    feats : torch.Tensor
        ``[batch, frames, dim]``.
    frame_lens : torch.Tensor
        Relative lengths, ``[batch]``.

    Returns
    -------
    torch.Tensor
        ``[batch, dim]``.

    Example
    -------
    >>> masked_mean(torch.tensor([[[1.0], [3.0], [100.0]]]), torch.tensor([0.67]))
    tensor([[2.]])
    """
    frames = torch.round(frame_lens * feats.shape[1]).clamp(min=1)
    mask = length_mask(frames, feats.shape[1]).to(feats.dtype).unsqueeze(-1)
    return (feats * mask).sum(dim=1) / mask.sum(dim=1)
