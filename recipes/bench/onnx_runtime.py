"""The ONNX section: the stage-2 model as exported with ``--onnx --quantize int8``, ``model.onnx`` and
``model.int8.onnx`` in ONNX Runtime, beside the bare PyTorch forward and ``EmotionRecognizer`` on the same batches;
the files' sizes beside the fp32 checkpoint; optionally the other int8 forms and each graph's time per operator.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import functools
import json
import os
import statistics
import time

import numpy as np
import torch

from custom_modules.constants import SAMPLE_RATE
from custom_modules.onnx_interface import ONNX_FILES, OnnxEmotionRecognizer
from custom_modules.streaming import duration_batches
from recipes.bench.measuring import CLOCKS, paired_ratio, time_in_turns
from recipes.bench.stages import folded_recognizer, iemocap_like_durations
from recipes.hub.onnx_export import INT8_FORMS, export_onnx, quantize_int8


def measure(hparams, work_dir, args):
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


def report(onnx):
    """The section's Markdown table (``format_report`` in ``recipes/benchmark.py`` joins them)."""
    sizes = onnx["bytes"]
    lines = [
        f"| stage 2 as exported, {onnx['files']} files ({onnx['audio_seconds']:.0f} s of audio, "
        f"{onnx['batches']} batches), {onnx['threads']} threads | time (s) | audio s per s | throughput / bare "
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
        if name not in onnx:
            continue
        r = onnx[name]
        lines.append(
            f"| {label} | {r['seconds']:.2f} | {r['audio_s_per_s']:.1f} | {r['throughput_over_bare']:.3f} | {target} |"
        )
    size_over = onnx["size_over_checkpoint"]
    lines += [
        "",
        "| file | MB | / fp32 checkpoint | target |",
        "|---|---|---|---|",
        f"| encoder.ckpt + heads.ckpt (PyTorch, fp32) | {onnx['checkpoint_bytes'] / 1e6:.1f} | 1.000 | |",
        f"| model.onnx | {sizes['model.onnx'] / 1e6:.1f} | {size_over['fp32']:.3f} | |",
        f"| model.int8.onnx | {sizes['model.int8.onnx'] / 1e6:.1f} | {size_over['int8']:.3f} | <= 0.3 |",
        "",
        f"model.onnx vs PyTorch on these batches: largest difference of an emotion probability "
        f"{onnx['fp32_vs_pytorch_max_abs_difference']:.1e}; export {onnx['export_s']:.1f} s, int8 quantization "
        f"{onnx['quantize_s']:.1f} s.",
    ]
    for precision, shares in onnx.get("profile", {}).items():
        top = ", ".join(f"{op} {share:.1%}" for op, share in list(shares.items())[:6])
        lines.append(f"Operator time, {precision}: {top}.")
    return lines
