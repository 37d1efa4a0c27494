#!/usr/bin/env python3
"""Measures what the recipe costs, each figure beside a reference measured in the same run.

Absolute times on a shared machine are noisy, so every figure is reported as a ratio to a reference timed
in turns with it (round robin after warm-up, the same random seed per round, so dropout and LayerDrop draw
the same layers): the median over ``--repeats`` rounds of the ratio within a round. Absolute times (medians)
are reported too. On a CPU that other jobs share, ``--threads 1 --clock process`` gives the steadiest ratios.

- Training step (``fit_batch`` of ``train_stage1.Stage1Brain`` and ``train_stage2.Stage2Brain``), both built through
  the real code
  (``hparams/stage1.yaml`` and ``hparams/stage2.yaml`` with a random-weight backbone folder), divided by the
  bare backbone's step on the same waveforms: Hugging Face model forward (no attention mask, no input
  normalisation), ``mean()`` of the last layer, backward, AdamW step over the same trainable parameters
  (stage 1: every backbone parameter but the frozen CNN; stage 2: the same model with the stage's LoRA and
  bottleneck adapters, adapters trainable). This ratio is the recipe's own overhead (target <= 1.10). Also
  stage 2 / stage 1 (target <= 0.7), audio seconds trained per wall second, the CNN feature encoder's share
  of each step, the step with the CNN feature cache on (``cache_cnn_features``; filled in the warm-up round, as
  it is in every epoch after the first) divided by the step without it, peak memory and trainable parameters,
  and what a step needs per second of audio in its batch and whatever the batch (``memory_per_audio_second``,
  from a step on twice as many utterances).
- With ``--gradient_checkpointing``: the same step with gradient checkpointing on, its time and peak memory as
  ratios to the step without (targets <= 1.4 and <= 0.5) and its memory per second of audio.
- Padding efficiency (real / padded samples) of the recipe's training batches (``train_loader_kwargs`` ->
  ``DynamicBatchSampler`` with the yaml's settings) on an IEMOCAP-like length distribution, beside plain
  random batches of 16 (target > 0.9).
- Inference real-time factor of ``EmotionRecognizer`` (both stages' models, and stage 2 with LoRA folded into
  the q/k/v weights as ``recipes/export.py`` exports it) and of the bare backbone forward on the same utterance.
- Streaming (``--sections streaming``): ``iter_predictions`` of the exported-form stage-2 model over
  ``--streaming_files`` wav files of IEMOCAP-like durations written to disk, beside the bare backbone's batched
  forward on the same batches (audio loaded beforehand) and beside the same model one file at a time; and its
  peak memory over those files and over ``--streaming_scale`` times as many files of the same durations
  (target: flat).
- Timeline (``--sections timeline``): peak memory of ``emotion_timeline`` over recordings of
  ``--timeline_minutes`` (target: the longest within 1.2x of the shortest).
- ONNX (``--sections onnx``): the stage-2 model as exported with ``--onnx --quantize int8`` in ONNX Runtime,
  ``model.onnx`` and ``model.int8.onnx``, against the bare PyTorch forward of the same model and against
  ``EmotionRecognizer`` on the same batches of ``--onnx_files`` IEMOCAP-like durations (targets: fp32 >= 1.1x,
  int8 >= 2x the bare forward's throughput), the files' sizes against the fp32 checkpoint (int8 <= 0.3x);
  ``--int8_variants`` also times the other int8 forms, ``--onnx_profile`` gives each graph's time per operator.
- With ``--start_utterances N``: a stage's start before its backbone (corpus check, preparation, audio checks,
  datasets: ``train_stage1.py``'s steps) on a generated corpus of about N utterances, first start, restart and a
  new run beside one read of every wav (wall clock).

Backbones have random weights, built from the architecture's config (``synthetic.backbones``): nothing is
downloaded (``--backbone_folder`` keeps one for the next run). Commands (the README's tables come from these;
XLS-R on CPU takes about 6 minutes and 11 GB of memory)::

    python recipes/benchmark.py                       # tiny backbone, CPU, well under a minute
    python recipes/benchmark.py --threads 1 --clock process --output_json bench_tiny.json
    python recipes/benchmark.py --architecture wav2vec2-base --batch_size 2 --threads 1 --clock process \
        --output_json bench_base.json
    python recipes/benchmark.py --architecture xls-r-300m --batch_size 2 --threads 1 --clock process \
        --gradient_checkpointing --output_json bench_xlsr.json
    python recipes/benchmark.py --start_utterances 5531 --start_corpus_folder start_corpus   # IEMOCAP's size
    python recipes/benchmark.py --architecture xls-r-300m --batch_size 2 --threads 2   # RTF on 2 cores
    python recipes/benchmark.py --architecture xls-r-300m --device cuda --batch_size 16 --repeats 10
    python recipes/benchmark.py --architecture wav2vec2-base --threads 2 --sections inference streaming timeline

Peak memory of a step, above what is held at its start (activations, gradients, temporaries; weights and
optimizer states exist before): on CUDA ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``
minus ``memory_allocated`` before; on CPU the process's resident set (Linux: freed heap returned with
``malloc_trim``, the RSS high-water mark reset through ``/proc/self/clear_refs``, then VmHWM - VmRSS).

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import argparse
import copy
import ctypes
import functools
import gc
import json
import math
import os
import platform
import statistics
import tempfile
import time

import numpy as np
import soundfile
import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.dataset import DynamicItemDataset

from custom_modules.audio_checks import read_audio_facts
from custom_modules.brain import parameter_counts
from custom_modules.constants import CHARACTERS, SAMPLE_RATE, SPLITS, TASK_LABELS
from custom_modules.data import (
    build_label_encoders,
    build_tokenizer,
    dataio_prepare,
    leave_out_unusable,
    train_loader_kwargs,
    unbuilt_hparams,
)
from custom_modules.encoder import receptive_field
from custom_modules.errors import above, at_least
from custom_modules.handoff import load_stage1_encoder, write_model_config
from custom_modules.interface import EmotionRecognizer
from custom_modules.onnx_interface import ONNX_FILES, OnnxEmotionRecognizer
from custom_modules.streaming import chunks, duration_batches
from iemocap_prepare import FULL_RELEASE_COUNTS, check_corpus, prepare_iemocap
from recipes.onnx_export import INT8_FORMS, export_onnx, quantize_int8
from synthetic.backbones import ARCHITECTURES, build_backbone
from synthetic.corpus import generate_corpus
from train_stage1 import Stage1Brain
from train_stage2 import Stage2Brain

# The yaml files are read from this repository (recipes/ is one level down).
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLOCKS = {"wall": time.perf_counter, "process": time.process_time}
STAGES = ("stage1", "stage2")
SECTIONS = ("training", "padding", "inference", "streaming", "timeline", "onnx")
# IEMOCAP's 4-class utterances (5,531): about 0.6-34 s, mean about 4.5 s, median about 3.5 s. A log-normal
# with that median and mean (sigma = sqrt(2 ln(mean / median)) = 0.709), clipped to the range.
IEMOCAP_DURATIONS = {"median": 3.5, "mean": 4.5, "min": 0.6, "max": 34.0}
IEMOCAP_UTTERANCES = sum(FULL_RELEASE_COUNTS.values())
# The generated corpus of a stage-start measurement: every dialog of a session (9 improvised, 27 scripted) with
# sentences of 2 to 20 words (about 4 s per turn); about 80% of the generated turns are in the four classes.
START_CORPUS = {"impro_dialogs": 9, "script_dialogs": 27, "min_words": 2, "max_words": 20}
KEPT_SHARE = 0.8
PAPER_BATCH = 16
# About 2.5 words (14 characters) per second of conversational speech: CTC targets of realistic length.
CHARACTERS_PER_SECOND = 14
REFERENCE = (
    "bare step = the stage's Hugging Face model (hparams['wav2vec2'].model, the same object the Brain trains) "
    "forward on the same waveforms (no attention mask, no input normalisation), mean of the last layer, "
    "backward, AdamW step (the yaml's opt_class) over the model's trainable parameters, zero_grad; stage 1: "
    "every parameter but the CNN (frozen the same way); stage 2: the model with the stage's LoRA and bottleneck "
    "adapters inserted, adapters trainable. bare full / bare adapters compares the two references."
)


def parse_args(argv=None):
    """The command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--architecture", default="tiny", choices=sorted(ARCHITECTURES), help="random-weight backbone")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (cuda:N)")
    parser.add_argument("--batch_size", type=at_least(1), default=4, help="utterances in the timing batch")
    parser.add_argument(
        "--seconds", type=above(0), default=4.0, help="duration of each timing utterance (IEMOCAP ~4.5)"
    )
    parser.add_argument("--repeats", type=at_least(1), default=5, help="timed rounds; medians are reported")
    parser.add_argument("--warmup", type=at_least(0), default=1, help="untimed rounds first")
    parser.add_argument("--threads", type=at_least(1), default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument(
        "--clock",
        default="wall",
        choices=sorted(CLOCKS),
        help="wall: elapsed time; process: CPU seconds of this process (CPU only; with --threads 1 it hardly "
        "depends on what else runs on a shared machine)",
    )
    parser.add_argument(
        "--padding_utterances", type=at_least(1), default=4400, help="size of the IEMOCAP-like training set"
    )
    parser.add_argument("--padding_epochs", type=at_least(1), default=3, help="epochs of batches averaged for padding")
    parser.add_argument(
        "--sections",
        nargs="+",
        default=["training", "padding", "inference"],
        choices=SECTIONS,
        help="what to measure (default: training padding inference)",
    )
    parser.add_argument(
        "--streaming_files", type=at_least(1), default=200, help="files classified by the streaming section"
    )
    parser.add_argument(
        "--streaming_scale",
        type=at_least(1),
        default=10,
        help="memory: peak over the files, then over this many times as many (1: memory not measured)",
    )
    parser.add_argument("--stream_batch_size", type=at_least(1), default=16, help="at most this many files per batch")
    parser.add_argument("--max_batch_seconds", type=above(0), default=60.0, help="padded seconds per streamed batch")
    parser.add_argument(
        "--timeline_minutes", type=above(0), nargs="+", default=[1.0, 10.0], help="recording lengths of the timeline"
    )
    parser.add_argument(
        "--onnx_files", type=at_least(1), default=16, help="files of IEMOCAP-like durations timed by the onnx section"
    )
    parser.add_argument(
        "--onnx_profile",
        action="store_true",
        help="onnx section: also profile one pass of each ONNX model (ONNX Runtime's profiler): time per operator type",
    )
    parser.add_argument(
        "--int8_variants",
        action="store_true",
        help="onnx section: also time the other int8 forms (recipes/onnx_export.py's INT8_FORMS: all weights unsigned; "
        "the matrix products only)",
    )
    parser.add_argument("--timeline_window_s", type=above(0), default=3.0)
    parser.add_argument("--timeline_hop_s", type=above(0), default=1.0)
    parser.add_argument("--backbone_folder", default=None, help="reuse (or create) the random backbone here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output_json", default=None, help="write every figure here")
    parser.add_argument(
        "--gradient_checkpointing",
        action="store_true",
        help="also time and measure each stage's step with gradient checkpointing on (ratios to the step without)",
    )
    parser.add_argument(
        "--start_utterances",
        type=at_least(0),
        default=0,
        help="also time a stage's start before its backbone (corpus check, preparation, audio checks, datasets) on "
        f"a generated corpus of about this many 4-class utterances (IEMOCAP: {IEMOCAP_UTTERANCES}); 0: skip",
    )
    parser.add_argument(
        "--start_corpus_folder", default=None, help="keep (or reuse) the generated corpus of --start_utterances here"
    )
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: torch sees no CUDA device; measure on the CPU with --device cpu.")
    return args


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


def bare_step(hf_model, optimizer, wavs, device, timings, clock=time.perf_counter):
    """One step of the bare backbone: forward, mean of the last layer, backward, optimizer step.

    Arguments
    ---------
    hf_model : torch.nn.Module
        The Hugging Face model.
    optimizer : torch.optim.Optimizer
        Over its trainable parameters.
    wavs : torch.Tensor
        ``[batch, samples]`` (moved to ``device`` inside, as the Brain does with its batch).
    device : str
    timings : list
        The optimizer step's duration is appended here.
    clock : callable
        Returns the time in seconds.
    """
    hf_model.train()
    hf_model(wavs.to(device)).last_hidden_state.mean().backward()
    _synchronize(device)
    start = clock()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    _synchronize(device)
    timings.append(clock() - start)


class ForwardTimer:
    """Time spent in one module's forward, summed until ``take()`` (CUDA events on GPU: no extra sync).

    Arguments
    ---------
    module : torch.nn.Module
    device : str
    clock : callable
        Returns the time in seconds (on CPU).
    """

    def __init__(self, module, device, clock=time.perf_counter):
        self.cuda = str(device).startswith("cuda")
        self.clock = clock
        self.spans = []
        self.handles = [module.register_forward_pre_hook(self._start), module.register_forward_hook(self._stop)]

    def _now(self):
        if not self.cuda:
            return self.clock()
        event = torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def _start(self, module, args):
        self.spans.append([self._now(), None])

    def _stop(self, module, args, output):
        self.spans[-1][1] = self._now()

    def take(self):
        """Seconds spent in the module since the last call (call it after synchronising)."""
        if self.cuda:
            total = sum(start.elapsed_time(end) / 1000 for start, end in self.spans)
        else:
            total = sum(end - start for start, end in self.spans)
        self.spans = []
        return total

    def remove(self):
        """Removes the hooks."""
        for handle in self.handles:
            handle.remove()


def time_in_turns(steps, repeats, warmup, device, seed, module_timers=None, clock=time.perf_counter):
    """Times several step functions in turns (round robin), so machine load affects them alike.

    Each round seeds torch the same way before every function, so the same dropout and LayerDrop draws
    happen in functions that run the same model.

    Arguments
    ---------
    steps : dict
        Name -> function without arguments.
    repeats : int
        Timed rounds.
    warmup : int
        Untimed rounds first.
    device : str
    seed : int
    module_timers : dict
        Optional name -> ``ForwardTimer`` whose time is recorded with that step.
    clock : callable
        Returns the time in seconds.

    Returns
    -------
    times : dict
        Name -> list of step durations (s).
    module_times : dict
        Name -> list of the timed module's durations (s) within those steps.
    """
    module_timers = module_timers or {}
    times = {name: [] for name in steps}
    module_times = {name: [] for name in module_timers}
    for round_index in range(warmup + repeats):
        for name, step in steps.items():
            torch.manual_seed(seed + round_index)
            _synchronize(device)
            if name in module_timers:
                module_timers[name].take()
            start = clock()
            step()
            _synchronize(device)
            elapsed = clock() - start
            if round_index >= warmup:
                times[name].append(elapsed)
                if name in module_timers:
                    module_times[name].append(module_timers[name].take())
    return times, module_times


def paired_ratio(numerators, denominators):
    """Median over rounds of the ratio of two quantities timed in the same round.

    Pairing by round cancels what a round shares (machine load, LayerDrop's choice of layers), which a ratio
    of two medians taken from different rounds would not.

    Arguments
    ---------
    numerators : list of float
    denominators : list of float

    Returns
    -------
    float

    Example
    -------
    >>> paired_ratio([2.0, 6.0, 3.0], [1.0, 3.0, 3.0])
    2.0
    """
    return statistics.median(a / b for a, b in zip(numerators, denominators, strict=True))


def peak_step_memory(step, device):
    """Peak memory of one call of ``step``.

    Arguments
    ---------
    step : callable
    device : str

    Returns
    -------
    dict
        ``step_mb``: peak over the step above what was held at its start (activations, gradients,
        temporaries); ``peak_mb``: the absolute peak of the whole benchmark process (both stages' models and
        optimizers, so not what one training run holds); ``method``. None where unavailable.
    """
    gc.collect()
    if str(device).startswith("cuda"):
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device)
        method = "torch.cuda.max_memory_allocated after reset_peak_memory_stats, minus memory_allocated before the step"
        return {"step_mb": (peak - before) / 2**20, "peak_mb": peak / 2**20, "method": method}
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")  # resets VmHWM to the current RSS
    except OSError:
        step()
        return {"step_mb": None, "peak_mb": None, "method": "unavailable (needs Linux /proc/self/clear_refs)"}
    before = _proc_status_kb("VmRSS")
    step()
    peak = _proc_status_kb("VmHWM")
    method = "CPU resident set (VmHWM after malloc_trim and clear_refs, minus VmRSS before the step)"
    return {"step_mb": (peak - before) / 1024, "peak_mb": peak / 1024, "method": method}


def measure_training(brains, hparams, batch, args):
    """Step times, overheads, throughput, CNN share and peak memory of both stages' training steps.

    Arguments
    ---------
    brains : dict
        Stage -> ``MultiTaskSERBrain`` ready for ``fit_batch``.
    hparams : dict
        Stage -> its hparams.
    batch : PaddedBatch
    args : argparse.Namespace

    Returns
    -------
    dict
    """
    wavs, clock = batch.sig[0], CLOCKS[args.clock]
    bare_name = {"stage1": "bare_full", "stage2": "bare_adapters"}
    steps, timers, optimizer_times = {}, {}, {}
    for stage, brain in brains.items():
        hf_model = hparams[stage]["wav2vec2"].model
        optimizer = hparams[stage]["opt_class"]([p for p in hf_model.parameters() if p.requires_grad])
        optimizer_times[stage] = []
        bare_args = (hf_model, optimizer, wavs, args.device, optimizer_times[stage], clock)
        steps[bare_name[stage]] = functools.partial(bare_step, *bare_args)
        encoder = hparams[stage]["encoder"]
        cache = encoder.cnn_feature_cache
        steps[stage] = functools.partial(_fit_batch_with_cache, brain, batch, encoder, None)
        # The warm-up round fills the cache: the timed rounds are those of epochs 2 and later.
        steps[f"{stage}_cached"] = functools.partial(_fit_batch_with_cache, brain, batch, encoder, cache)
        if args.gradient_checkpointing:
            steps[f"{stage}_checkpointed"] = functools.partial(_fit_batch_checkpointed, brain, batch, encoder)
        timers[stage] = timers[bare_name[stage]] = ForwardTimer(hf_model.feature_extractor, args.device, clock)
    times, cnn_times = time_in_turns(steps, args.repeats, args.warmup, args.device, args.seed, timers, clock)
    for stage in STAGES:
        timers[stage].remove()

    audio_seconds = wavs.shape[0] * wavs.shape[1] / SAMPLE_RATE
    results = {"audio_seconds_per_step": audio_seconds, "reference": REFERENCE}
    for stage in STAGES:
        bare = bare_name[stage]
        step_s = statistics.median(times[stage])
        results[stage] = {
            "step_s": step_s,
            "step_times_s": times[stage],
            "reference_step_s": statistics.median(times[bare]),
            "reference_step_times_s": times[bare],
            "reference_optimizer_s": statistics.median(optimizer_times[stage][args.warmup :]),
            "overhead": paired_ratio(times[stage], times[bare]),
            "audio_s_per_s": audio_seconds / step_s,
            "cnn_forward_s": statistics.median(cnn_times[stage]),
            "cnn_forward_times_s": cnn_times[stage],
            "cnn_share": paired_ratio(cnn_times[stage], times[stage]),
            "reference_cnn_share": paired_ratio(cnn_times[bare], times[bare]),
            "cached_step_s": statistics.median(times[f"{stage}_cached"]),
            "cached_step_times_s": times[f"{stage}_cached"],
            "cached_over_uncached": paired_ratio(times[f"{stage}_cached"], times[stage]),
            "parameters": parameter_counts([hparams[stage]["encoder"], hparams[stage]["heads"]]),
        }
        if args.gradient_checkpointing:
            checkpointed = times[f"{stage}_checkpointed"]
            results[stage].update(
                checkpointed_step_s=statistics.median(checkpointed),
                checkpointed_step_times_s=checkpointed,
                checkpointed_over_unchecked=paired_ratio(checkpointed, times[stage]),
            )
    results["stage2_over_stage1"] = paired_ratio(times["stage2"], times["stage1"])
    results["cached_stage2_over_cached_stage1"] = paired_ratio(times["stage2_cached"], times["stage1_cached"])
    results["bare_adapters_over_bare_full"] = paired_ratio(times["bare_adapters"], times["bare_full"])

    # Memory last and one step each: trimming the heap before a step would slow the timed steps. A batch of twice
    # as many utterances gives what a step needs per second of audio (the slope) and whatever the batch.
    brain = brains["stage1"]
    double = make_batch(2 * wavs.shape[0], args.seconds, brain.label_encoders, brain.tokenizer, args.seed)
    for stage in STAGES:
        torch.manual_seed(args.seed)
        results[stage]["memory"] = peak_step_memory(steps[stage], args.device)
        torch.manual_seed(args.seed)
        results[stage]["reference_memory"] = peak_step_memory(steps[bare_name[stage]], args.device)
        encoder = hparams[stage]["encoder"]
        double_step = functools.partial(_fit_batch_with_cache, brains[stage], double, encoder, None)
        torch.manual_seed(args.seed)
        results[stage]["memory_per_audio"] = memory_per_audio_second(
            results[stage]["memory"], peak_step_memory(double_step, args.device), audio_seconds
        )
        if args.gradient_checkpointing:
            figures = results[stage]
            torch.manual_seed(args.seed)
            figures["checkpointed_memory"] = peak_step_memory(steps[f"{stage}_checkpointed"], args.device)
            figures["checkpointed_over_unchecked_memory"] = _ratio(
                figures["checkpointed_memory"]["step_mb"], figures["memory"]["step_mb"]
            )
            double_step = functools.partial(_fit_batch_checkpointed, brains[stage], double, encoder)
            torch.manual_seed(args.seed)
            figures["checkpointed_memory_per_audio"] = memory_per_audio_second(
                figures["checkpointed_memory"], peak_step_memory(double_step, args.device), audio_seconds
            )
    return results


def memory_per_audio_second(step_memory, double_batch_memory, audio_seconds):
    """What a training step needs per second of audio in its batch, from its peak memory (``peak_step_memory``)
    at a batch and at a batch twice as large (the same utterance length): the slope, which is the activations
    kept for the backward pass and the temporaries, and the intercept, what it needs whatever the batch (the
    gradients, the optimizer's temporaries). With the weights and the optimizer's state, they tell what batch
    fits on a device: intercept + slope x batch size x longest utterance (s).

    Arguments
    ---------
    step_memory, double_batch_memory : dict
        ``peak_step_memory`` of the step and of the step on twice the audio.
    audio_seconds : float
        Seconds of (padded) audio in the first batch.

    Returns
    -------
    dict
        ``mb_per_audio_s``, ``batch_independent_mb`` (None where memory is not measured) and ``double_batch_mb``.

    Example
    -------
    >>> memory_per_audio_second({"step_mb": 1300.0}, {"step_mb": 2100.0}, 8.0)
    {'mb_per_audio_s': 100.0, 'batch_independent_mb': 500.0, 'double_batch_mb': 2100.0}
    """
    small, large = step_memory["step_mb"], double_batch_memory["step_mb"]
    if small is None or large is None:
        return {"mb_per_audio_s": None, "batch_independent_mb": None, "double_batch_mb": large}
    slope = (large - small) / audio_seconds
    return {"mb_per_audio_s": slope, "batch_independent_mb": small - slope * audio_seconds, "double_batch_mb": large}


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


def measure_padding(hparams, n_utterances, epochs, seed):
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


def measure_inference(hparams, args):
    """Real-time factor of ``classify_batch`` of both stages' recognizers and of the bare backbone forward.

    One utterance of ``--seconds``, as ``classify_file`` gets it; the bare forward is the stage-1 Hugging Face
    model (the backbone without adapters) under ``torch.no_grad`` in eval mode.

    Arguments
    ---------
    hparams : dict
        Stage -> its hparams.
    args : argparse.Namespace

    Returns
    -------
    dict
    """
    recognizers = {stage: build_recognizer(hparams[stage], args.device) for stage in STAGES}
    recognizers["stage2_folded"] = folded_recognizer(hparams["stage2"], args.device)
    generator = torch.Generator().manual_seed(args.seed)
    wav = 0.1 * torch.randn(1, int(round(args.seconds * SAMPLE_RATE)), generator=generator)
    wav_lens = torch.ones(1)
    hf_model = hparams["stage1"]["wav2vec2"].model.eval()

    def bare_forward():
        with torch.no_grad():
            hf_model(wav.to(args.device))

    steps = {"bare": bare_forward}
    steps.update({name: functools.partial(model.classify_batch, wav, wav_lens) for name, model in recognizers.items()})
    times, _ = time_in_turns(steps, max(args.repeats, 5), args.warmup, args.device, args.seed, clock=CLOCKS[args.clock])
    bare_s = statistics.median(times["bare"])
    results = {
        "audio_seconds": args.seconds,
        "bare_forward_s": bare_s,
        "bare_forward_times_s": times["bare"],
        "bare_rtf": bare_s / args.seconds,
    }
    for name in recognizers:
        classify_s = statistics.median(times[name])
        results[name] = {
            "classify_s": classify_s,
            "classify_times_s": times[name],
            "rtf": classify_s / args.seconds,
            "over_bare": paired_ratio(times[name], times["bare"]),
        }
    return results


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


def write_utterances(folder, durations, seed):
    """Writes one 16-bit wav of random audio per duration (seconds); returns their paths, in order."""
    os.makedirs(folder, exist_ok=True)
    generator = np.random.default_rng(seed)
    paths = []
    for index, duration in enumerate(durations):
        path = os.path.join(folder, f"utt{index:05d}.wav")
        samples = 0.1 * generator.standard_normal(int(round(duration * SAMPLE_RATE)))
        soundfile.write(path, samples.astype(np.float32), SAMPLE_RATE, subtype="PCM_16")
        paths.append(path)
    return paths


def streamed_batches(paths, batch_size, max_batch_seconds, sort_window=1024):
    """The batches ``EmotionRecognizer.iter_predictions`` forms (the same functions on the same headers)."""
    batches = []
    for window in chunks(paths, sort_window):
        durations = {path: soundfile.info(path).duration for path in window}
        batches += duration_batches(durations, max_batch_seconds, batch_size)
    return batches


def measure_streaming(recognizer, hf_model, work_dir, args):
    """Throughput of streamed classification against the bare backbone's batched forward on the same batches
    and against one file at a time, and its peak memory as the number of files grows.

    Arguments
    ---------
    recognizer : EmotionRecognizer
        The exported-form stage-2 model (``folded_recognizer``).
    hf_model : torch.nn.Module
        The bare Hugging Face backbone (eval mode).
    work_dir : str
    args : argparse.Namespace

    Returns
    -------
    dict
    """
    clock = CLOCKS[args.clock]
    n_files = args.streaming_files
    # The larger set repeats the smaller set's durations (as distinct files) and files are sorted in windows of
    # the smaller set's size: the larger set is the same batches, more of them, whose shapes the timed passes
    # have already met (kernel and allocator caches grow with new shapes, up to a bound). So the peak measures
    # what the number of files costs. More draws would also bring longer files, and a batch's memory grows with
    # its longest file (attention is quadratic in length), within max_batch_seconds.
    durations = np.tile(iemocap_like_durations(n_files, args.seed), args.streaming_scale)
    all_paths = write_utterances(os.path.join(work_dir, "stream"), durations, args.seed)
    paths = all_paths[:n_files]
    audio_seconds = float(durations[:n_files].sum())
    options = {"batch_size": args.stream_batch_size, "max_batch_seconds": args.max_batch_seconds}
    options["sort_window"] = n_files
    batches = streamed_batches(paths, **options)
    loaded = []
    for batch in batches:
        signals = [torch.from_numpy(soundfile.read(path, dtype="float32")[0]) for path in batch]
        loaded.append(PaddedBatch([{"sig": signal} for signal in signals]).sig[0])

    def stream(files, **kwargs):
        for _ in recognizer.iter_predictions(files, **kwargs):
            pass

    def bare_batched():
        with torch.no_grad():
            for wavs in loaded:
                hf_model(wavs.to(args.device))

    steps = {
        "streamed": functools.partial(stream, paths, **options),
        "bare_batched": bare_batched,
        "one_at_a_time": functools.partial(stream, paths, **{**options, "batch_size": 1}),
    }
    times, _ = time_in_turns(steps, 1, 0, args.device, args.seed, clock=clock)
    streamed_s, bare_s, single_s = (times[name][0] for name in steps)
    memory = {}
    for count in (n_files, n_files * args.streaming_scale) if args.streaming_scale > 1 else ():
        memory[count] = peak_step_memory(functools.partial(stream, all_paths[:count], **options), args.device)
    small, large = (memory[count]["step_mb"] if memory else None for count in (n_files, n_files * args.streaming_scale))
    padded = sum(len(batch) * max(soundfile.info(path).duration for path in batch) for batch in batches)
    return {
        "files": n_files,
        "audio_seconds": audio_seconds,
        "batches": len(batches),
        "padding_efficiency": audio_seconds / padded,
        "batching": options,
        "streamed_s": streamed_s,
        "bare_batched_s": bare_s,
        "one_at_a_time_s": single_s,
        "streamed_audio_s_per_s": audio_seconds / streamed_s,
        "throughput_over_bare_batched": bare_s / streamed_s,
        "throughput_over_one_at_a_time": single_s / streamed_s,
        "longest_s": float(durations.max()),
        "memory": {
            "files": [n_files, n_files * args.streaming_scale],
            "step_mb": [small, large],
            "larger_over_smaller": None if small is None else large / small,
            "method": memory[n_files]["method"] if memory else "not measured (--streaming_scale 1)",
        },
    }


def measure_timeline(recognizer, work_dir, args):
    """Peak memory (and time) of ``emotion_timeline`` over recordings of ``--timeline_minutes``.

    Arguments
    ---------
    recognizer : EmotionRecognizer
    work_dir : str
    args : argparse.Namespace

    Returns
    -------
    dict
    """
    clock = CLOCKS[args.clock]
    results = {"window_s": args.timeline_window_s, "hop_s": args.timeline_hop_s, "recordings": []}
    for minutes in args.timeline_minutes:
        (path,) = write_utterances(os.path.join(work_dir, f"timeline_{minutes:g}"), [60 * minutes], args.seed)
        windows = []

        def follow(path=path, windows=windows):
            timeline = recognizer.emotion_timeline(path, args.timeline_window_s, args.timeline_hop_s)
            windows.append(sum(1 for _ in timeline))

        start = clock()
        memory = peak_step_memory(follow, args.device)
        results["recordings"].append(
            {"minutes": minutes, "windows": windows[0], "seconds": clock() - start, "memory": memory}
        )
    peaks = [recording["memory"]["step_mb"] for recording in results["recordings"]]
    results["longest_over_shortest"] = None if None in peaks else peaks[-1] / peaks[0]
    return results


def measure_onnx(hparams, work_dir, args):
    """Throughput of the stage-2 model as exported in ONNX Runtime (``model.onnx`` and ``model.int8.onnx``, as
    ``recipes/export.py --onnx --quantize int8`` writes them) against PyTorch on the same batches, and the files'
    sizes.

    ``--onnx_files`` random waveforms of IEMOCAP-like durations, batched as ``classify.py`` batches them
    (``duration_batches`` with ``--stream_batch_size`` and ``--max_batch_seconds``), padded beforehand. Timed in
    turns: the bare PyTorch forward of the same model (its Hugging Face model, bottleneck adapters inside, no
    normalisation, mask or heads, under ``torch.no_grad``), ``EmotionRecognizer``'s forward (the PyTorch backend)
    and the two ONNX graphs (normalisation, masks and heads inside), each with ``--threads`` threads.

    Arguments
    ---------
    hparams : dict
        The stage-2 hparams.
    work_dir : str
    args : argparse.Namespace

    Returns
    -------
    dict
    """
    if args.device != "cpu":
        raise SystemExit("--sections onnx measures ONNX Runtime's CPU provider: use --device cpu.")
    clock = CLOCKS[args.clock]
    recognizer = folded_recognizer(hparams, args.device)
    folder = os.path.join(work_dir, "onnx")
    os.makedirs(folder, exist_ok=True)
    paths = {precision: os.path.join(folder, name) for precision, name in ONNX_FILES.items()}
    start = time.perf_counter()
    export_difference = export_onnx(recognizer, paths["fp32"])
    export_s = time.perf_counter() - start
    quantize_int8(paths["fp32"], paths["int8"])
    quantize_s = time.perf_counter() - start - export_s
    variants = list(INT8_FORMS)[1:] if args.int8_variants else []
    for variant in variants:
        paths[variant] = os.path.join(folder, f"model.{variant}.onnx")
        quantize_int8(paths["fp32"], paths[variant], variant)
    threads = torch.get_num_threads()
    onnx_models = {precision: OnnxEmotionRecognizer(path, threads=threads) for precision, path in paths.items()}
    for name, module in (("encoder", recognizer.mods.encoder), ("heads", recognizer.mods.heads)):
        torch.save(module.state_dict(), os.path.join(folder, f"{name}.ckpt"))
    sizes = {name: os.path.getsize(os.path.join(folder, name)) for name in sorted(os.listdir(folder))}
    checkpoint_bytes = sizes["encoder.ckpt"] + sizes["heads.ckpt"]

    durations = iemocap_like_durations(args.onnx_files, args.seed)
    generator = np.random.default_rng(args.seed)
    signals = [0.1 * generator.standard_normal(round(d * SAMPLE_RATE)).astype(np.float32) for d in durations]
    groups = duration_batches(dict(enumerate(durations)), args.max_batch_seconds, args.stream_batch_size)
    batches = [onnx_models["fp32"]._pad([signals[index] for index in group]) for group in groups]
    torch_batches = [(torch.from_numpy(wavs), torch.from_numpy(lens).float()) for wavs, lens in batches]
    hf_model = recognizer.mods.encoder.adapted_model.model.eval()

    def bare_forward():
        with torch.no_grad():
            for wavs, _ in torch_batches:
                hf_model(wavs)

    def pytorch_backend():
        for wavs, wav_lens in torch_batches:
            recognizer._run_heads(wavs, wav_lens)

    def onnx_backend(model):
        for wavs, wav_lens in batches:
            model.run(wavs, wav_lens)

    steps = {"bare": bare_forward, "pytorch": pytorch_backend}
    for precision, model in onnx_models.items():
        steps[f"onnx_{precision}"] = functools.partial(onnx_backend, model)
    times, _ = time_in_turns(steps, args.repeats, args.warmup, args.device, args.seed, clock=clock)
    largest = 0.0
    for (wavs, wav_lens), (torch_wavs, torch_lens) in zip(batches, torch_batches):
        expected = recognizer._run_heads(torch_wavs, torch_lens)["emo"].exp().numpy()
        largest = max(largest, float(np.abs(onnx_models["fp32"].run(wavs, wav_lens)["emotion_probs"] - expected).max()))
    audio_seconds = float(durations.sum())
    results = {
        "files": args.onnx_files,
        "audio_seconds": audio_seconds,
        "batches": len(batches),
        "batch_sizes": [len(group) for group in groups],
        "threads": threads,
        "export_s": export_s,
        "quantize_s": quantize_s,
        "export_check_difference": export_difference,
        "fp32_vs_pytorch_max_abs_difference": largest,
        "bytes": sizes,
        "checkpoint_bytes": checkpoint_bytes,
        "size_over_checkpoint": {p: sizes[os.path.basename(path)] / checkpoint_bytes for p, path in paths.items()},
        "int8_forms": {variant: INT8_FORMS[variant] for variant in ["int8", *variants]},
    }
    for name in steps:
        results[name] = {
            "seconds": statistics.median(times[name]),
            "times_s": times[name],
            "audio_s_per_s": audio_seconds / statistics.median(times[name]),
            # A speed-up: the bare forward's time over this one's, paired by round.
            "throughput_over_bare": paired_ratio(times["bare"], times[name]),
        }
    if args.onnx_profile:
        results["profile"] = {p: onnx_operator_profile(path, batches, threads, folder) for p, path in paths.items()}
    return results


def onnx_operator_profile(path, batches, threads, folder):
    """Share of one pass's operator time per ONNX operator type (ONNX Runtime's profiler), largest first.

    Arguments
    ---------
    path : str
        An ``.onnx`` file.
    batches : list of tuple
        ``(wavs, relative lengths)``, numpy.
    threads : int
    folder : str
        Where the profiler writes its trace.

    Returns
    -------
    dict
        Operator type -> share of the summed operator time.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # as OnnxEmotionRecognizer
    options.enable_profiling = True
    options.profile_file_prefix = os.path.join(folder, os.path.basename(path))
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    for wavs, wav_lens in batches:
        lengths = np.round(wav_lens * wavs.shape[1]).astype(np.int64)
        session.run(None, {"waveforms": wavs, "lengths": lengths})
    with open(session.end_profiling(), encoding="utf-8") as handle:
        events = json.load(handle)
    per_type = {}
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            op_type = event["args"]["op_name"]
            per_type[op_type] = per_type.get(op_type, 0) + event["dur"]
    total = sum(per_type.values())
    return {op: duration / total for op, duration in sorted(per_type.items(), key=lambda item: -item[1])}


def start_corpus(folder, n_utterances, seed):
    """A generated IEMOCAP-format corpus of about ``n_utterances`` utterances in the four classes (kept if there).

    Arguments
    ---------
    folder : str
        The corpus goes to ``<folder>/IEMOCAP_full_release``.
    n_utterances : int
    seed : int

    Returns
    -------
    str
        ``folder`` (a ``data_folder``).
    """
    release = os.path.join(folder, "IEMOCAP_full_release")
    marker = os.path.join(folder, "start_corpus.json")
    recipe = {"n_utterances": n_utterances, "seed": seed, **START_CORPUS}
    if os.path.isfile(marker):
        with open(marker, encoding="utf-8") as handle:
            if json.load(handle) == recipe:
                return folder
    dialogs = 5 * (START_CORPUS["impro_dialogs"] + START_CORPUS["script_dialogs"])
    turns_per_dialog = max(1, math.ceil(n_utterances / (KEPT_SHARE * dialogs)))
    generate_corpus(release, seed=seed, turns_per_dialog=turns_per_dialog, **START_CORPUS)
    with open(marker, "w", encoding="utf-8") as handle:
        json.dump(recipe, handle)
    return folder


def stage_start(data_folder, output_folder, test_session, audio_check_cache):
    """The start of a stage-1 run before its backbone: ``train_stage1.py``'s steps from the corpus check to the
    check of every utterance before training, with the yaml's settings (nothing is built from it).

    Arguments
    ---------
    data_folder : str
    output_folder : str
    test_session : int
    audio_check_cache : str

    Returns
    -------
    dict
        The fold's datasets.
    """
    overrides = {
        "data_folder": data_folder,
        "output_folder": output_folder,
        "test_session": test_session,
        "audio_check_cache": audio_check_cache,
    }
    hparams = unbuilt_hparams(os.path.join(REPO, "hparams", "stage1.yaml"), overrides)
    check_corpus(hparams["data_folder"], hparams["test_session"])
    os.makedirs(hparams["output_folder"], exist_ok=True)
    prepare_iemocap(
        data_folder=hparams["data_folder"],
        save_folder=hparams["manifest_folder"],
        test_session=hparams["test_session"],
        valid_ratio=hparams["valid_ratio"],
        seed=hparams["seed"],
        min_duration=hparams["min_duration"],
        skip_bad_wavs=hparams["skip_bad_wavs"],
        audio_check_cache=hparams["audio_check_cache"],
    )
    datasets, _, _ = dataio_prepare(hparams)
    datasets, _ = leave_out_unusable(datasets, hparams)
    return datasets


def measure_start(args, work_dir):
    """Wall time of a stage's start before its backbone (``stage_start``) on a generated corpus of IEMOCAP's size:
    a first start (every wav read once, by preparation), a restart of the same run, and a new run (another fold)
    on the same machine, beside one read of every wav (what the check before training cost at every start
    before the audio checks were remembered; a first start read every wav twice).

    The read of every wav and the first start begin with the corpus out of the operating system's page cache
    (``posix_fadvise(DONTNEED)``, on Linux): they read from this machine's disk, as a first start does; on a
    network filesystem every read costs more.

    Arguments
    ---------
    args : argparse.Namespace
    work_dir : str

    Returns
    -------
    dict
    """
    folder = args.start_corpus_folder or os.path.join(work_dir, "start_corpus")
    corpus = start_corpus(folder, args.start_utterances, args.seed)
    runs = os.path.join(work_dir, "start_runs")
    cache = os.path.join(runs, "audio_checks.json")
    clock = time.perf_counter

    def timed(function, *function_args):
        begin = clock()
        value = function(*function_args)
        return clock() - begin, value

    manifests = stage_start(corpus, os.path.join(runs, "listing"), 3, os.path.join(runs, "listing.json"))
    wavs = sorted({entry["wav"] for split in SPLITS for entry in manifests[split].data.values()})
    cold = _evict_from_page_cache(wavs)
    read_s, _ = timed(lambda: [read_audio_facts(wav) for wav in wavs])
    _evict_from_page_cache(wavs)
    first_s, datasets = timed(stage_start, corpus, os.path.join(runs, "fold1"), 1, cache)
    restart_times = [timed(stage_start, corpus, os.path.join(runs, "fold1"), 1, cache)[0] for _ in range(3)]
    new_run_s, _ = timed(stage_start, corpus, os.path.join(runs, "fold2"), 2, cache)
    restart_s = statistics.median(restart_times)
    hours = sum(entry["duration"] for split in SPLITS for entry in datasets[split].data.values()) / 3600
    return {
        "utterances": len(wavs),
        "audio_hours": hours,
        "corpus": f"synthetic.corpus.generate_corpus, {json.dumps(START_CORPUS)}",
        "cold_reads": cold,
        "read_every_wav_s": read_s,
        "first_start_s": first_s,
        "restart_s": restart_s,
        "restart_times_s": restart_times,
        "new_run_s": new_run_s,
        "restart_over_first_start": restart_s / first_s,
        "clock": "wall",
    }


def _evict_from_page_cache(paths):
    """Drops the files from the operating system's page cache, where it can (Linux); says whether it could."""
    if not hasattr(os, "posix_fadvise"):
        return False
    for path in paths:
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(descriptor)
    return True


def run_benchmark(args):
    """Runs every measurement; returns the results dictionary (what ``--output_json`` holds)."""
    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda was asked for, but torch sees no CUDA device.")
        if args.clock != "wall":
            raise SystemExit("--clock process measures CPU seconds: use --clock wall with --device cuda.")
        args.device = "cuda:0" if args.device == "cuda" else args.device
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as work_dir:
        backbone_folder = args.backbone_folder or os.path.join(work_dir, f"backbone_{args.architecture}")
        start = time.perf_counter()
        build_backbone(backbone_folder, args.architecture, seed=args.seed)
        brains, hparams = {}, {}
        for stage in STAGES:
            brains[stage], hparams[stage] = build_stage(stage, backbone_folder, work_dir, args.device)
        setup_s = time.perf_counter() - start
        brain = brains["stage1"]
        batch = make_batch(args.batch_size, args.seconds, brain.label_encoders, brain.tokenizer, args.seed)
        results = {"settings": _settings(args, setup_s)}
        sections = set(args.sections)
        if "training" in sections:
            results["training"] = measure_training(brains, hparams, batch, args)
        if "padding" in sections:
            results["padding"] = measure_padding(
                hparams["stage1"], args.padding_utterances, args.padding_epochs, args.seed
            )
        if "inference" in sections:
            results["inference"] = measure_inference(hparams, args)
        if sections & {"streaming", "timeline"}:
            recognizer = folded_recognizer(hparams["stage2"], args.device)
            if "streaming" in sections:
                hf_model = hparams["stage1"]["wav2vec2"].model.eval()
                results["streaming"] = measure_streaming(recognizer, hf_model, work_dir, args)
            if "timeline" in sections:
                results["timeline"] = measure_timeline(recognizer, work_dir, args)
        if "onnx" in sections:
            results["onnx"] = measure_onnx(hparams["stage2"], work_dir, args)
        if args.start_utterances:
            results["start"] = measure_start(args, work_dir)
    results["settings"]["total_s"] = time.perf_counter() - start
    return results


def format_report(results):
    """The results as Markdown tables (what the README shows).

    Arguments
    ---------
    results : dict
        From ``run_benchmark``.

    Returns
    -------
    str
    """
    s = results["settings"]
    lines = [
        f"## {s['architecture']} on {s['device']} ({s['device_name']}, {s['threads']} threads), "
        f"batch {s['batch_size']} x {s['seconds']:g} s, {s['clock']} clock, median of {s['repeats']}",
    ]
    for section, report in (
        ("training", _training_report),
        ("padding", _padding_report),
        ("inference", _inference_report),
        ("streaming", _streaming_report),
        ("timeline", _timeline_report),
        ("onnx", _onnx_report),
        ("start", _start_report),
    ):
        if section in results:
            lines += ["", *report(results[section])]
    return "\n".join(lines)


def _training_report(train):
    lines = [
        "| training step | stage 1 | stage 2 | target |",
        "|---|---|---|---|",
        _row("step time (s)", [train[t]["step_s"] for t in STAGES], "{:.3f}"),
        _row("bare backbone step (s)", [train[t]["reference_step_s"] for t in STAGES], "{:.3f}"),
        _row("  of which optimizer (s)", [train[t]["reference_optimizer_s"] for t in STAGES], "{:.3f}"),
        _row("overhead: step / bare step", [train[t]["overhead"] for t in STAGES], "{:.3f}", "<= 1.10"),
        f"| stage 2 / stage 1 | | {train['stage2_over_stage1']:.3f} | <= 0.70 |",
        f"| bare adapters / bare full | | {train['bare_adapters_over_bare_full']:.3f} | |",
        _row("audio s trained per clock s", [train[t]["audio_s_per_s"] for t in STAGES], "{:.2f}"),
        _row("CNN forward share of step", [train[t]["cnn_share"] for t in STAGES], "{:.1%}"),
        _row("step with CNN feature cache (s)", [train[t]["cached_step_s"] for t in STAGES], "{:.3f}"),
        _row("  cached step / step", [train[t]["cached_over_uncached"] for t in STAGES], "{:.3f}"),
        f"| cached stage 2 / cached stage 1 | | {train['cached_stage2_over_cached_stage1']:.3f} | <= 0.70 |",
        _row("step peak memory above its start (MB)", [train[t]["memory"]["step_mb"] for t in STAGES], "{:.0f}"),
        _row("  same for the bare step (MB)", [train[t]["reference_memory"]["step_mb"] for t in STAGES], "{:.0f}"),
        _row("trainable parameters", [train[t]["parameters"]["trainable"] for t in STAGES], "{:,}"),
        _row("total parameters", [train[t]["parameters"]["total"] for t in STAGES], "{:,}"),
        _row("trainable share", [train[t]["parameters"]["trainable_share"] for t in STAGES], "{:.2%}"),
        _row("step memory per s of audio in the batch (MB/s)", _per_audio(train, "memory_per_audio"), "{:.1f}"),
        _row("  step memory whatever the batch (MB)", _batch_independent(train, "memory_per_audio"), "{:.0f}"),
    ]
    if "checkpointed_step_s" in train["stage1"]:
        lines += [
            _row(
                "with gradient checkpointing: step time (s)",
                [train[t]["checkpointed_step_s"] for t in STAGES],
                "{:.3f}",
            ),
            _row(
                "  checkpointed step / step",
                [train[t]["checkpointed_over_unchecked"] for t in STAGES],
                "{:.3f}",
                "<= 1.40",
            ),
            _row(
                "  step peak memory above its start (MB)",
                [train[t]["checkpointed_memory"]["step_mb"] for t in STAGES],
                "{:.0f}",
            ),
            _row(
                "  checkpointed / unchecked step peak memory",
                [train[t]["checkpointed_over_unchecked_memory"] for t in STAGES],
                "{:.3f}",
                "<= 0.50",
            ),
            _row(
                "  step memory per s of audio in the batch (MB/s)",
                _per_audio(train, "checkpointed_memory_per_audio"),
                "{:.1f}",
            ),
            _row(
                "  step memory whatever the batch (MB)",
                _batch_independent(train, "checkpointed_memory_per_audio"),
                "{:.0f}",
            ),
        ]
    lines += [
        "",
        f"Reference: {train['reference']}",
        f"Memory: {train['stage1']['memory']['method']}.",
    ]
    return lines


def _padding_report(pad):
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


def _inference_report(infer):
    lines = [
        f"| inference, 1 x {infer['audio_seconds']:g} s | time (s) | RTF | / bare forward | target |",
        "|---|---|---|---|---|",
        f"| bare backbone forward | {infer['bare_forward_s']:.4f} | {infer['bare_rtf']:.4f} | 1.000 | |",
    ]
    for name, label, target in (
        ("stage1", "EmotionRecognizer, stage 1", ""),
        ("stage2", "EmotionRecognizer, stage 2, LoRA unfolded", ""),
        ("stage2_folded", "EmotionRecognizer, stage 2 as exported (LoRA folded)", "<= 1.03"),
    ):
        i = infer[name]
        lines.append(f"| {label} | {i['classify_s']:.4f} | {i['rtf']:.4f} | {i['over_bare']:.3f} | {target} |")
    return lines


def _streaming_report(stream):
    memory = stream["memory"]
    ratio = "n/a" if memory["larger_over_smaller"] is None else f"{memory['larger_over_smaller']:.2f}"
    return [
        f"| streaming {stream['files']} files ({stream['audio_seconds']:.0f} s of audio, {stream['batches']} "
        f"batches) | time (s) | audio s per s | streamed throughput / this | target |",
        "|---|---|---|---|---|",
        f"| iter_predictions (stage 2 as exported) | {stream['streamed_s']:.2f} | "
        f"{stream['streamed_audio_s_per_s']:.1f} | 1.000 | |",
        f"| bare backbone, batched forward of the same batches | {stream['bare_batched_s']:.2f} | "
        f"{stream['audio_seconds'] / stream['bare_batched_s']:.1f} | {stream['throughput_over_bare_batched']:.3f} | "
        ">= 0.9 |",
        f"| the same model one file at a time | {stream['one_at_a_time_s']:.2f} | "
        f"{stream['audio_seconds'] / stream['one_at_a_time_s']:.1f} | {stream['throughput_over_one_at_a_time']:.3f} | "
        ">= 3 |",
        "",
        f"Streaming peak memory above its start: {_mb(memory['step_mb'][0])} for {memory['files'][0]} files, "
        f"{_mb(memory['step_mb'][1])} for {memory['files'][1]} files of the same durations ({ratio}x)"
        if memory["step_mb"][0] is not None
        else f"Streaming peak memory: {memory['method']}",
        f"Longest file {stream['longest_s']:.1f} s; batches of at most {stream['batching']['batch_size']} files and "
        f"{stream['batching']['max_batch_seconds']:g} padded seconds (files sorted by duration in windows of "
        f"{stream['batching']['sort_window']}), {stream['padding_efficiency']:.3f} real samples per padded sample.",
    ]


def _timeline_report(timeline):
    lines = [
        f"| emotion_timeline, {timeline['window_s']:g} s windows every {timeline['hop_s']:g} s | windows | time (s) | "
        "peak memory above start (MB) |",
        "|---|---|---|---|",
    ]
    for recording in timeline["recordings"]:
        lines.append(
            f"| {recording['minutes']:g}-minute recording | {recording['windows']} | {recording['seconds']:.1f} | "
            f"{_mb(recording['memory']['step_mb'])} |"
        )
    ratio = timeline["longest_over_shortest"]
    lines += ["", f"Longest / shortest recording's peak: {'n/a' if ratio is None else f'{ratio:.2f}'} (target <= 1.2)."]
    return lines


def _onnx_report(report):
    sizes = report["bytes"]
    lines = [
        f"| stage 2 as exported, {report['files']} files ({report['audio_seconds']:.0f} s of audio, "
        f"{report['batches']} batches), {report['threads']} threads | time (s) | audio s per s | throughput / bare "
        "PyTorch forward | target |",
        "|---|---|---|---|---|",
    ]
    for name, label, target in (
        ("bare", "bare PyTorch forward (Hugging Face model with its adapters)", ""),
        ("pytorch", "PyTorch backend (EmotionRecognizer's forward)", ""),
        ("onnx_fp32", "ONNX Runtime, model.onnx (fp32)", ">= 1.1"),
        ("onnx_int8", "ONNX Runtime, model.int8.onnx (MatMul signed, Conv unsigned weights)", ">= 2"),
        ("onnx_int8_unsigned", "  int8, all weights unsigned (--quantize int8_unsigned)", ""),
        ("onnx_matmul_int8", "  int8, MatMul only, signed weights", ""),
        ("onnx_matmul_uint8", "  int8, MatMul only, unsigned weights", ""),
    ):
        if name not in report:
            continue
        r = report[name]
        lines.append(
            f"| {label} | {r['seconds']:.2f} | {r['audio_s_per_s']:.1f} | {r['throughput_over_bare']:.3f} | {target} |"
        )
    size_over = report["size_over_checkpoint"]
    lines += [
        "",
        "| file | MB | / fp32 checkpoint | target |",
        "|---|---|---|---|",
        f"| encoder.ckpt + heads.ckpt (PyTorch, fp32) | {report['checkpoint_bytes'] / 1e6:.1f} | 1.000 | |",
        f"| model.onnx | {sizes['model.onnx'] / 1e6:.1f} | {size_over['fp32']:.3f} | |",
        f"| model.int8.onnx | {sizes['model.int8.onnx'] / 1e6:.1f} | {size_over['int8']:.3f} | <= 0.3 |",
        "",
        f"model.onnx vs PyTorch on these batches: largest difference of an emotion probability "
        f"{report['fp32_vs_pytorch_max_abs_difference']:.1e}; export {report['export_s']:.1f} s, int8 quantization "
        f"{report['quantize_s']:.1f} s.",
    ]
    for precision, shares in report.get("profile", {}).items():
        top = ", ".join(f"{op} {share:.1%}" for op, share in list(shares.items())[:6])
        lines.append(f"Operator time, {precision}: {top}.")
    return lines


def _start_report(start):
    reads = "from disk" if start["cold_reads"] else "files possibly in the page cache"
    lines = [
        f"| stage start before the backbone, {start['utterances']:,} utterances ({start['audio_hours']:.1f} h), "
        f"first reads {reads} | wall s | / one read of every wav |",
        "|---|---|---|",
    ]
    for label, key in (
        ("one read of every wav (before: every start's check; a first start's twice)", "read_every_wav"),
        ("first start (preparation reads every wav once)", "first_start"),
        ("restart of the same run", "restart"),
        ("a new run (another fold) on the same machine", "new_run"),
    ):
        ratio = start[f"{key}_s"] / start["read_every_wav_s"]
        lines.append(f"| {label} | {start[f'{key}_s']:.2f} | {ratio:.3f} |")
    return lines


def _mb(value):
    return "n/a" if value is None else f"{value:.0f} MB"


def main(argv=None):
    """Runs the benchmark, prints the tables and writes ``--output_json``."""
    args = parse_args(argv)
    results = run_benchmark(args)
    print(format_report(results))
    if args.output_json:
        folder = os.path.dirname(os.path.abspath(args.output_json))
        os.makedirs(folder, exist_ok=True)
        with open(args.output_json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)
        print(f"\nWrote {args.output_json}")
    return results


def _settings(args, setup_s):
    settings = {key: value for key, value in vars(args).items() if key != "backbone_folder"}
    settings.update(
        {
            "threads": torch.get_num_threads(),
            "device_name": _device_name(args.device),
            "nproc": os.cpu_count(),
            "torch": torch.__version__,
            "speechbrain": sb.__version__,
            "python": platform.python_version(),
            "setup_s": setup_s,
        }
    )
    return settings


def _device_name(device):
    if str(device).startswith("cuda"):
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _proc_status_kb(field):
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}.")


def _synchronize(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize(device)


def _fit_batch_with_cache(brain, batch, encoder, cache):
    """One training step with the encoder's CNN feature cache switched on (``cache``) or off (None)."""
    encoder.cnn_feature_cache = cache
    try:
        return brain.fit_batch(batch)
    finally:
        encoder.cnn_feature_cache = None


def _fit_batch_checkpointed(brain, batch, encoder):
    """One training step (without the CNN feature cache) with gradient checkpointing on."""
    encoder.set_gradient_checkpointing(True)
    try:
        return _fit_batch_with_cache(brain, batch, encoder, None)
    finally:
        encoder.set_gradient_checkpointing(False)


def _ratio(numerator, denominator):
    return None if numerator is None or not denominator else numerator / denominator


def _per_audio(train, key):
    return [train[stage][key]["mb_per_audio_s"] for stage in STAGES]


def _batch_independent(train, key):
    return [train[stage][key]["batch_independent_mb"] for stage in STAGES]


def _row(label, values, fmt, target=""):
    cells = ["n/a" if v is None else fmt.format(v) for v in values]
    return f"| {label} | {' | '.join(cells)} | {target} |"


if __name__ == "__main__":
    main()  # exit status 0, or argparse's 2 for options it cannot use
