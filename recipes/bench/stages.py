"""The models a benchmark measures, built through the recipe's own code: each stage's Brain from
``hparams/stage1.yaml`` and ``hparams/stage2.yaml`` on a random-weight backbone folder, a training batch of
realistic CTC targets, IEMOCAP-like utterance durations, and the inference models (``EmotionRecognizer``, and
stage 2 with LoRA folded as ``recipes/export.py`` exports it).

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import copy
import math
import os

import numpy as np
import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.batch import PaddedBatch

from corpora.iemocap import FULL_RELEASE_COUNTS
from custom_modules.constants import CHARACTERS, SAMPLE_RATE, TASK_LABELS
from custom_modules.data import (
    build_label_encoders,
    build_tokenizer,
)
from custom_modules.encoder import receptive_field
from custom_modules.handoff import load_stage1_encoder, write_model_config
from custom_modules.interface import EmotionRecognizer
from recipes import REPO
from train_stage1 import Stage1Brain
from train_stage2 import Stage2Brain

STAGES = ("stage1", "stage2")


# IEMOCAP's 4-class utterances (5,531): about 0.6-34 s, mean about 4.5 s, median about 3.5 s. A log-normal
# with that median and mean (sigma = sqrt(2 ln(mean / median)) = 0.709), clipped to the range.
IEMOCAP_DURATIONS = {"median": 3.5, "mean": 4.5, "min": 0.6, "max": 34.0}


IEMOCAP_UTTERANCES = sum(FULL_RELEASE_COUNTS.values())


PAPER_BATCH = 16


# About 2.5 words (14 characters) per second of conversational speech: CTC targets of realistic length.
CHARACTERS_PER_SECOND = 14


def build_stage(stage, backbone_folder, work_dir, device):
    """Builds a stage's Brain from its yaml as its train script does, ready for ``fit_batch``.

    Arguments
    ---------
    stage : str
        ``stage1`` or ``stage2``.
    backbone_folder : str
        Local Hugging Face folder (``wav2vec2_hub``).
    work_dir : str
        Temporary folder for the runs' outputs.
    device : str

    Returns
    -------
    brain : Stage1Brain or Stage2Brain
    hparams : dict
    """
    hparams = load_stage(stage, backbone_folder, work_dir)
    return stage_brain(stage, hparams, {"device": device}), hparams


def load_stage(stage, backbone_folder, work_dir, overrides=None):
    """A stage's hyperparameters and modules, from its yaml as its train script loads them.

    Stage 1 (random backbone weights) is saved as a stage-1 run (a checkpoint and ``model_config.json``), and
    stage 2 starts from it through the recipe's hand-off (``custom_modules.handoff``): load stage 1 first.

    Arguments
    ---------
    stage : str
        ``stage1`` or ``stage2``.
    backbone_folder : str
        Local Hugging Face folder (``wav2vec2_hub``).
    work_dir : str
        Temporary folder for the runs' outputs.
    overrides : dict, optional
        More yaml overrides.

    Returns
    -------
    dict
    """
    output_folder = os.path.join(work_dir, stage)
    stage1_folder = os.path.join(work_dir, "stage1")
    values = {"data_folder": work_dir, "output_folder": output_folder, "wav2vec2_hub": backbone_folder}
    # Built with the CNN feature cache, which measure_training switches on for the "cached" steps only.
    values["cache_cnn_features"] = True
    if stage == "stage2":
        values.update(stage1_folder=stage1_folder, allow_unfinished_stage1=True)
    values.update(overrides or {})
    with open(os.path.join(REPO, "hparams", f"{stage}.yaml"), encoding="utf-8") as handle:
        hparams = load_hyperpyyaml(handle, values)
    os.makedirs(output_folder, exist_ok=True)
    if stage == "stage1":
        hparams["checkpointer"].save_checkpoint(meta={"UA": 0.0, "epoch": 0})
        write_model_config(output_folder, hparams["encoder"], hparams["heads"], backbone_folder)
    else:
        load_stage1_encoder(hparams["encoder"], stage1_folder)
    return hparams


def stage_brain(stage, hparams, run_opts):
    """The stage's Brain on the modules of ``hparams``, ready for ``fit_batch`` (optimizers initialised without
    ``on_fit_start``, so no checkpoint is recovered).

    Arguments
    ---------
    stage : str
    hparams : dict
        From ``load_stage``.
    run_opts : dict
        SpeechBrain's run options (``device``, ``precision``).

    Returns
    -------
    Stage1Brain or Stage2Brain
    """
    brain_class = {"stage1": Stage1Brain, "stage2": Stage2Brain}[stage]
    brain = brain_class(modules=hparams["modules"], opt_class=hparams["opt_class"], hparams=hparams, run_opts=run_opts)
    brain.label_encoders = build_label_encoders(hparams["save_folder"])
    brain.tokenizer = build_tokenizer(hparams["save_folder"])
    brain.init_optimizers()
    brain.on_stage_start(sb.Stage.TRAIN, epoch=1)
    brain.modules.train()
    brain.zero_grad(set_to_none=True)
    brain.nonfinite_count = 0
    return brain


def make_batch(batch_size, seconds, label_encoders, tokenizer, seed):
    """A training batch with the fields of the data pipeline, from random audio of equal durations.

    Arguments
    ---------
    batch_size : int
    seconds : float
        Duration of every utterance.
    label_encoders : dict
        Task -> ``CategoricalEncoder`` (``custom_modules.data.build_label_encoders``).
    tokenizer : CTCTextEncoder
    seed : int

    Returns
    -------
    PaddedBatch
        ``id``, ``sig``, ``emo_encoded``, ``gender_encoded``, ``style_encoded``, ``tokens``.
    """
    generator = torch.Generator().manual_seed(seed)
    samples = int(round(seconds * SAMPLE_RATE))
    examples = []
    for index in range(batch_size):
        labels = {
            task: label_set[int(torch.randint(len(label_set), (1,), generator=generator))]
            for task, label_set in TASK_LABELS.items()
        }
        chars = torch.randint(len(CHARACTERS), (max(1, int(seconds * CHARACTERS_PER_SECOND)),), generator=generator)
        transcript = "".join(CHARACTERS[i] for i in chars).strip() or "a"
        examples.append(
            {
                "id": f"bench{index:03d}",
                "sig": 0.1 * torch.randn(samples, generator=generator),
                **{f"{t}_encoded": label_encoders[t].encode_label_torch(label) for t, label in labels.items()},
                "tokens": torch.LongTensor(tokenizer.encode_sequence(list(transcript))),
            }
        )
    return PaddedBatch(examples)


def iemocap_like_durations(n_utterances, seed):
    """Utterance durations drawn from a log-normal with IEMOCAP's median and mean, clipped to its range.

    Arguments
    ---------
    n_utterances : int
    seed : int

    Returns
    -------
    numpy.ndarray
        Durations in seconds.
    """
    mu = math.log(IEMOCAP_DURATIONS["median"])
    sigma = math.sqrt(2 * math.log(IEMOCAP_DURATIONS["mean"] / IEMOCAP_DURATIONS["median"]))
    durations = np.random.default_rng(seed).lognormal(mu, sigma, n_utterances)
    return np.clip(durations, IEMOCAP_DURATIONS["min"], IEMOCAP_DURATIONS["max"])


def build_recognizer(hparams, device):
    """An ``EmotionRecognizer`` on a stage's modules, as an exported model folder would give.

    ``Pretrained`` freezes the modules and puts them in eval mode: call this after the training measurements.

    Arguments
    ---------
    hparams : dict
        The stage's hparams.
    device : str

    Returns
    -------
    EmotionRecognizer
    """
    encoders = build_label_encoders(hparams["save_folder"])
    recognizer_hparams = {
        "label_encoder": encoders["emo"],
        "gender_encoder": encoders["gender"],
        "style_encoder": encoders["style"],
        "tokenizer": build_tokenizer(hparams["save_folder"]),
        "sample_rate": SAMPLE_RATE,
        "min_samples": receptive_field(hparams["wav2vec2"]),
    }
    return EmotionRecognizer(
        modules={"encoder": hparams["encoder"], "heads": hparams["heads"]},
        hparams=recognizer_hparams,
        run_opts={"device": device},
    )


def folded_recognizer(hparams, device):
    """The stage-2 model as ``recipes/export.py`` exports it: a copy of its encoder with LoRA folded into the
    q/k/v weights (``SSLEncoder.fold_lora``), in an ``EmotionRecognizer``.

    Arguments
    ---------
    hparams : dict
        The stage-2 hparams.
    device : str

    Returns
    -------
    EmotionRecognizer
    """
    encoder = copy.deepcopy(hparams["encoder"])
    encoder.fold_lora()
    return build_recognizer({**hparams, "encoder": encoder}, device)
