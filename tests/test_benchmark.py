"""The benchmark (``recipes/benchmark.py``) in CI form: tiny backbone, small batches, few repeats.

It must produce every figure, finite and positive where it must be, with ratios that are the ratios of the
absolute times it reports, and write them as JSON. How fast anything is is not asserted: CI machines vary.
"""

import doctest
import json
import math
import statistics

import numpy as np
import pytest

from custom_modules.streaming import sliding_windows
from recipes import benchmark
from recipes.bench import measuring, padding
from recipes.bench.stages import iemocap_like_durations
from tests.conftest import run_recipe

STAGES = ("stage1", "stage2")
REPEATS = 2
PADDING_UTTERANCES = 300
STREAMING_FILES = 6
TIMELINE_MINUTES = (0.1, 0.3)
START_UTTERANCES = 150
ONNX_FILES = 4


@pytest.fixture(scope="module")
def benchmark_run(tiny_backbone, tmp_path_factory):
    """The benchmark command run once on the tiny backbone: ``(printed report, JSON results)``."""
    output_json = tmp_path_factory.mktemp("benchmark") / "results" / "bench.json"
    done = run_recipe(
        "recipes/benchmark.py",
        "--architecture",
        "tiny",
        "--backbone_folder",
        tiny_backbone,
        "--batch_size",
        "2",
        "--seconds",
        "1.5",
        "--repeats",
        str(REPEATS),
        "--warmup",
        "1",
        "--threads",
        "2",
        "--padding_utterances",
        str(PADDING_UTTERANCES),
        "--padding_epochs",
        "1",
        "--sections",
        *benchmark.SECTIONS,
        "--streaming_files",
        str(STREAMING_FILES),
        "--streaming_scale",
        "2",
        "--timeline_minutes",
        *map(str, TIMELINE_MINUTES),
        "--gradient_checkpointing",
        "--onnx_files",
        str(ONNX_FILES),
        "--onnx_profile",
        "--int8_variants",
        "--start_utterances",
        str(START_UTTERANCES),
        "--output_json",
        output_json,
        timeout=300,
    )
    with open(output_json, encoding="utf-8") as handle:
        return done.stdout, json.load(handle)


def assert_ratio(ratio, numerator, denominator):
    """``ratio`` is numerator / denominator, or for lists of per-round times the median of the per-round ratios."""
    assert math.isfinite(ratio) and ratio > 0
    if isinstance(numerator, list):
        assert len(numerator) == len(denominator) > 0
        expected = statistics.median(a / b for a, b in zip(numerator, denominator))
    else:
        expected = numerator / denominator
    assert ratio == pytest.approx(expected, rel=1e-9)


def test_benchmark_writes_json_and_prints_every_table(benchmark_run):
    report, results = benchmark_run
    assert set(results) == {"settings", *benchmark.SECTIONS, "start"}
    for heading in (
        "| training step |",
        "| with gradient checkpointing: step time (s) |",
        "| padding (IEMOCAP-like lengths) |",
        "| inference, 1 x 1.5 s |",
        f"| streaming {STREAMING_FILES} files (",
        "| emotion_timeline, 3 s windows every 1 s |",
        "| stage start before the backbone, ",
        f"| stage 2 as exported, {ONNX_FILES} files (",
        "| model.int8.onnx | ",
    ):
        assert heading in report
    assert "Wrote " in report
    settings = results["settings"]
    assert (settings["architecture"], settings["device"], settings["repeats"]) == ("tiny", "cpu", REPEATS)
    assert settings["threads"] == 2 and settings["device_name"]


def test_training_figures_are_positive_and_consistent_with_the_reported_times(benchmark_run):
    training = benchmark_run[1]["training"]
    assert training["audio_seconds_per_step"] == pytest.approx(2 * 1.5)
    assert "AdamW" in training["reference"]
    for stage in STAGES:
        figures = training[stage]
        for key in ("step_times_s", "reference_step_times_s"):
            assert len(figures[key]) == REPEATS and all(t > 0 and math.isfinite(t) for t in figures[key])
        assert figures["step_s"] == pytest.approx(statistics.median(figures["step_times_s"]))
        assert figures["reference_step_s"] == pytest.approx(statistics.median(figures["reference_step_times_s"]))
        assert 0 < figures["reference_optimizer_s"] < figures["reference_step_s"]
        assert_ratio(figures["overhead"], figures["step_times_s"], figures["reference_step_times_s"])
        assert_ratio(figures["audio_s_per_s"], training["audio_seconds_per_step"], figures["step_s"])
        assert figures["cnn_forward_s"] == pytest.approx(statistics.median(figures["cnn_forward_times_s"]))
        assert_ratio(figures["cnn_share"], figures["cnn_forward_times_s"], figures["step_times_s"])
        assert 0 < figures["cnn_share"] < 1 and 0 < figures["reference_cnn_share"] < 1
        assert figures["cached_step_s"] == pytest.approx(statistics.median(figures["cached_step_times_s"]))
        assert_ratio(figures["cached_over_uncached"], figures["cached_step_times_s"], figures["step_times_s"])
        for memory in (figures["memory"], figures["reference_memory"]):
            assert memory["peak_mb"] > 0 and memory["step_mb"] >= 0 and memory["method"]
    assert_ratio(training["stage2_over_stage1"], training["stage2"]["step_times_s"], training["stage1"]["step_times_s"])
    assert_ratio(
        training["cached_stage2_over_cached_stage1"],
        training["stage2"]["cached_step_times_s"],
        training["stage1"]["cached_step_times_s"],
    )
    assert_ratio(
        training["bare_adapters_over_bare_full"],
        training["stage2"]["reference_step_times_s"],
        training["stage1"]["reference_step_times_s"],
    )


def test_parameter_counts_show_what_each_stage_trains(benchmark_run):
    training = benchmark_run[1]["training"]
    counts = {stage: training[stage]["parameters"] for stage in STAGES}
    for count in counts.values():
        assert 0 < count["trainable"] < count["total"]
        assert_ratio(count["trainable_share"], count["trainable"], count["total"])
    # Stage 2 adds adapters to the same backbone and freezes the backbone.
    assert counts["stage2"]["total"] > counts["stage1"]["total"]
    frozen = {stage: count["total"] - count["trainable"] for stage, count in counts.items()}
    assert frozen["stage2"] >= frozen["stage1"]


def test_padding_figures_describe_the_recipe_and_random_batches(benchmark_run):
    padding = benchmark_run[1]["padding"]
    assert "DynamicBatchSampler" in padding["recipe_batching"]
    assert padding["durations"]["n_utterances"] == PADDING_UTTERANCES
    for name in ("recipe", "random_16"):
        figures = padding[name]
        assert 0 < figures["efficiency"] <= 1
        assert 1 <= figures["min_batch_size"] <= figures["mean_batch_size"] <= figures["max_batch_size"] <= 16
        assert figures["batches_per_epoch"] * figures["mean_batch_size"] == pytest.approx(PADDING_UTTERANCES)
    assert padding["random_16"]["max_batch_size"] == 16


def test_inference_rtf_is_consistent_with_the_reported_times(benchmark_run):
    inference = benchmark_run[1]["inference"]
    assert inference["audio_seconds"] == 1.5
    assert_ratio(inference["bare_rtf"], inference["bare_forward_s"], inference["audio_seconds"])
    assert inference["bare_forward_s"] == pytest.approx(statistics.median(inference["bare_forward_times_s"]))
    for stage in (*STAGES, "stage2_folded"):
        figures = inference[stage]
        assert figures["classify_s"] == pytest.approx(statistics.median(figures["classify_times_s"]))
        assert_ratio(figures["rtf"], figures["classify_s"], inference["audio_seconds"])
        assert_ratio(figures["over_bare"], figures["classify_times_s"], inference["bare_forward_times_s"])


def test_streaming_figures_compare_the_same_batches_and_report_memory_for_both_file_counts(benchmark_run):
    stream = benchmark_run[1]["streaming"]
    assert stream["files"] == STREAMING_FILES and 1 <= stream["batches"] <= STREAMING_FILES
    assert 0 < stream["padding_efficiency"] <= 1 and stream["batching"]["sort_window"] == STREAMING_FILES
    for key in ("streamed_s", "bare_batched_s", "one_at_a_time_s"):
        assert stream[key] > 0 and math.isfinite(stream[key])
    assert_ratio(stream["throughput_over_bare_batched"], stream["bare_batched_s"], stream["streamed_s"])
    assert_ratio(stream["throughput_over_one_at_a_time"], stream["one_at_a_time_s"], stream["streamed_s"])
    assert_ratio(stream["streamed_audio_s_per_s"], stream["audio_seconds"], stream["streamed_s"])
    memory = stream["memory"]
    assert memory["files"] == [STREAMING_FILES, 2 * STREAMING_FILES] and memory["method"]
    assert all(value >= 0 for value in memory["step_mb"])
    if min(memory["step_mb"]) > 0:
        assert_ratio(memory["larger_over_smaller"], memory["step_mb"][1], memory["step_mb"][0])


def test_timeline_figures_cover_each_recording_length(benchmark_run):
    timeline = benchmark_run[1]["timeline"]
    assert (timeline["window_s"], timeline["hop_s"]) == (3.0, 1.0)
    recordings = timeline["recordings"]
    assert [recording["minutes"] for recording in recordings] == list(TIMELINE_MINUTES)
    for recording in recordings:
        assert recording["windows"] == len(list(sliding_windows(60 * recording["minutes"], 3.0, 1.0)))
        assert recording["seconds"] > 0 and recording["memory"]["step_mb"] >= 0
    peaks = [recording["memory"]["step_mb"] for recording in recordings]
    if peaks[0] > 0:
        assert_ratio(timeline["longest_over_shortest"], peaks[-1], peaks[0])


def test_onnx_figures_time_the_same_batches_and_compare_file_sizes(benchmark_run):
    onnx = benchmark_run[1]["onnx"]
    assert onnx["files"] == ONNX_FILES and sum(onnx["batch_sizes"]) == ONNX_FILES
    assert list(onnx["int8_forms"]) == ["int8", "int8_unsigned", "matmul_int8", "matmul_uint8"]
    for name in ("bare", "pytorch", "onnx_fp32", "onnx_int8", "onnx_int8_unsigned", "onnx_matmul_int8"):
        figures = onnx[name]
        assert len(figures["times_s"]) == REPEATS and figures["seconds"] == statistics.median(figures["times_s"])
        assert_ratio(figures["throughput_over_bare"], onnx["bare"]["times_s"], figures["times_s"])
        assert_ratio(figures["audio_s_per_s"], onnx["audio_seconds"], figures["seconds"])
    assert onnx["fp32_vs_pytorch_max_abs_difference"] <= 1e-4 and onnx["export_check_difference"] <= 1e-4
    sizes = onnx["bytes"]
    assert onnx["checkpoint_bytes"] == sizes["encoder.ckpt"] + sizes["heads.ckpt"]
    assert_ratio(onnx["size_over_checkpoint"]["int8"], sizes["model.int8.onnx"], onnx["checkpoint_bytes"])
    assert sizes["model.int8.onnx"] < sizes["model.onnx"]
    for precision in ("fp32", "int8"):
        shares = onnx["profile"][precision]
        assert sum(shares.values()) == pytest.approx(1.0) and all(share > 0 for share in shares.values())
    assert "MatMul" in onnx["profile"]["fp32"] and "DynamicQuantizeMatMul" in onnx["profile"]["int8"]
    assert "ConvInteger" in onnx["profile"]["int8"] and "ConvInteger" not in onnx["profile"]["matmul_int8"]


def test_iemocap_like_durations_have_the_corpus_median_mean_and_range():
    durations = iemocap_like_durations(20000, seed=0)
    assert np.median(durations) == pytest.approx(3.5, rel=0.03)
    assert durations.mean() == pytest.approx(4.5, rel=0.03)
    assert durations.min() >= 0.6 and durations.max() <= 34.0


def test_benchmark_sections_doctests_pass():
    failures, tried = 0, 0
    for section in (measuring, padding):
        result = doctest.testmod(section, optionflags=doctest.ELLIPSIS)
        failures, tried = failures + result.failed, tried + result.attempted
    assert tried > 0 and failures == 0


def test_gradient_checkpointing_and_memory_per_audio_second_figures_are_consistent(benchmark_run):
    training = benchmark_run[1]["training"]
    audio_seconds = training["audio_seconds_per_step"]
    for stage in STAGES:
        figures = training[stage]
        assert figures["checkpointed_step_s"] == pytest.approx(statistics.median(figures["checkpointed_step_times_s"]))
        assert_ratio(
            figures["checkpointed_over_unchecked"], figures["checkpointed_step_times_s"], figures["step_times_s"]
        )
        unchecked, checked = figures["memory"]["step_mb"], figures["checkpointed_memory"]["step_mb"]
        if unchecked:
            assert figures["checkpointed_over_unchecked_memory"] == pytest.approx(checked / unchecked)
        # The slope between the step on the batch and on twice its audio, and what remains at no audio.
        for key, step_mb in (("memory_per_audio", unchecked), ("checkpointed_memory_per_audio", checked)):
            per_audio = figures[key]
            slope = (per_audio["double_batch_mb"] - step_mb) / audio_seconds
            assert per_audio["mb_per_audio_s"] == pytest.approx(slope)
            assert per_audio["batch_independent_mb"] == pytest.approx(step_mb - slope * audio_seconds)


def test_stage_start_is_timed_on_a_generated_corpus(benchmark_run):
    start = benchmark_run[1]["start"]
    assert start["utterances"] >= START_UTTERANCES and start["audio_hours"] > 0
    assert len(start["restart_times_s"]) == 3
    assert start["restart_s"] == pytest.approx(statistics.median(start["restart_times_s"]))
    for key in ("read_every_wav_s", "first_start_s", "restart_s", "new_run_s"):
        assert math.isfinite(start[key]) and start[key] > 0
    assert_ratio(start["restart_over_first_start"], start["restart_s"], start["first_start_s"])
