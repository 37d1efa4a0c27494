"""The inference section: real-time factor of ``EmotionRecognizer`` (both stages, and stage 2 with LoRA folded
as exported) beside the bare backbone's forward on the same utterance.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import functools
import statistics

import torch

from custom_modules.constants import SAMPLE_RATE
from recipes.bench.measuring import CLOCKS, paired_ratio, time_in_turns
from recipes.bench.stages import STAGES, build_recognizer, folded_recognizer


def measure(hparams, args):
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


def report(infer):
    """The section's Markdown table (``format_report`` in ``recipes/benchmark.py`` joins them)."""
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
