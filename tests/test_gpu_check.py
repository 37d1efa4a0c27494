"""recipes/gpu_check.py, the GPU path's check, run on the CPU with the tiny backbone (the tests need no GPU): every
stage, precision and gradient checkpointing setting trains a step with a finite loss and is measured; without a
CUDA device the CUDA run stops with a message."""

import json
import math

import pytest

from recipes import gpu_check
from tests.conftest import run_recipe


def test_gpu_check_measures_every_stage_precision_and_checkpointing_setting(tmp_path):
    output_json = tmp_path / "gpu_check.json"
    # fmt: off
    done = run_recipe(
        "recipes/gpu_check.py", "--device", "cpu", "--architecture", "tiny", "--precisions", "fp32", "bf16",
        "--batch_size", "2", "--seconds", "1.5", "--repeats", "1", "--output_json", output_json, timeout=300,
    )
    # fmt: on
    results = json.loads(output_json.read_text())
    settings = [(r["stage"], r["precision"], r["gradient_checkpointing"]) for r in results["training"]]
    expected = [(s, p, c) for s in ("stage1", "stage2") for p in ("fp32", "bf16") for c in (False, True)]
    assert settings == expected
    for row in results["training"]:
        assert math.isfinite(row["loss"]) and row["step_s"] > 0 and len(row["step_times_s"]) == 1
        assert row["step_memory_mb"] >= 0 and row["double_batch_memory_mb"] >= 0
        assert row["mb_per_audio_s"] == pytest.approx((row["double_batch_memory_mb"] - row["step_memory_mb"]) / 3.0)
        assert row["audio_s_that_fit"] is None, "only a CUDA device has a memory to fill"
    for stage in ("stage1", "stage2"):
        figures = results["inference"][stage]
        assert figures["rtf"] == figures["classify_s"] / 1.5 > 0
    assert "| stage2 | bf16 | on |" in done.stdout and "EmotionRecognizer, stage2" in done.stdout


def test_gpu_check_stops_with_a_message_without_cuda(capsys):
    assert gpu_check.main(["--device", "cuda"]) == 2
    assert "gpu_check.py: error: torch sees no CUDA device" in capsys.readouterr().err
    assert gpu_check.main(["--device", "cpu", "--architecture", "tiny"]) == 2
    assert "fp16 training needs CUDA" in capsys.readouterr().err
