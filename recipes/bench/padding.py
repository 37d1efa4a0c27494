"""The padding section: real / padded samples of the recipe's training batches (``train_loader_kwargs``:
SpeechBrain's ``DynamicBatchSampler`` with the yaml's settings) on IEMOCAP-like durations, beside plain random
batches of the paper's size.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import json

import numpy as np
import torch
from speechbrain.dataio.dataset import DynamicItemDataset

from custom_modules.data import (
    train_loader_kwargs,
)
from recipes.bench.stages import IEMOCAP_DURATIONS, PAPER_BATCH, iemocap_like_durations


def padding_stats(batches, durations, epochs=1):
    """Padding efficiency (real / padded samples) and batch sizes of a list of batches.

    Arguments
    ---------
    batches : list of list of int
        Indices into ``durations``.
    durations : numpy.ndarray
    epochs : int
        How many epochs ``batches`` covers.

    Returns
    -------
    dict

    Example
    -------
    >>> padding_stats([[0, 1], [2]], np.array([1.0, 3.0, 2.0]))["efficiency"]
    0.75
    """
    real = sum(float(durations[b].sum()) for b in batches)
    padded = sum(len(b) * float(durations[b].max()) for b in batches)
    sizes = [len(b) for b in batches]
    return {
        "efficiency": real / padded,
        "mean_batch_size": float(np.mean(sizes)),
        "min_batch_size": int(min(sizes)),
        "max_batch_size": int(max(sizes)),
        "batches_per_epoch": len(batches) / epochs,
    }


def measure(hparams, n_utterances, epochs, seed):
    """Padding efficiency of the recipe's training batches and of random batches of 16, IEMOCAP-like lengths.

    The recipe's batches come from ``custom_modules.data.train_loader_kwargs`` with the yaml's settings (a
    ``DynamicBatchSampler`` by default), over ``epochs`` epochs.

    Arguments
    ---------
    hparams : dict
        The stage-1 hparams (``dynamic_batching``, ``dynamic_batch_sampler``, ...).
    n_utterances : int
    epochs : int
    seed : int

    Returns
    -------
    dict
    """
    durations = iemocap_like_durations(n_utterances, seed)
    dataset = DynamicItemDataset({f"utt{i:05d}": {"duration": float(d)} for i, d in enumerate(durations)})
    options = train_loader_kwargs(dataset, hparams)
    sampler = options.get("batch_sampler")
    recipe_batches, random_batches = [], []
    generator = torch.Generator().manual_seed(seed)
    plain_size = options.get("batch_size", PAPER_BATCH)
    for epoch in range(epochs):
        order = torch.randperm(n_utterances, generator=generator).tolist()
        random_batches += [order[i : i + PAPER_BATCH] for i in range(0, n_utterances, PAPER_BATCH)]
        if sampler is not None:
            sampler.set_epoch(epoch)
            recipe_batches += [list(b) for b in sampler]
        else:
            recipe_batches += [order[i : i + plain_size] for i in range(0, n_utterances, plain_size)]
    recipe = padding_stats(recipe_batches, durations, epochs)
    random = padding_stats(random_batches, durations, epochs)
    if sampler is not None:
        batching = f"DynamicBatchSampler {json.dumps(dict(hparams['dynamic_batch_sampler']))}"
    else:
        batching = f"random batches of {plain_size}"
    return {
        "recipe": recipe,
        "random_16": random,
        "recipe_batching": batching,
        "durations": {
            "distribution": (
                f"log-normal, median {IEMOCAP_DURATIONS['median']} s, mean {IEMOCAP_DURATIONS['mean']} s, clipped to "
                f"[{IEMOCAP_DURATIONS['min']}, {IEMOCAP_DURATIONS['max']}] s"
            ),
            "n_utterances": n_utterances,
            "epochs": epochs,
            "mean_s": float(durations.mean()),
            "median_s": float(np.median(durations)),
            "min_s": float(durations.min()),
            "max_s": float(durations.max()),
        },
    }


def report(pad):
    """The section's Markdown table (``format_report`` in ``recipes/benchmark.py`` joins them)."""
    lines = [
        "| padding (IEMOCAP-like lengths) | efficiency | mean batch | batches / epoch | target |",
        "|---|---|---|---|---|",
    ]
    for name, label, target in (("recipe", "recipe batching", "> 0.90"), ("random_16", "random batches of 16", "")):
        p = pad[name]
        figures = f"{p['efficiency']:.3f} | {p['mean_batch_size']:.1f} | {p['batches_per_epoch']:.0f}"
        lines.append(f"| {label} | {figures} | {target} |")
    d = pad["durations"]
    lines += [
        "",
        f"Padding: {d['n_utterances']} utterances, {d['distribution']} (sample: mean {d['mean_s']:.2f} s, median "
        f"{d['median_s']:.2f} s, {d['min_s']:.2f}-{d['max_s']:.2f} s), {d['epochs']} epochs; recipe batching: "
        f"{pad['recipe_batching']}.",
    ]
    return lines
