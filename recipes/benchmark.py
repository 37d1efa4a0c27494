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
import json
import os
import platform
import tempfile
import time

import speechbrain as sb
import torch

from custom_modules.errors import above, at_least
from recipes.bench import inference, onnx_runtime, padding, start, streaming, timeline, training
from recipes.bench.measuring import CLOCKS, device_name
from recipes.bench.stages import IEMOCAP_UTTERANCES, STAGES, build_stage, folded_recognizer, make_batch
from synthetic.backbones import ARCHITECTURES, build_backbone

# Each section's module (recipes/bench/): measure() gives its figures, report() its table, in this order.
SECTION_MODULES = {
    "training": training,
    "padding": padding,
    "inference": inference,
    "streaming": streaming,
    "timeline": timeline,
    "onnx": onnx_runtime,
    "start": start,
}
# What --sections chooses from (the stage start runs with --start_utterances).
SECTIONS = tuple(name for name in SECTION_MODULES if name != "start")


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
        help="onnx section: also time the other int8 forms (recipes/hub/onnx_export.py's INT8_FORMS: all weights "
        "unsigned; the matrix products only)",
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
        began = time.perf_counter()
        build_backbone(backbone_folder, args.architecture, seed=args.seed)
        brains, hparams = {}, {}
        for stage in STAGES:
            brains[stage], hparams[stage] = build_stage(stage, backbone_folder, work_dir, args.device)
        setup_s = time.perf_counter() - began
        brain = brains["stage1"]
        batch = make_batch(args.batch_size, args.seconds, brain.label_encoders, brain.tokenizer, args.seed)
        results = {"settings": _settings(args, setup_s)}
        sections = set(args.sections)
        if "training" in sections:
            results["training"] = training.measure(brains, hparams, batch, args)
        if "padding" in sections:
            results["padding"] = padding.measure(
                hparams["stage1"], args.padding_utterances, args.padding_epochs, args.seed
            )
        if "inference" in sections:
            results["inference"] = inference.measure(hparams, args)
        if sections & {"streaming", "timeline"}:
            recognizer = folded_recognizer(hparams["stage2"], args.device)
            if "streaming" in sections:
                hf_model = hparams["stage1"]["wav2vec2"].model.eval()
                results["streaming"] = streaming.measure(recognizer, hf_model, work_dir, args)
            if "timeline" in sections:
                results["timeline"] = timeline.measure(recognizer, work_dir, args)
        if "onnx" in sections:
            results["onnx"] = onnx_runtime.measure(hparams["stage2"], work_dir, args)
        if args.start_utterances:
            results["start"] = start.measure(args, work_dir)
    results["settings"]["total_s"] = time.perf_counter() - began
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
    for section, module in SECTION_MODULES.items():
        if section in results:
            lines += ["", *module.report(results[section])]
    return "\n".join(lines)


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
            "device_name": device_name(args.device),
            "nproc": os.cpu_count(),
            "torch": torch.__version__,
            "speechbrain": sb.__version__,
            "python": platform.python_version(),
            "setup_s": setup_s,
        }
    )
    return settings


if __name__ == "__main__":
    main()  # exit status 0, or argparse's 2 for options it cannot use
