"""The streaming section: ``iter_predictions`` over wav files of IEMOCAP-like durations written to disk, beside
the bare backbone's batched forward and the same model one file at a time, and its peak memory over more files
(target: flat).

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import functools
import os

import numpy as np
import soundfile
import torch
from speechbrain.dataio.batch import PaddedBatch

from custom_modules.constants import SAMPLE_RATE
from custom_modules.streaming import chunks, duration_batches
from recipes.bench.measuring import CLOCKS, megabytes, peak_step_memory, time_in_turns
from recipes.bench.stages import iemocap_like_durations


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


def measure(recognizer, hf_model, work_dir, args):
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


def report(stream):
    """The section's Markdown table (``format_report`` in ``recipes/benchmark.py`` joins them)."""
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
        f"Streaming peak memory above its start: {megabytes(memory['step_mb'][0])} for {memory['files'][0]} files, "
        f"{megabytes(memory['step_mb'][1])} for {memory['files'][1]} files of the same durations ({ratio}x)"
        if memory["step_mb"][0] is not None
        else f"Streaming peak memory: {memory['method']}",
        f"Longest file {stream['longest_s']:.1f} s; batches of at most {stream['batching']['batch_size']} files and "
        f"{stream['batching']['max_batch_seconds']:g} padded seconds (files sorted by duration in windows of "
        f"{stream['batching']['sort_window']}), {stream['padding_efficiency']:.3f} real samples per padded sample.",
    ]
