"""Randomly initialised wav2vec 2.0 backbones (and HuBERT, WavLM, data2vec-audio) saved as local Hugging Face
folders.

Tests, the demo and the benchmark never download weights. They build a backbone from a
``transformers.Wav2Vec2Config`` (or the config of another family, ``FAMILIES``) and ``save_pretrained`` it into a
folder; the recipe then loads that folder through exactly the code path it uses for a hub id
(``speechbrain.integrations.huggingface.Wav2Vec2``).

Architectures:

- ``tiny``: 2 Transformer layers of width 64 over a one-layer CNN with the real CNN's receptive field and hop
  (400 samples, 320: 20 ms frames), so frame counts and CTC lengths are realistic. That layer starts as a
  Hann-windowed sine/cosine filterbank (60 Hz to 7 kHz, log-spaced) instead of random weights: a randomly
  initialised CNN cannot resolve pitch or formants, so a tiny model could not learn gender from the generated
  corpus in a few epochs (a linear probe on its pooled features reached 0.71 gender accuracy across sessions,
  0.91 with the filterbank; a long-term spectrum alone reaches 0.99). Everything else is random.
- ``wav2vec2-base``: the architecture of ``facebook/wav2vec2-base`` (12 layers, 768, group-norm CNN).
- ``xls-r-300m``: the architecture of ``facebook/wav2vec2-xls-r-300m`` used by the paper (24 pre-LayerNorm
  layers, 1024, layer-norm CNN).

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import json
import os

import numpy as np
import torch
from transformers import (
    Data2VecAudioConfig,
    Data2VecAudioModel,
    HubertConfig,
    HubertModel,
    Wav2Vec2Config,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2Model,
    WavLMConfig,
    WavLMModel,
)

from custom_modules.constants import SAMPLE_RATE

_CNN = {
    "conv_kernel": (10, 3, 3, 3, 3, 2, 2),
    "conv_stride": (5, 2, 2, 2, 2, 2, 2),
}

ARCHITECTURES = {
    "tiny": {
        "conv_kernel": (400,),
        "conv_stride": (320,),
        "conv_dim": (128,),
        "conv_bias": True,
        "feat_extract_norm": "layer",
        "do_stable_layer_norm": True,
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 128,
        "num_conv_pos_embeddings": 16,
        "num_conv_pos_embedding_groups": 4,
        # LayerDrop skips layers at random; with DDP that leaves parameters without gradients.
        "layerdrop": 0.0,
        # SpecAugment's time masks as the hub checkpoints set them (wav2vec2-base: 0.05, spans of 10 frames), so
        # that the recipe's default (spec_augment: True) masks in the tests and the demo as on a real backbone.
        "mask_time_prob": 0.05,
        "mask_time_length": 10,
    },
    "wav2vec2-base": {**_CNN},
    "xls-r-300m": {
        **_CNN,
        "conv_dim": (512,) * 7,
        "conv_bias": True,
        "feat_extract_norm": "layer",
        "do_stable_layer_norm": True,
        "hidden_size": 1024,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "intermediate_size": 4096,
        "layerdrop": 0.1,
    },
}

# The backbone families the recipe supports, by Hugging Face model type: the same CNN + Transformer layout and
# layer names (``encoder.layers.*.attention.[qkv]_proj``, ``feed_forward.output_dense``), so every architecture
# above exists in each of them.
FAMILIES = {
    "wav2vec2": (Wav2Vec2Config, Wav2Vec2Model),
    "hubert": (HubertConfig, HubertModel),
    "wavlm": (WavLMConfig, WavLMModel),
    "data2vec-audio": (Data2VecAudioConfig, Data2VecAudioModel),
}
# data2vec-audio's num_conv_pos_embeddings counts the positional convolution's layers (wav2vec 2.0's is its
# kernel width): the tiny model gets 2 layers of width 16 instead of 16 layers.
_TINY_FAMILY_SETTINGS = {"data2vec-audio": {"num_conv_pos_embeddings": 2, "conv_pos_kernel_size": 16}}

# Preprocessor settings of the matching hub checkpoints: whether the waveform is normalised and whether the
# model expects an attention mask (layer-norm CNNs do; wav2vec2-base's group-norm CNN does not).
_PREPROCESSORS = {
    "tiny": {"do_normalize": True, "return_attention_mask": True},
    "wav2vec2-base": {"do_normalize": True, "return_attention_mask": False},
    "xls-r-300m": {"do_normalize": True, "return_attention_mask": True},
}


def build_backbone(save_dir, architecture="tiny", seed=0, family="wav2vec2"):
    """Saves a randomly initialised backbone of the given architecture and family as a Hugging Face folder.

    Re-running with the same arguments leaves an existing folder untouched.

    Arguments
    ---------
    save_dir : str
        Folder to write ``config.json``, ``model.safetensors`` and ``preprocessor_config.json`` into.
    architecture : str
        One of ``ARCHITECTURES``.
    seed : int
        Seed of the random initialisation.
    family : str
        One of ``FAMILIES`` (a Hugging Face model type).

    Returns
    -------
    str
        ``save_dir``, to be used as ``wav2vec2_hub``.

    Example
    -------
    >>> import tempfile
    >>> folder = build_backbone(tempfile.mkdtemp(), "tiny")
    >>> sorted(os.listdir(folder))
    ['backbone_recipe.json', 'config.json', 'model.safetensors', 'preprocessor_config.json']
    >>> json.load(open(build_backbone(tempfile.mkdtemp(), "tiny", family="wavlm") + "/config.json"))["model_type"]
    'wavlm'
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture {architecture!r}; choose from {sorted(ARCHITECTURES)}.")
    if family not in FAMILIES:
        raise ValueError(f"Unknown backbone family {family!r}; choose from {sorted(FAMILIES)}.")
    config_class, model_class = FAMILIES[family]
    settings = dict(ARCHITECTURES[architecture])
    if architecture == "tiny":
        settings.update(_TINY_FAMILY_SETTINGS.get(family, {}))
    # The settings too: a folder built from other settings (an older version of this module) is built again.
    recipe = {"architecture": architecture, "seed": seed, "settings": json.loads(json.dumps(settings))}
    if family != "wav2vec2":  # wav2vec 2.0 folders built before families existed stay valid
        recipe["family"] = family
    marker = os.path.join(save_dir, "backbone_recipe.json")
    if os.path.isfile(marker) and os.path.isfile(os.path.join(save_dir, "config.json")):
        with open(marker, encoding="utf-8") as handle:
            if json.load(handle) == recipe:
                return save_dir
    os.makedirs(save_dir, exist_ok=True)
    config = config_class(**settings)
    # Seed a private generator so building a backbone never disturbs the caller's global RNG.
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = model_class(config)
    if architecture == "tiny":
        _init_filterbank(model.feature_extractor.conv_layers[0].conv)
    model.save_pretrained(save_dir)
    Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0, **_PREPROCESSORS[architecture]
    ).save_pretrained(save_dir)
    with open(marker, "w", encoding="utf-8") as handle:
        json.dump(recipe, handle)
    return save_dir


def _init_filterbank(conv, sample_rate=SAMPLE_RATE, lowest=60.0, highest=7000.0):
    """Sets a Conv1d's filters to Hann-windowed cosine/sine pairs at log-spaced frequencies (unit norm)."""
    n_filters, _, kernel = conv.weight.shape
    time = np.arange(kernel) / sample_rate
    window = np.hanning(kernel)
    filters = []
    for frequency in np.geomspace(lowest, highest, n_filters // 2):
        filters += [np.cos(2 * np.pi * frequency * time) * window, np.sin(2 * np.pi * frequency * time) * window]
    filters = np.array(filters)
    filters /= np.linalg.norm(filters, axis=1, keepdims=True)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(filters, dtype=conv.weight.dtype).unsqueeze(1))
        if conv.bias is not None:
            conv.bias.zero_()
