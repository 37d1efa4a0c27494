#!/usr/bin/env python3
"""The GPU path end to end in a few minutes: stage-1 and stage-2 training steps of the paper's backbone at each
precision, with gradient checkpointing off and on, then inference; prints what each costs on this GPU.

For every stage (1: full finetuning; 2: the stage-1 model frozen, with adapters), precision (``fp32``, ``bf16``,
``fp16``: SpeechBrain's ``--precision`` run option, autocast, with a gradient scaler for fp16) and gradient
checkpointing setting, it times ``fit_batch`` of the Brain built from the stage's yaml (as
``recipes/benchmark.py`` does, random XLS-R-300m weights, nothing downloaded) and measures the step's peak GPU
memory above its start, on the batch and on twice as many utterances. It prints the step time, that memory, the
memory a step needs per second of audio in its batch and whatever the batch, and how many seconds of audio per
batch would fit in this GPU's memory; then the real-time factor of ``EmotionRecognizer`` with each
stage's model. Every loss must be finite, or the script fails::

    python recipes/gpu_check.py                                  # CUDA, XLS-R-300m, batch 8 x 6 s
    python recipes/gpu_check.py --batch_size 16 --seconds 8 --output_json gpu_check.json
    python recipes/gpu_check.py --device cpu --architecture tiny --precisions fp32 bf16   # checks the script

Without a CUDA device it stops with a message (``--device cpu`` runs the same path on the CPU, for checking the
script; the figures are then the CPU's).

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import argparse
import gc
import json
import math
import os
import statistics
import sys
import tempfile
import time

import torch

from custom_modules.constants import SAMPLE_RATE
from custom_modules.data import build_label_encoders, build_tokenizer
from custom_modules.errors import above, at_least
from recipes.bench.measuring import device_name, memory_per_audio_second, peak_step_memory, synchronize
from recipes.bench.stages import build_recognizer, load_stage, make_batch, stage_brain
from synthetic.backbones import ARCHITECTURES, build_backbone

PRECISIONS = ("fp32", "bf16", "fp16")
STAGES = ("stage1", "stage2")


class GPUCheckError(Exception):
    """The check cannot run as asked (no CUDA device, a precision the device lacks)."""


def parse_args(argv=None):
    """The command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="gpu_check.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N, or cpu (to check the script)")
    parser.add_argument("--architecture", default="xls-r-300m", choices=sorted(ARCHITECTURES))
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=PRECISIONS)
    parser.add_argument("--batch_size", type=at_least(1), default=8)
    parser.add_argument("--seconds", type=above(0), default=6.0, help="duration of each utterance of the batch")
    parser.add_argument("--repeats", type=at_least(1), default=3, help="timed steps per setting (median reported)")
    parser.add_argument("--warmup", type=at_least(0), default=1, help="untimed steps first")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output_json", default=None)
    return parser.parse_args(argv)


def check_device(device, precisions):
    """Stops with a clear message when the device cannot run what was asked.

    Arguments
    ---------
    device : str
    precisions : list of str

    Returns
    -------
    str
        The device (``cuda`` made ``cuda:0``).
    """
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise GPUCheckError(
                "torch sees no CUDA device: this script measures the GPU path. Run it on a GPU machine, or pass "
                "--device cpu --architecture tiny --precisions fp32 bf16 to check the script itself."
            )
        device = "cuda:0" if device == "cuda" else device
        if "bf16" in precisions and not torch.cuda.is_bf16_supported():
            raise GPUCheckError(f"{torch.cuda.get_device_name(device)} has no bf16: leave bf16 out of --precisions.")
    elif "fp16" in precisions:
        raise GPUCheckError("fp16 training needs CUDA (SpeechBrain refuses it on the CPU): use fp32 and bf16 there.")
    return device


def measure_steps(stage, hparams, batch, double, args):
    """Step time and memory of one stage at every precision, with gradient checkpointing off and on.

    Arguments
    ---------
    stage : str
    hparams : dict
        From ``recipes.bench.stages.load_stage``.
    batch : PaddedBatch
    double : PaddedBatch
        Twice as many utterances of the same length: the memory a step needs per second of audio.
    args : argparse.Namespace

    Returns
    -------
    list of dict
    """
    encoder = hparams["encoder"]
    audio_seconds = batch.sig[0].shape[0] * batch.sig[0].shape[1] / SAMPLE_RATE
    rows = []
    for precision in args.precisions:
        brain = stage_brain(stage, hparams, {"device": args.device, "precision": precision})
        for checkpointing in (False, True):
            encoder.set_gradient_checkpointing(checkpointing)
            times, losses = [], []
            for index in range(args.warmup + args.repeats):
                torch.manual_seed(args.seed + index)
                synchronize(args.device)
                start = time.perf_counter()
                losses.append(float(brain.fit_batch(batch)))
                synchronize(args.device)
                if index >= args.warmup:
                    times.append(time.perf_counter() - start)
            if not all(math.isfinite(loss) for loss in losses):
                raise RuntimeError(f"{stage} {precision} checkpointing={checkpointing}: non-finite loss {losses}")
            torch.manual_seed(args.seed)
            memory = peak_step_memory(lambda brain=brain: brain.fit_batch(batch), args.device)
            torch.manual_seed(args.seed)
            double_memory = peak_step_memory(lambda brain=brain: brain.fit_batch(double), args.device)
            per_audio = memory_per_audio_second(memory, double_memory, audio_seconds)
            rows.append(
                {
                    "stage": stage,
                    "precision": precision,
                    "gradient_checkpointing": checkpointing,
                    "step_s": statistics.median(times),
                    "step_times_s": times,
                    "loss": losses[-1],
                    "step_memory_mb": memory["step_mb"],
                    "peak_memory_mb": memory["peak_mb"],
                    "memory_method": memory["method"],
                    "double_batch_memory_mb": double_memory["step_mb"],
                    "mb_per_audio_s": per_audio["mb_per_audio_s"],
                    "batch_independent_mb": per_audio["batch_independent_mb"],
                    "audio_s_that_fit": _audio_that_fits(args.device, per_audio),
                }
            )
        encoder.set_gradient_checkpointing(False)
        del brain
        gc.collect()
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()
    return rows


def measure_inference(hparams, args):
    """Real-time factor of ``EmotionRecognizer.classify_batch`` on one utterance of ``--seconds`` (fp32)."""
    wav = 0.1 * torch.randn(1, int(args.seconds * SAMPLE_RATE), generator=torch.Generator().manual_seed(args.seed))
    recognizer = build_recognizer(hparams, args.device)
    times = []
    for index in range(args.warmup + max(args.repeats, 3)):
        synchronize(args.device)
        start = time.perf_counter()
        recognizer.classify_batch(wav, torch.ones(1))
        synchronize(args.device)
        if index >= args.warmup:
            times.append(time.perf_counter() - start)
    return {"classify_s": statistics.median(times), "rtf": statistics.median(times) / args.seconds}


def run_check(args):
    """Builds both stages and measures them; returns every figure."""
    args.device = check_device(args.device, args.precisions)
    begin = time.perf_counter()
    results = {
        "settings": {
            **vars(args),
            "device_name": device_name(args.device),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
        },
        "training": [],
        "inference": {},
    }
    with tempfile.TemporaryDirectory() as work_dir:
        backbone = build_backbone(os.path.join(work_dir, "backbone"), args.architecture, seed=args.seed)
        hparams = {}
        for stage in STAGES:
            hparams[stage] = load_stage(stage, backbone, work_dir, {"cache_cnn_features": False})
        save_folder = hparams["stage1"]["save_folder"]
        encoders, tokenizer = build_label_encoders(save_folder), build_tokenizer(save_folder)
        batch = make_batch(args.batch_size, args.seconds, encoders, tokenizer, args.seed)
        double = make_batch(2 * args.batch_size, args.seconds, encoders, tokenizer, args.seed)
        for stage in STAGES:
            results["training"] += measure_steps(stage, hparams[stage], batch, double, args)
            # Off the device until inference: the next stage's figures are its own.
            for module in hparams[stage]["modules"].values():
                module.to("cpu")
        for stage in STAGES:
            results["inference"][stage] = measure_inference(hparams[stage], args)
    results["settings"]["total_s"] = time.perf_counter() - begin
    return results


def format_report(results):
    """The figures as Markdown tables."""
    s = results["settings"]
    lines = [
        f"## {s['architecture']} on {s['device_name']} ({s['device']}; torch {s['torch']}, CUDA {s['cuda']}), "
        f"batch {s['batch_size']} x {s['seconds']:g} s, median of {s['repeats']} steps, {s['total_s']:.0f} s in all",
        "",
        "| stage | precision | gradient checkpointing | step (s) | step peak above start (MB) | "
        "MB per s of audio in the batch | MB whatever the batch | audio s per batch that fit | loss |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["training"]:
        figures = [
            _format(row["step_memory_mb"], "{:.0f}"),
            _format(row["mb_per_audio_s"], "{:.1f}"),
            _format(row["batch_independent_mb"], "{:.0f}"),
            _format(row["audio_s_that_fit"], "{:.0f}"),
        ]
        lines.append(
            f"| {row['stage']} | {row['precision']} | {'on' if row['gradient_checkpointing'] else 'off'} | "
            f"{row['step_s']:.3f} | {' | '.join(figures)} | {row['loss']:.3f} |"
        )
    lines += ["", f"| inference, 1 x {s['seconds']:g} s, fp32 | classify_batch (s) | RTF |", "|---|---|---|"]
    for stage, figures in results["inference"].items():
        lines.append(f"| EmotionRecognizer, {stage} | {figures['classify_s']:.4f} | {figures['rtf']:.4f} |")
    lines += [
        "",
        f"Step peak above start (activations, gradients, temporaries): {results['training'][0]['memory_method']}. "
        "Per second of audio and whatever the batch: from the step on the batch and on twice as many utterances "
        "(recipes.bench.measuring.memory_per_audio_second). Audio that fits: (the device's memory, less what is held "
        "between steps, the weights and the optimizer's state, less what a step needs whatever the batch) / MB per "
        "second of audio.",
    ]
    return "\n".join(lines)


def main(argv=None):
    """Runs the check, prints the tables and writes ``--output_json``; exit status 2 if it cannot run."""
    args = parse_args(argv)
    try:
        results = run_check(args)
    except GPUCheckError as error:
        print(f"gpu_check.py: error: {error}", file=sys.stderr)
        return 2
    print(format_report(results))
    if args.output_json:
        with open(args.output_json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)
        print(f"\nWrote {args.output_json}")
    return 0


def _audio_that_fits(device, per_audio):
    if not str(device).startswith("cuda") or not per_audio["mb_per_audio_s"]:
        return None
    left = torch.cuda.get_device_properties(device).total_memory - torch.cuda.memory_allocated(device)
    return max(left / 2**20 - per_audio["batch_independent_mb"], 0.0) / per_audio["mb_per_audio_s"]


def _format(value, fmt):
    return "n/a" if value is None else fmt.format(value)


if __name__ == "__main__":
    sys.exit(main())
