"""The SSL speech encoder of both stages.

``SSLEncoder`` wraps a SpeechBrain Hugging Face lobe (``speechbrain.integrations.huggingface.Wav2Vec2``, which
loads any of wav2vec 2.0, HuBERT, WavLM and data2vec-audio through ``AutoModel``) and makes the finetuning mode
a setting:

- ``full``: every parameter trains except the CNN feature encoder (stage 1, Table 2 setting 2);
- ``adapters``: the lobe is frozen; LoRA on the attention q/k/v projections and a bottleneck adapter after the
  feed-forward output projection of every Transformer layer train (stage 2, Table 1 adapter rows; the adapters
  are in ``custom_modules.adapters``);
- ``frozen``: nothing trains (the encoder as a fixed feature extractor).

It builds on ``speechbrain.nnet.adapters.AdaptedModel`` (freezing, fnmatch targets, LoRA insertion) and adds
what the two-stage method needs: the bottleneck adapters inserted beside LoRA, checkpoints that hold the whole
encoder when a later stage must rebuild it bit for bit, loading that fails loudly instead of SpeechBrain's
non-strict load (which skips renamed keys with a warning and leaves a silently random encoder), and the
relative lengths of its output frames, which pooling and CTC need.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import json
import os
import tempfile
import warnings

import torch
import torch.nn.functional as F
from huggingface_hub import constants as hub_constants
from speechbrain.integrations.huggingface import Wav2Vec2
from speechbrain.nnet.adapters import AdaptedModel, replace_module
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    mark_as_transfer,
    register_checkpoint_hooks,
)
from transformers import AutoConfig

from custom_modules.adapters import (
    ADAPTER_KEY_MARKERS,
    BottleneckAdapterAfterLinear,
    MergedWeightLoRA,
    check_targets_match,
    matching_linear_layers,
)
from custom_modules.errors import RecipeInputError
from custom_modules.feature_cache import CNNFeatureCache, cnn_output_frames

FINETUNE_MODES = ("full", "adapters", "frozen")

# SpeechBrain's lobe calls transformers' deprecated ``gradient_checkpointing_disable`` whenever it loads a backbone
# (this module sets checkpointing itself, under the new name when it exists): nothing a user can act on.
warnings.filterwarnings("ignore", message=".*gradient_checkpointing_disable.*", category=FutureWarning)


class CheckpointMismatchError(RecipeInputError, RuntimeError):
    """A checkpoint written by an encoder of other settings (backbone, adapters); the message says which to use."""


@register_checkpoint_hooks
class SSLEncoder(AdaptedModel):
    """A SpeechBrain SSL lobe whose finetuning mode (full, adapters, frozen) is a setting.

    Arguments
    ---------
    ssl_model : torch.nn.Module
        A SpeechBrain HF lobe built with ``freeze=False`` (this class does the freezing).
    finetune : str
        ``full``, ``adapters`` or ``frozen``.
    lora_targets : list of str
        fnmatch patterns of the layers that get LoRA (adapters mode).
    lora_rank : int
        LoRA rank.
    lora_alpha : float
        LoRA scaling numerator (update scaled by ``alpha / rank``). SpeechBrain's default of 1.0 would scale a
        rank-64 update by 1/64, so it is always passed explicitly.
    bottleneck_targets : list of str
        fnmatch patterns of the linear layers followed by a bottleneck adapter (adapters mode).
    bottleneck_dim : int
        Bottleneck size of those adapters.
    freeze_feature_encoder : bool
        Keep the CNN feature encoder frozen (the paper's default in every mode).
    manual_adapter_insertion : bool
        Wait for ``insert_adapters()`` (call it after loading the weights the adapters should sit on).
    save_frozen : bool
        Checkpoints hold the whole encoder (True: a later stage can rebuild it without the hub) or only the
        trainable parameters (False: small checkpoints; the frozen part is loaded before recovery).
    cache_cnn_features : bool
        Compute the frozen CNN's output once per utterance and reuse it in later epochs (exact; see
        ``custom_modules.feature_cache``). Used when ``forward`` is given utterance ids.
    lora_folded : bool
        The LoRA targets are plain linear layers whose weights already hold the trained LoRA update
        (``fold_lora``; an exported model): no LoRA is inserted, the bottleneck adapters are.
    gradient_checkpointing : bool
        Recompute each Transformer layer's activations in the backward pass instead of keeping them from the
        forward (``set_gradient_checkpointing``): the same gradients, for much less memory per second of audio.
    spec_augment : bool
        The backbone's own SpecAugment in training, as its Hugging Face config sets it (``mask_time_prob``,
        ``mask_time_length``, ``mask_feature_prob``, ...), which a Hugging Face finetune applies; SpeechBrain's
        lobe turns it off unless told otherwise. It masks the CNN's projected output, after the CNN feature cache,
        and draws its masks from NumPy's global random state (checkpointed with the run).

    Example
    -------
    >>> import tempfile
    >>> from speechbrain.integrations.huggingface import Wav2Vec2
    >>> from synthetic.backbones import build_backbone
    >>> tmp = tempfile.mkdtemp()
    >>> lobe = Wav2Vec2(build_backbone(tmp + "/tiny"), save_path=tmp + "/cache")
    >>> encoder = SSLEncoder(lobe, finetune="adapters", lora_rank=4, lora_alpha=4, bottleneck_dim=4)
    >>> sorted({name.split(".")[-2] for name in encoder.trainable_parameter_names()})
    ['adapter_down_proj', 'adapter_up_proj']
    >>> feats, frame_lens = encoder(torch.randn(2, 16000), torch.tensor([1.0, 0.5]))
    >>> feats.shape, frame_lens * feats.shape[1]
    (torch.Size([2, 49, 64]), tensor([49., 24.]))
    """

    def __init__(
        self,
        ssl_model,
        finetune="full",
        lora_targets=("model.encoder.layers.*.attention.[qkv]_proj",),
        lora_rank=64,
        lora_alpha=64.0,
        bottleneck_targets=("model.encoder.layers.*.feed_forward.output_dense",),
        bottleneck_dim=256,
        freeze_feature_encoder=True,
        manual_adapter_insertion=False,
        save_frozen=True,
        cache_cnn_features=False,
        lora_folded=False,
        gradient_checkpointing=False,
        spec_augment=True,
    ):
        if finetune not in FINETUNE_MODES:
            raise ValueError(f"finetune must be one of {FINETUNE_MODES}, got {finetune!r}.")
        use_adapters = finetune == "adapters"
        if use_adapters and not (lora_targets or bottleneck_targets):
            raise ValueError("finetune: adapters needs lora_targets or bottleneck_targets (both are empty).")
        super().__init__(
            model_to_adapt=ssl_model,
            # Not SpeechBrain's LoRA: WavLM reads the projections' weights instead of calling them.
            adapter_class=MergedWeightLoRA,
            target_layers=list(lora_targets) if use_adapters and not lora_folded else [],
            # "*" also matches the root module's empty name: every parameter trains in full mode.
            unfrozen_layers=["*"] if finetune == "full" else [],
            adapter_kwargs={"rank": lora_rank, "alpha": lora_alpha},
            manual_adapter_insertion=True,
        )
        # The lobe normalises each waveform over the padded batch length, so an utterance's features would
        # depend on the batch it is in (zeros lower the variance) and differ between training and inference.
        # The encoder normalises over the true length instead (see ``normalize_waveforms``).
        self.normalize_wav = bool(getattr(ssl_model, "normalize_wav", False))
        ssl_model.normalize_wav = False
        self.finetune = finetune
        self.lora_targets, self.lora_rank, self.lora_alpha = list(lora_targets), lora_rank, lora_alpha
        self.bottleneck_targets, self.bottleneck_dim = list(bottleneck_targets), bottleneck_dim
        self.freeze_feature_encoder = freeze_feature_encoder
        self.lora_folded = lora_folded
        self.save_frozen = save_frozen
        self.adapters_inserted = False
        self.bottleneck_layers = matching_linear_layers(ssl_model, bottleneck_targets) if use_adapters else []
        if use_adapters:
            check_targets_match(ssl_model, lora_targets, "lora_targets")
            check_targets_match(ssl_model, bottleneck_targets, "bottleneck_targets")
        hf_model = ssl_model.model
        self.spec_augment = bool(spec_augment)
        hf_model.config.apply_spec_augment = self.spec_augment
        if freeze_feature_encoder:
            # Setting requires_grad=False is not enough: HF's feature encoder marks its output as requiring
            # grad in training mode, and backward then still runs through the CNN. _freeze_parameters() stops
            # that (a wav2vec2-base step went from 4.6 s to 2.55 s on 2 CPU cores).
            hf_model.feature_extractor._freeze_parameters()
        masks_time = self.spec_augment and hf_model.config.mask_time_prob > 0
        if getattr(hf_model, "masked_spec_embed", None) is not None and not masks_time:
            # Used only by SpecAugment's time masks; left trainable it would break DDP and inflate the counts.
            hf_model.masked_spec_embed.requires_grad = False
        if cache_cnn_features and not freeze_feature_encoder:
            raise ValueError(
                "cache_cnn_features needs freeze_feature_encoder: True (a training CNN changes its output)."
            )
        self.cnn_feature_cache = CNNFeatureCache(hf_model) if cache_cnn_features else None
        self.set_gradient_checkpointing(gradient_checkpointing)
        if use_adapters and not manual_adapter_insertion:
            self.insert_adapters()

    def forward(self, wavs, wav_lens=None, utterance_ids=None):
        """Encodes a padded batch of waveforms into frames.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, samples]``.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[batch]`` (None: no padding).
        utterance_ids : list of str, optional
            One per waveform: lets the CNN feature cache, if enabled, serve utterances it has seen.

        Returns
        -------
        feats : torch.Tensor
            ``[batch, frames, hidden_size]``.
        frame_lens : torch.Tensor
            Relative lengths of each utterance's own frames (``relative_frame_lengths``), for pooling and CTC.
        """
        if wav_lens is None:
            wav_lens = torch.ones(wavs.shape[0], device=wavs.device)
        if self.normalize_wav:
            wavs = normalize_waveforms(wavs, wav_lens)
        if self.cnn_feature_cache is None or utterance_ids is None:
            feats = self.adapted_model(wavs, wav_lens)
        else:
            n_samples = true_sample_counts(wav_lens, wavs.shape[1])
            with self.cnn_feature_cache.utterances(utterance_ids, n_samples.tolist()):
                feats = self.adapted_model(wavs, wav_lens)
        config = self.adapted_model.model.config
        return feats, relative_frame_lengths(config, wav_lens, wavs.shape[1], feats.shape[1])

    @property
    def layerdrop(self):
        """The probability that the Hugging Face model skips a Transformer layer in a training step (LayerDrop;
        ``Wav2Vec2Config``'s default is 0.1)."""
        return float(getattr(self.adapted_model.model.config, "layerdrop", 0.0) or 0.0)

    def set_gradient_checkpointing(self, enabled):
        """Switches gradient checkpointing of the backbone's Transformer layers on or off (Hugging Face's).

        In training, each layer then keeps only its input from the forward pass and runs again in the backward
        pass, with the random state of the forward (the same dropout), so the gradients are those without it. The
        non-reentrant variant of ``torch.utils.checkpoint``: the reentrant one fails when a layer's input does
        not require grad, which is the case of the adapters behind a frozen encoder (stage 2); the non-reentrant
        one also works under DDP. Adapters inserted later are inside the layers and are recomputed with them.

        Arguments
        ---------
        enabled : bool
        """
        hf_model = self.adapted_model.model
        # transformers 5 renamed gradient_checkpointing_* to activation_checkpointing_* (the old names warn).
        if enabled:
            enable = getattr(hf_model, "activation_checkpointing_enable", None)
            if enable is not None:
                enable(activation_checkpointing_kwargs={"use_reentrant": False})
            else:
                hf_model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        else:
            disable = getattr(hf_model, "activation_checkpointing_disable", None)
            (disable or hf_model.gradient_checkpointing_disable)()
        self.gradient_checkpointing = bool(enabled)

    def settings(self):
        """What rebuilds this encoder around the same backbone (its constructor's arguments), JSON-ready; saved
        beside the weights so that a later step needs neither the run's yaml nor the hub."""
        return {
            "finetune": self.finetune,
            "lora_targets": self.lora_targets,
            "lora_rank": self.lora_rank,
            "lora_alpha": self.lora_alpha,
            "bottleneck_targets": self.bottleneck_targets,
            "bottleneck_dim": self.bottleneck_dim,
            "freeze_feature_encoder": self.freeze_feature_encoder,
            "lora_folded": self.lora_folded,
            "spec_augment": self.spec_augment,
        }

    def backbone_config(self):
        """The backbone's two Hugging Face configs, from which ``ssl_lobe_from_config`` rebuilds its architecture."""
        lobe = self.adapted_model
        return {"hf_config": lobe.model.config.to_dict(), "preprocessor_config": lobe.feature_extractor.to_dict()}

    def insert_adapters(self):
        """Inserts LoRA and the bottleneck adapters; a second call does nothing."""
        if self.adapters_inserted:
            return
        super().insert_adapters()
        for name in self.bottleneck_layers:
            layer = self.adapted_model.get_submodule(name)
            replace_module(self.adapted_model, name, BottleneckAdapterAfterLinear(layer, self.bottleneck_dim))
        self.adapters_inserted = True

    def fold_lora(self):
        """Replaces every LoRA layer by a plain linear layer whose weight holds the LoRA update, for inference.

        The model computes the same function (up to float32 rounding) with one matrix product per projection
        instead of three; the state dict then holds plain ``q_proj.weight``-style keys and the encoder is rebuilt
        with ``lora_folded: True``. Training can no longer tell the update from the pretrained weight, so fold
        only a finished model (``recipes/export.py`` does, unless ``--no_fold_lora``).

        Returns
        -------
        int
            How many layers were folded.
        """
        if self.finetune == "adapters" and not self.adapters_inserted:
            raise RuntimeError("fold_lora folds trained adapters: load the weights and insert the adapters first.")
        names = [name for name, module in self.adapted_model.named_modules() if isinstance(module, MergedWeightLoRA)]
        for name in names:
            replace_module(self.adapted_model, name, self.adapted_model.get_submodule(name).folded())
        if self.finetune == "adapters":
            self.lora_folded = True
            self.replace_layers = []
        return len(names)

    def trainable_parameter_names(self):
        """Names of the parameters that train."""
        return [name for name, parameter in self.named_parameters() if parameter.requires_grad]

    @mark_as_saver
    def saver(self, path):
        """Saves the whole encoder, or only its trainable parameters (see ``save_frozen``)."""
        state = self.state_dict(keep_vars=True)
        if not self.save_frozen:
            state = {name: value for name, value in state.items() if value.requires_grad}
        torch.save({name: value.detach() for name, value in state.items()}, path)

    @mark_as_loader
    def loader(self, path, end_of_epoch):
        """Recovers a checkpoint of this encoder; every trainable parameter must be in it."""
        del end_of_epoch
        state = torch.load(path, map_location="cpu", weights_only=True)
        own = self.state_dict()
        problems = _key_problems(own, state)
        problems += [f"missing trainable {n}" for n in self.trainable_parameter_names() if n not in state]
        if problems:
            raise CheckpointMismatchError(
                f"Checkpoint {path} does not fit this encoder ({len(problems)} problems, e.g. {problems[:3]}). "
                "It was written by a run with other encoder or adapter settings; use a fresh output_folder."
            )
        self.load_state_dict(state, strict=False)

    @mark_as_transfer
    def parameter_transfer(self, path):
        """Loads a complete encoder written by an earlier stage (``save_frozen=True``), bit for bit.

        If that stage trained adapters (Table 2 setting 1), they are inserted first and keep training.
        """
        state = torch.load(path, map_location="cpu", weights_only=True)
        if any(marker in key for key in state for marker in ADAPTER_KEY_MARKERS):
            self.insert_adapters()
        problems = _key_problems(self.state_dict(), state)
        problems += [f"missing {key}" for key in self.state_dict() if key not in state]
        if problems:
            raise CheckpointMismatchError(
                f"The stage-1 encoder {path} does not fit this encoder ({len(problems)} problems, e.g. "
                f"{problems[:3]}). Stage 2 must use the same wav2vec2_hub architecture as stage 1 and, when "
                "stage 1 trained adapters, the same lora_rank, bottleneck_dim and targets."
            )
        self.load_state_dict(state, strict=True)


def normalize_waveforms(wavs, wav_lens=None, eps=1e-7):
    """Zero mean, unit variance per waveform over its true length; padding stays zero.

    What the Hugging Face feature extractor does per utterance (``Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm``,
    with its ``1e-7`` added to the variance, where ``F.layer_norm``, the lobe's own normalisation, adds ``1e-5``),
    so a padded batch and one utterance alone get equal inputs, and quiet utterances the same scale as a Hugging
    Face pipeline would feed the model.

    Arguments
    ---------
    wavs : torch.Tensor
        ``[batch, samples]``.
    wav_lens : torch.Tensor, optional
        Relative lengths (SpeechBrain convention); None means no padding.
    eps : float
        Added to the variance (the Hugging Face feature extractor's value).

    Returns
    -------
    torch.Tensor

    Example
    -------
    >>> wav = torch.randn(1, 800) * 3 + 1
    >>> padded = torch.cat([wav, torch.zeros(1, 200)], dim=1)
    >>> alone = normalize_waveforms(wav)
    >>> in_batch = normalize_waveforms(padded, torch.tensor([0.8]))
    >>> torch.allclose(in_batch[:, :800], alone, atol=1e-5), bool(in_batch[:, 800:].eq(0).all())
    (True, True)
    """
    if wav_lens is None:
        return F.layer_norm(wavs, wavs.shape[1:], eps=eps)
    mask = length_mask(true_sample_counts(wav_lens, wavs.shape[1]), wavs.shape[1]).to(wavs.dtype)
    count = mask.sum(dim=1, keepdim=True)
    mean = (wavs * mask).sum(dim=1, keepdim=True) / count
    variance = ((wavs - mean) * mask).pow(2).sum(dim=1, keepdim=True) / count
    return (wavs - mean) * torch.rsqrt(variance + eps) * mask


def length_mask(counts, max_len):
    """``[batch, max_len]`` boolean mask, True at the first ``counts[i]`` positions of row ``i``.

    SpeechBrain's ``length_to_mask`` computes the same, but reads the batch size with ``len()`` (and, without
    ``max_len``, the longest length with ``.item()``): an ONNX graph traced through it keeps the example's batch
    size as a constant (``recipes/hub/onnx_export.py``). This one stays a function of the input's shape.

    Arguments
    ---------
    counts : torch.Tensor
        Lengths ``[batch]`` (a float tensor of whole numbers works too).
    max_len : int
        The padded length.

    Returns
    -------
    torch.Tensor

    Example
    -------
    >>> length_mask(torch.tensor([1.0, 3.0]), 3)
    tensor([[ True, False, False],
            [ True,  True,  True]])
    """
    return torch.arange(max_len, device=counts.device) < counts.unsqueeze(1)


def relative_frame_lengths(config, wav_lens, n_samples, n_frames):
    """Relative lengths of the frames computed from each waveform's true samples, for a padded batch.

    Scaling ``wav_lens`` to frames (``round(wav_lens * n_frames)``) can count a frame that only exists
    because of padding; this applies the CNN's kernel and stride arithmetic to the true sample counts, as the
    Hugging Face model does for its attention mask, so pooling and CTC use exactly an utterance's own frames.

    Arguments
    ---------
    config : transformers.PretrainedConfig
        With ``conv_kernel`` and ``conv_stride``.
    wav_lens : torch.Tensor
        Relative waveform lengths.
    n_samples, n_frames : int
        Padded batch length in samples and in frames.

    Returns
    -------
    torch.Tensor

    Example
    -------
    >>> from transformers import Wav2Vec2Config
    >>> config = Wav2Vec2Config()  # wav2vec 2.0: 400-sample receptive field, 320-sample hop
    >>> relative_frame_lengths(config, torch.tensor([1.0, 0.5]), 16000, 49) * 49
    tensor([49., 24.])
    """
    return cnn_output_frames(config, true_sample_counts(wav_lens, n_samples)) / n_frames


def true_sample_counts(wav_lens, n_samples):
    """Each waveform's own number of samples in a padded batch of ``n_samples`` samples.

    Rounded as SpeechBrain's ``make_padding_masks`` rounds them for the Hugging Face attention mask: the
    normalisation, the frame lengths and the CNN feature cache must count the same samples as that mask.

    Example
    -------
    >>> true_sample_counts(torch.tensor([1.0, 0.3333]), 16000)
    tensor([16000.,  5333.])
    """
    return torch.round(wav_lens * n_samples)


def backbone_cache_folder(backbone_cache=None):
    """Where the SpeechBrain lobe downloads a hub backbone and looks for it first: ``backbone_cache``, or the
    Hugging Face cache by default.

    The lobe takes this folder as its ``save_path`` and first looks for a ``models--<org>--<name>/snapshots``
    folder holding weights in it (then it loads from there, without asking the hub; the files are read in
    place), else downloads there. Sharing the Hugging Face cache means one copy of a backbone per machine, found
    by every run, also with ``HF_HUB_OFFLINE=1``. The default is read when called: set ``HF_HOME`` (or
    ``HF_HUB_CACHE``) before Python starts, as huggingface_hub reads it at import.

    Arguments
    ---------
    backbone_cache : str, optional
        A folder; None (yaml ``null``) for the Hugging Face cache.

    Returns
    -------
    str

    Example
    -------
    >>> backbone_cache_folder("/scratch/hf_hub")
    '/scratch/hf_hub'
    >>> backbone_cache_folder(None) == hub_constants.HF_HUB_CACHE
    True
    """
    return str(backbone_cache) if backbone_cache else hub_constants.HF_HUB_CACHE


def ssl_output_size(ssl_model):
    """The feature size of a SpeechBrain HF lobe, read from its config (never hard-coded).

    Arguments
    ---------
    ssl_model : torch.nn.Module
        A lobe with a Hugging Face ``model`` attribute.

    Returns
    -------
    int
    """
    return ssl_model.model.config.hidden_size


def receptive_field(ssl_model):
    """Samples the CNN feature encoder needs to produce one frame (400 for wav2vec 2.0).

    Arguments
    ---------
    ssl_model : torch.nn.Module
        A lobe with a Hugging Face ``model`` attribute.

    Returns
    -------
    int
    """
    config = ssl_model.model.config
    field, hop = 1, 1
    for kernel, stride in zip(config.conv_kernel, config.conv_stride):
        field += (kernel - 1) * hop
        hop *= stride
    return field


class Wav2Vec2FromConfig(Wav2Vec2):
    """SpeechBrain's ``Wav2Vec2`` lobe built from a config alone, with random weights.

    For stage 2 and exported models: their weights come from a checkpoint that holds every weight of the
    encoder, so the backbone needs only its architecture, and loading needs neither the hub nor a second copy of
    the weights. Works for any ``AutoModel`` type the lobe supports (wav2vec 2.0, HuBERT, WavLM, data2vec-audio).
    """

    def _from_pretrained(self, source, save_path, cache_dir, device=None, **kwargs):
        # Random weights, drawn from a private copy of the RNG: they are replaced anyway, and a seeded run must
        # draw the same adapters, heads and batches as one whose backbone was loaded from the hub.
        with torch.random.fork_rng():
            self.model = self.auto_class.from_config(self.config)


def ssl_lobe_from_config(hf_config, preprocessor_config):
    """Builds a ``Wav2Vec2FromConfig`` lobe from the two Hugging Face config dictionaries.

    Arguments
    ---------
    hf_config : dict
        ``model.config.to_dict()`` of the training-time backbone.
    preprocessor_config : dict
        The backbone's feature-extractor config (waveform normalisation).

    Returns
    -------
    Wav2Vec2FromConfig
    """
    with tempfile.TemporaryDirectory() as folder:
        config = dict(hf_config)
        AutoConfig.for_model(config.pop("model_type"), **config).save_pretrained(folder)
        with open(os.path.join(folder, "preprocessor_config.json"), "w", encoding="utf-8") as handle:
            json.dump(preprocessor_config, handle)
        return Wav2Vec2FromConfig(folder, save_path=folder)


def _key_problems(own, state):
    problems = [f"unexpected {key}" for key in state if key not in own]
    problems += [
        f"shape of {key}: {tuple(state[key].shape)} vs {tuple(own[key].shape)}"
        for key in state
        if key in own and state[key].shape != own[key].shape
    ]
    return problems
