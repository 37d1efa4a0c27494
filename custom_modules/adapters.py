"""The paper's adapters, inserted into the frozen SSL encoder in stage 2 (and in Table 1's adapter rows):

- **LoRA** (rank 64) on the attention query, key and value projections of every Transformer layer
  (``MergedWeightLoRA``, SpeechBrain's ``LoRA`` made to work on every backbone family);
- a **bottleneck adapter** after the feed-forward output projection of every Transformer layer
  (``BottleneckAdapterAfterLinear``: down, ReLU, up, its own residual, starting as the identity);
- one **bottleneck adapter per task** after mean pooling, giving the latents x_emo, x_gender and x_style
  (``BottleneckAdapter``, used by ``custom_modules.heads``): FC, ReLU, FC as Fig. 1 draws it, without the
  residual of the in-layer adapters, which must start as the identity of the frozen layer they sit in; the task
  adapters replace nothing.

``custom_modules.encoder.SSLEncoder.insert_adapters`` puts the first two into the backbone, LoRA through
SpeechBrain's ``AdaptedModel`` and the bottleneck adapters with ``replace_module`` beside it (nesting two
AdaptedModels fails, and would refreeze the first adapters).

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

from fnmatch import fnmatch

import torch
from speechbrain.nnet.adapters import HoulsbyAdapterLinear, LoRA
from torch import nn

# Names of the parameters that adapters add (LoRA and HoulsbyAdapterLinear naming): a checkpoint holding any
# of them was written by an encoder with adapters.
ADAPTER_KEY_MARKERS = ("adapter_down_proj", "adapter_up_proj", "pretrained_module", "pretrained_linear")


class BottleneckAdapter(nn.Module):
    """The paper's task adapter after pooling: ``W_up ReLU(W_down x)`` (Fig. 1: FC, ReLU, FC), randomly initialised.

    Each task (emotion, gender, style) gets its own adapter on the same pooled vector, so the three latents
    differ from the first step: feature fusion concatenates three projections, and the self-contrastive loss pulls
    them together while each task shapes its own. With ``residual=True`` it is ``x + W_up ReLU(W_down x)``
    with a zero up-projection instead, starting as the identity (``task_adapter_residual`` in the yaml): then the
    three latents start equal, fusion first sees ``[p, p, p]`` and the SCL starts at zero with a zero gradient.

    Arguments
    ---------
    input_size : int
        Size of the last dimension of the input (and of the output).
    bottleneck_dim : int
        Size of the bottleneck.
    residual : bool
        Add the input back and start as the identity.

    Example
    -------
    >>> import torch
    >>> x = torch.randn(2, 16)
    >>> torch.equal(BottleneckAdapter(16, 4, residual=True)(x), x)
    True
    >>> emo, gender = BottleneckAdapter(16, 4), BottleneckAdapter(16, 4)
    >>> emo(x).shape, torch.allclose(emo(x), gender(x))
    (torch.Size([2, 16]), False)
    """

    def __init__(self, input_size, bottleneck_dim, residual=False):
        super().__init__()
        self.residual = residual
        self.adapter_down_proj = nn.Linear(input_size, bottleneck_dim)
        self.activation = nn.ReLU()
        self.adapter_up_proj = nn.Linear(bottleneck_dim, input_size)
        if residual:
            nn.init.zeros_(self.adapter_up_proj.weight)
            nn.init.zeros_(self.adapter_up_proj.bias)

    def forward(self, x):
        """Returns the adapted input, same shape as ``x``."""
        adapted = self.adapter_up_proj(self.activation(self.adapter_down_proj(x)))
        return x + adapted if self.residual else adapted


class BottleneckAdapterAfterLinear(HoulsbyAdapterLinear):
    """SpeechBrain's Houlsby adapter with the paper's ReLU, starting as the identity.

    ``HoulsbyAdapterLinear`` defaults to Swish and a random up-projection, so inserting it would change the
    stage-1 encoder's output before any training; here the up-projection starts at zero.

    Arguments
    ---------
    target_linear : torch.nn.Linear
        The pretrained layer whose output is adapted.
    projection_size : int
        Bottleneck size.

    Example
    -------
    >>> import torch
    >>> layer = nn.Linear(8, 8)
    >>> x = torch.randn(3, 8)
    >>> torch.equal(BottleneckAdapterAfterLinear(layer, 2)(x), layer(x))
    True
    """

    def __init__(self, target_linear, projection_size):
        super().__init__(target_linear, projection_size, activation=nn.ReLU)
        nn.init.zeros_(self.adapter_up_proj.weight)
        for parameter in self.pretrained_linear.parameters():
            parameter.requires_grad = False


class MergedWeightLoRA(LoRA):
    """SpeechBrain's LoRA on a linear layer, which also shows the adapted ``weight`` and the pretrained ``bias``.

    WavLM's attention does not call its q/k/v projections: it hands ``q_proj.weight`` and ``q_proj.bias`` to
    ``F.multi_head_attention_forward``. SpeechBrain's ``LoRA`` only changes ``forward`` and has no ``weight``
    or ``bias`` of its own, so there it fails (``AttributeError``), and a wrapper that passed the pretrained
    tensors through would be silently bypassed. Here ``weight`` is ``W + scaling * B A`` from the same
    parameters as the low-rank path of ``forward``, so code that reads the weights gets the adapted projection
    and its gradient reaches the LoRA factors. Parameter names stay SpeechBrain's (``pretrained_module``,
    ``adapter_down_proj``, ``adapter_up_proj``): checkpoints and the stage-1 hand-over are unchanged.

    Arguments
    ---------
    target_module : torch.nn.Linear
        The pretrained layer to adapt.
    rank : int
        LoRA rank.
    alpha : float
        Scaling numerator (update scaled by ``alpha / rank``).

    Example
    -------
    >>> import torch
    >>> import torch.nn.functional as F
    >>> layer = nn.Linear(8, 8)
    >>> lora = MergedWeightLoRA(layer, rank=2, alpha=2.0)
    >>> nn.init.normal_(lora.adapter_up_proj.weight)
    Parameter containing:...
    >>> x = torch.randn(3, 8)
    >>> torch.allclose(F.linear(x, lora.weight, lora.bias), lora(x), atol=1e-6)
    True
    """

    def __init__(self, target_module, rank=16, alpha=1.0):
        if not isinstance(target_module, nn.Linear):
            raise ValueError(f"LoRA targets must be linear layers, got {type(target_module).__name__}.")
        super().__init__(target_module, rank=rank, alpha=alpha)

    @property
    def weight(self):
        """The adapted weight ``W + scaling * B A`` (equal to ``W`` while the up-projection is zero)."""
        update = self.adapter_up_proj.weight @ self.adapter_down_proj.weight
        return self.pretrained_module.weight + self.scaling * update

    @property
    def bias(self):
        """The pretrained bias (LoRA does not change it)."""
        return self.pretrained_module.bias

    def folded(self):
        """A plain linear layer computing what this one computes: weight ``W + scaling * B A``, the same bias.

        Once the model is trained the low-rank path is a fixed update of the weight, so inference can do one
        matrix product instead of three (an exported stage-2 model, ``SSLEncoder.fold_lora``). The sum is
        formed in float64 and rounded once, so the folded layer differs from this one by float32 rounding only.

        Returns
        -------
        torch.nn.Linear
            On the same device and with the same dtype as the pretrained layer.

        Example
        -------
        >>> import torch
        >>> lora = MergedWeightLoRA(nn.Linear(8, 6), rank=2, alpha=4.0)
        >>> nn.init.normal_(lora.adapter_up_proj.weight)
        Parameter containing:...
        >>> x = torch.randn(3, 8)
        >>> plain = lora.folded()
        >>> type(plain).__name__, torch.allclose(plain(x), lora(x), atol=1e-5)
        ('Linear', True)
        """
        pretrained = self.pretrained_module
        layer = nn.Linear(
            pretrained.in_features,
            pretrained.out_features,
            bias=pretrained.bias is not None,
            device=pretrained.weight.device,
            dtype=pretrained.weight.dtype,
        )
        with torch.no_grad():
            update = self.adapter_up_proj.weight.double() @ self.adapter_down_proj.weight.double()
            layer.weight.copy_(pretrained.weight.double() + self.scaling * update)
            if pretrained.bias is not None:
                layer.bias.copy_(pretrained.bias)
        layer.requires_grad_(False)
        return layer


def matching_linear_layers(model, patterns):
    """Names of the linear layers of ``model`` that match any fnmatch pattern (where bottleneck adapters go).

    Example
    -------
    >>> model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))
    >>> matching_linear_layers(model, ["[02]"])
    ['0', '2']
    """
    names = [name for name, _ in model.named_modules() if name and any(fnmatch(name, p) for p in patterns)]
    for name in names:
        if not isinstance(model.get_submodule(name), nn.Linear):
            raise ValueError(f"Bottleneck adapters go after linear layers; {name} is not one.")
    return names


def check_targets_match(model, patterns, setting):
    """Raises if an fnmatch pattern of ``setting`` (``lora_targets``, ``bottleneck_targets``) matches no layer:
    a misspelt target would otherwise leave the backbone without adapters."""
    names = [name for name, _ in model.named_modules()]
    for pattern in patterns:
        if not any(fnmatch(name, pattern) for name in names):
            examples = [n for n in names if n.count(".") == 5][:4]
            raise ValueError(
                f"{setting} pattern {pattern!r} matches no layer of the backbone; names look like {examples}."
            )
