"""The training-step section: ``fit_batch`` of each stage's Brain beside the bare backbone's step on the same
waveforms (the recipe's overhead), stage 2 / stage 1, the CNN feature cache, gradient checkpointing, peak memory
and memory per second of audio, trainable parameters.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import functools
import statistics

import torch

from custom_modules.brain import parameter_counts
from custom_modules.constants import SAMPLE_RATE
from recipes.bench.measuring import (
    CLOCKS,
    ForwardTimer,
    bare_step,
    memory_per_audio_second,
    paired_ratio,
    peak_step_memory,
    ratio,
    table_row,
    time_in_turns,
)
from recipes.bench.stages import STAGES, make_batch

REFERENCE = (
    "bare step = the stage's Hugging Face model (hparams['wav2vec2'].model, the same object the Brain trains) "
    "forward on the same waveforms (no attention mask, no input normalisation), mean of the last layer, "
    "backward, AdamW step (the yaml's opt_class) over the model's trainable parameters, zero_grad; stage 1: "
    "every parameter but the CNN (frozen the same way); stage 2: the model with the stage's LoRA and bottleneck "
    "adapters inserted, adapters trainable. bare full / bare adapters compares the two references."
)


def measure(brains, hparams, batch, args):
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
            figures["checkpointed_over_unchecked_memory"] = ratio(
                figures["checkpointed_memory"]["step_mb"], figures["memory"]["step_mb"]
            )
            double_step = functools.partial(_fit_batch_checkpointed, brains[stage], double, encoder)
            torch.manual_seed(args.seed)
            figures["checkpointed_memory_per_audio"] = memory_per_audio_second(
                figures["checkpointed_memory"], peak_step_memory(double_step, args.device), audio_seconds
            )
    return results


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


def _per_audio(train, key):
    return [train[stage][key]["mb_per_audio_s"] for stage in STAGES]


def _batch_independent(train, key):
    return [train[stage][key]["batch_independent_mb"] for stage in STAGES]


def report(train):
    """The section's Markdown table (``format_report`` in ``recipes/benchmark.py`` joins them)."""
    lines = [
        "| training step | stage 1 | stage 2 | target |",
        "|---|---|---|---|",
        table_row("step time (s)", [train[t]["step_s"] for t in STAGES], "{:.3f}"),
        table_row("bare backbone step (s)", [train[t]["reference_step_s"] for t in STAGES], "{:.3f}"),
        table_row("  of which optimizer (s)", [train[t]["reference_optimizer_s"] for t in STAGES], "{:.3f}"),
        table_row("overhead: step / bare step", [train[t]["overhead"] for t in STAGES], "{:.3f}", "<= 1.10"),
        f"| stage 2 / stage 1 | | {train['stage2_over_stage1']:.3f} | <= 0.70 |",
        f"| bare adapters / bare full | | {train['bare_adapters_over_bare_full']:.3f} | |",
        table_row("audio s trained per clock s", [train[t]["audio_s_per_s"] for t in STAGES], "{:.2f}"),
        table_row("CNN forward share of step", [train[t]["cnn_share"] for t in STAGES], "{:.1%}"),
        table_row("step with CNN feature cache (s)", [train[t]["cached_step_s"] for t in STAGES], "{:.3f}"),
        table_row("  cached step / step", [train[t]["cached_over_uncached"] for t in STAGES], "{:.3f}"),
        f"| cached stage 2 / cached stage 1 | | {train['cached_stage2_over_cached_stage1']:.3f} | <= 0.70 |",
        table_row("step peak memory above its start (MB)", [train[t]["memory"]["step_mb"] for t in STAGES], "{:.0f}"),
        table_row("  same for the bare step (MB)", [train[t]["reference_memory"]["step_mb"] for t in STAGES], "{:.0f}"),
        table_row("trainable parameters", [train[t]["parameters"]["trainable"] for t in STAGES], "{:,}"),
        table_row("total parameters", [train[t]["parameters"]["total"] for t in STAGES], "{:,}"),
        table_row("trainable share", [train[t]["parameters"]["trainable_share"] for t in STAGES], "{:.2%}"),
        table_row("step memory per s of audio in the batch (MB/s)", _per_audio(train, "memory_per_audio"), "{:.1f}"),
        table_row("  step memory whatever the batch (MB)", _batch_independent(train, "memory_per_audio"), "{:.0f}"),
    ]
    if "checkpointed_step_s" in train["stage1"]:
        lines += [
            table_row(
                "with gradient checkpointing: step time (s)",
                [train[t]["checkpointed_step_s"] for t in STAGES],
                "{:.3f}",
            ),
            table_row(
                "  checkpointed step / step",
                [train[t]["checkpointed_over_unchecked"] for t in STAGES],
                "{:.3f}",
                "<= 1.40",
            ),
            table_row(
                "  step peak memory above its start (MB)",
                [train[t]["checkpointed_memory"]["step_mb"] for t in STAGES],
                "{:.0f}",
            ),
            table_row(
                "  checkpointed / unchecked step peak memory",
                [train[t]["checkpointed_over_unchecked_memory"] for t in STAGES],
                "{:.3f}",
                "<= 0.50",
            ),
            table_row(
                "  step memory per s of audio in the batch (MB/s)",
                _per_audio(train, "checkpointed_memory_per_audio"),
                "{:.1f}",
            ),
            table_row(
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
