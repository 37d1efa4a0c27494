"""Randomly initialised wav2vec 2.0 backbones saved as local Hugging Face folders.

Tests, the demo and the benchmark never download weights. They build a backbone from a
``transformers.Wav2Vec2Config`` and ``save_pretrained`` it into a folder; the recipe then loads that folder
through exactly the code path it uses for a hub id (``speechbrain.integrations.huggingface.Wav2Vec2``).

Architectures:

- ``tiny``: 2 Transformer layers of width 64 with the real CNN geometry (kernels 10,3,3,3,3,2,2, strides
  5,2,2,2,2,2,2: 400-sample receptive field, 20 ms hop), so frame counts and CTC lengths are realistic.
- ``wav2vec2-base``: the architecture of ``facebook/wav2vec2-base`` (12 layers, 768, group-norm CNN).
- ``xls-r-300m``: the architecture of ``facebook/wav2vec2-xls-r-300m`` used by the paper (24 pre-LayerNorm
  layers, 1024, layer-norm CNN).

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import json
import os

import torch
from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

_CNN = {
    "conv_kernel": (10, 3, 3, 3, 3, 2, 2),
    "conv_stride": (5, 2, 2, 2, 2, 2, 2),
}

ARCHITECTURES = {
    "tiny": {
        **_CNN,
        "conv_dim": (64,) * 7,
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
        "mask_time_prob": 0.0,
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

# Preprocessor settings of the matching hub checkpoints: whether the waveform is normalised and whether the
# model expects an attention mask (layer-norm CNNs do; wav2vec2-base's group-norm CNN does not).
_PREPROCESSORS = {
    "tiny": {"do_normalize": True, "return_attention_mask": True},
    "wav2vec2-base": {"do_normalize": True, "return_attention_mask": False},
    "xls-r-300m": {"do_normalize": True, "return_attention_mask": True},
}


def build_backbone(save_dir, architecture="tiny", seed=0):
    """Saves a randomly initialised wav2vec 2.0 of the given architecture as a Hugging Face folder.

    Re-running with the same arguments leaves an existing folder untouched.

    Arguments
    ---------
    save_dir : str
        Folder to write ``config.json``, ``model.safetensors`` and ``preprocessor_config.json`` into.
    architecture : str
        One of ``ARCHITECTURES``.
    seed : int
        Seed of the random initialisation.

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
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture {architecture!r}; choose from {sorted(ARCHITECTURES)}.")
    recipe = {"architecture": architecture, "seed": seed}
    marker = os.path.join(save_dir, "backbone_recipe.json")
    if os.path.isfile(marker) and os.path.isfile(os.path.join(save_dir, "config.json")):
        with open(marker, encoding="utf-8") as handle:
            if json.load(handle) == recipe:
                return save_dir
    os.makedirs(save_dir, exist_ok=True)
    config = Wav2Vec2Config(**ARCHITECTURES[architecture])
    # Seed a private generator so building a backbone never disturbs the caller's global RNG.
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = Wav2Vec2Model(config)
    model.save_pretrained(save_dir)
    Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, **_PREPROCESSORS[architecture]
    ).save_pretrained(save_dir)
    with open(marker, "w", encoding="utf-8") as handle:
        json.dump(recipe, handle)
    return save_dir
