"""The exported model as ONNX (``recipes/export.py --onnx --quantize int8``) and its ONNX Runtime backend.

The fp32 graph gives the PyTorch model's probabilities on every held-out file, alone and in batches of mixed
lengths; the int8 graph keeps the predicted emotion and UA; the backend (``onnx_interface.py``, ``classify.py`` and
``timeline.py --backend onnx``, the model card's example) runs where torch, torchaudio, SpeechBrain and transformers
cannot be imported; ``classify.py --resume`` finishes an interrupted run with exactly one row per file.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import onnx
import pytest

from custom_modules.metrics import classification_summary
from custom_modules.onnx_interface import METADATA_KEY
from recipes import classify, export
from recipes.hub import model_folder, onnx_export, upload_plans
from recipes.hub.model_card import ONNX_EXAMPLE
from recipes.inference import backends
from tests.conftest import (
    ONE_THREAD,
    REPO,
    STAGE2_REPO_ID,
    STAGES,
    assert_same_predictions,
    import_blocker,
    run_command,
)

# fp32 ONNX against PyTorch (the bound): the same float32 operations, fused and ordered by ONNX Runtime.
FP32_TOLERANCE = 1e-4
# int8 against fp32 on the held-out files: share of the same predicted emotion, and UA points.
INT8_AGREEMENT, INT8_UA_POINTS = 0.95, 2.0
# What the ONNX backend must run without.
TRAINING_STACK = ("torch", "torchaudio", "speechbrain", "transformers")
# Code run first in a fresh interpreter: from then on, importing any of TRAINING_STACK fails.
WITHOUT_TORCH = import_blocker(TRAINING_STACK, "is not to be imported by the ONNX backend")


@pytest.fixture(scope="module")
def onnx_models(exported):
    """Each stage's ONNX twins (fp32, int8) of the exported folders, loaded here through their own
    ``onnx_interface.py``."""
    return {
        (stage, precision): backends.load_model(exported[stage], backend=backend)
        for stage in STAGES
        for precision, backend in (("fp32", "onnx"), ("int8", "onnx_int8"))
    }


@pytest.fixture(scope="module")
def test_set(stage2_run):
    """Every test-session utterance of the generated corpus (never trained on): ``(wav paths, emotions)``."""
    with open(os.path.join(stage2_run, "manifests", "test.json"), encoding="utf-8") as handle:
        entries = sorted(json.load(handle).values(), key=lambda entry: entry["wav"])
    return [entry["wav"] for entry in entries], [entry["emo"] for entry in entries]


def largest_difference(got, expected):
    """The largest difference of any probability between two lists of ``predict_files`` results."""
    return max(
        abs(got_row[key][label] - value)
        for got_row, expected_row in zip(got, expected)
        for key in expected_row
        if key.endswith("_probs")
        for label, value in expected_row[key].items()
    )


def run_without_torch(script, *args, cwd):
    """Runs ``script`` in a fresh interpreter where ``TRAINING_STACK`` cannot be imported; its last act is to list
    any of those modules it holds anyway in ``imported.json``."""
    code = (
        WITHOUT_TORCH
        + script
        + f"""
import json as _json
_imported = sorted({{name for name in sys.modules if name.split(".")[0] in BLOCKED}})
with open({str(cwd / "imported.json")!r}, "w") as _handle:
    _json.dump(_imported, _handle)
"""
    )
    (cwd / "script.py").write_text(code, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = run_command(cwd / "script.py", *args, cwd=cwd, env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    assert json.loads((cwd / "imported.json").read_text(encoding="utf-8")) == []
    return done


# ---- the files -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_onnx_files_have_dynamic_batch_and_time_and_name_their_outputs_labels_in_metadata(exported, recognizers, stage):
    for name in ("model.onnx", "model.int8.onnx"):
        model = onnx.load(os.path.join(exported[stage], name))
        inputs = {tensor.name: [d.dim_param or d.dim_value for d in tensor.type.tensor_type.shape.dim] for tensor in
                  model.graph.input}  # fmt: skip
        assert inputs == {"waveforms": ["batch", "samples"], "lengths": ["batch"]}
        description = json.loads({prop.key: prop.value for prop in model.metadata_props}[METADATA_KEY])
        assert description["labels"] == recognizers[stage].label_sets
        assert description["outputs"] == [output.name for output in model.graph.output]
        assert (description["ctc"] is not None) == recognizers[stage].has_transcript
    int8_bytes = os.path.getsize(os.path.join(exported[stage], "model.int8.onnx"))
    assert int8_bytes < os.path.getsize(os.path.join(exported[stage], "model.onnx"))
    card = open(os.path.join(exported[stage], "README.md"), encoding="utf-8").read()
    assert "## ONNX (without PyTorch)" in card and "| output | `emotion_probs` | float32 `[batch, 4]` |" in card
    if stage == "stage2":  # the export made for a Hub repository: the upload carries the ONNX files
        planned = upload_plans.upload_plan(exported[stage], STAGE2_REPO_ID)["files"]
        assert {"model.onnx", "model.int8.onnx", "onnx_interface.py"} <= set(planned)


# ---- parity ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_fp32_onnx_gives_pytorchs_probabilities_on_every_held_out_file_alone_and_in_mixed_length_batches(
    recognizers, onnx_models, test_set, stage
):
    files = test_set[0]
    pytorch = recognizers[stage].predict_files(files, batch_size=1)
    alone = onnx_models[stage, "fp32"].predict_files(files, batch_size=1)
    batched = onnx_models[stage, "fp32"].predict_files(files, batch_size=16, max_batch_seconds=1000)
    for onnx_result, pytorch_result in zip(alone, pytorch):
        assert_same_predictions(onnx_result, pytorch_result, atol=FP32_TOLERANCE)  # labels and transcripts equal
    # Padding must not change an utterance's result.
    for batched_result, alone_result in zip(batched, alone):
        assert_same_predictions(batched_result, alone_result, atol=FP32_TOLERANCE)
    print(
        f"{stage}: {len(files)} files, max |p onnx - p pytorch| {largest_difference(alone, pytorch):.1e}, "
        f"batched vs alone {largest_difference(batched, alone):.1e}"
    )


def test_int8_predicts_the_fp32_emotion_on_95_percent_of_the_held_out_files_within_2_ua_points(onnx_models, test_set):
    files, truth = test_set
    for stage in STAGES:
        predicted = {
            precision: [result["emotion"] for result in onnx_models[stage, precision].predict_files(files)]
            for precision in ("fp32", "int8")
        }
        labels = onnx_models[stage, "fp32"].label_sets["emotion"]
        ua = {
            precision: classification_summary(
                [labels.index(label) for label in truth], [labels.index(label) for label in emotions], labels
            )["UA"]
            for precision, emotions in predicted.items()
        }
        agreement = np.mean([a == b for a, b in zip(predicted["fp32"], predicted["int8"])])
        print(f"{stage}: int8 agrees with fp32 on {agreement:.1%} of {len(files)} files; UA fp32 {ua['fp32']:.2f}, "
              f"int8 {ua['int8']:.2f}")  # fmt: skip
        assert agreement >= INT8_AGREEMENT, stage
        assert abs(ua["int8"] - ua["fp32"]) <= INT8_UA_POINTS, stage


# ---- without torch ---------------------------------------------------------------------------------------


BACKEND_SCRIPT = r"""
import importlib.util
import json
import runpy

request = json.load(open(sys.argv[1]))
report = {}
for stage, folder in request["models"].items():
    spec = importlib.util.spec_from_file_location("onnx_interface_" + stage, folder + "/onnx_interface.py")
    interface = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(interface)
    model = interface.OnnxEmotionRecognizer(folder)
    out_prob, score, index, text_lab = model.classify_file(request["files"][0])
    report[stage] = {
        "classify_file": [out_prob.tolist(), score.tolist(), index.tolist(), text_lab],
        "embedding_size": model.encode_batch(model.load_checked_audio(request["files"][0])).shape[1],
        "predict_files": model.predict_files(request["files"]),
        "timeline": list(model.emotion_timeline(request["files"][-1], window_s=0.5, hop_s=0.25)),
    }
for name, argv in request["commands"].items():
    sys.argv = argv
    try:
        runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as stop:
        report[name] = stop.code
json.dump(report, open("report.json", "w"))
"""


def test_onnx_backend_and_both_commands_run_where_torch_speechbrain_and_transformers_cannot_be_imported(
    exported, recognizers, test_set, tmp_path
):
    files = test_set[0][:5]
    classify_json, timelines = tmp_path / "classify.jsonl", tmp_path / "timelines"
    request = {
        "models": {stage: exported[stage] for stage in STAGES},
        "files": files,
        "commands": {
            "classify": [str(REPO / "recipes" / "classify.py"), "--model", exported["stage1"], "--backend", "onnx",
                         "--quiet", "--output_jsonl", str(classify_json), *files],
            "timeline": [str(REPO / "recipes" / "timeline.py"), "--model", exported["stage2"], "--backend",
                         "onnx_int8", "--window_s", "0.5", "--hop_s", "0.25", "--output_folder", str(timelines),
                         files[-1]],
        },
    }  # fmt: skip
    (tmp_path / "request.json").write_text(json.dumps(request), encoding="utf-8")
    run_without_torch(BACKEND_SCRIPT, tmp_path / "request.json", cwd=tmp_path)
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))

    assert report["classify"] == 0 and report["timeline"] == 0
    for stage in STAGES:
        pytorch = recognizers[stage]
        expected = pytorch.predict_files(files)
        for got, want in zip(report[stage]["predict_files"], expected):
            assert_same_predictions(got, want, atol=FP32_TOLERANCE)
        out_prob, score, index, text_lab = pytorch.classify_file(files[0])
        got_prob, got_score, got_index, got_lab = report[stage]["classify_file"]
        assert np.allclose(got_prob, out_prob.numpy(), atol=FP32_TOLERANCE) and got_lab == text_lab
        assert got_index == index.tolist() and np.allclose(got_score, score.numpy(), atol=FP32_TOLERANCE)
        assert report[stage]["embedding_size"] == pytorch.encode_batch(pytorch.load_audio(files[0])).shape[1]
        timeline = list(pytorch.emotion_timeline(files[-1], window_s=0.5, hop_s=0.25))
        assert [(row["start_s"], row["end_s"]) for row in report[stage]["timeline"]] == [
            (row["start_s"], row["end_s"]) for row in timeline
        ]
        for got, want in zip(report[stage]["timeline"], timeline):
            assert got["emotion"] == want["emotion"]
            assert list(got["emotion_probs"].values()) == pytest.approx(
                list(want["emotion_probs"].values()), abs=FP32_TOLERANCE
            )
    lines = [json.loads(line) for line in classify_json.read_text(encoding="utf-8").splitlines()]
    for got, want in zip(lines, recognizers["stage1"].predict_files(files)):
        assert_same_predictions(got, want, atol=FP32_TOLERANCE)
    name = os.path.splitext(os.path.basename(files[-1]))[0]
    assert (timelines / f"{name}.csv").is_file() and (timelines / f"{name}.png").is_file()


def test_model_cards_onnx_example_runs_with_onnxruntime_numpy_and_soundfile_only(
    exported, recognizers, test_set, tmp_path
):
    card = open(os.path.join(exported["stage2"], "README.md"), encoding="utf-8").read()
    example = ONNX_EXAMPLE.format(file="model.onnx", key=METADATA_KEY)
    assert f"```python\n{example}\n```" in card and len([line for line in example.splitlines() if line]) <= 10
    (tmp_path / "model.onnx").symlink_to(os.path.join(exported["stage2"], "model.onnx"))
    (tmp_path / "speech.wav").symlink_to(test_set[0][0])
    done = run_without_torch(example, cwd=tmp_path)
    label, probability = done.stdout.split()
    _, score, _, text_lab = recognizers["stage2"].classify_file(test_set[0][0])
    assert label == text_lab[0] and float(probability) == pytest.approx(float(score[0]), abs=FP32_TOLERANCE)


# ---- resumable batch runs --------------------------------------------------------------------------------


def csv_rows(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_classify_killed_then_resumed_classifies_only_the_files_without_a_row_and_ends_with_one_row_each(
    exported, test_set, tmp_path
):
    # Distinct paths to more files than the run can finish before it is killed.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    files = []
    for index in range(150):
        link = corpus / f"{index:03d}.wav"
        link.symlink_to(test_set[0][index % len(test_set[0])])
        files.append(str(link))
    out_csv, out_jsonl = tmp_path / "out.csv", tmp_path / "out.jsonl"
    run = ["recipes/classify.py", "--model", exported["stage2"], "--backend", "onnx", "--quiet", "--batch_size", "1"]
    command = [sys.executable, *run, "--output_csv", str(out_csv), "--output_jsonl", str(out_jsonl), str(corpus)]
    env = {**os.environ, **ONE_THREAD}
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if out_jsonl.exists() and len(out_jsonl.read_text(encoding="utf-8").splitlines()) >= 5:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be interrupted"
    # What a kill during a write leaves: a last line cut short, and a row in one output but not the other.
    before = csv_rows(out_csv)
    assert 0 < len(before) < len(files)
    with open(out_csv, "a", encoding="utf-8") as handle:
        handle.write(f"{files[-1]},neu,0.3")
    with open(out_jsonl, "a", encoding="utf-8") as handle:
        handle.write('{"file": "' + files[-1] + '", "emot')

    resumed = run_command(*command[1:], "--resume", env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    # Each result goes to the JSON lines, then the CSV: the files with a CSV row have both.
    assert f"resuming: {len(before)} of {len(files)} files already have their row" in resumed.stderr
    rows = csv_rows(out_csv)
    lines = [json.loads(line) for line in out_jsonl.read_text(encoding="utf-8").splitlines()]
    assert [row["file"] for row in rows] == files == [line["file"] for line in lines], "one row per file, in order"
    assert rows[: len(before)] == before, "the rows of the first run are kept"
    fresh_csv = tmp_path / "fresh.csv"
    fresh = run_command(*run, "--output_csv", fresh_csv, str(corpus), env=env)
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    assert rows == csv_rows(fresh_csv), "the same rows as an uninterrupted run"


def test_bad_onnx_and_resume_options_stop_with_one_line_and_status_2_before_any_file_is_read(
    exported, test_set, tmp_path, capsys
):
    wav = test_set[0][0]
    for argv, message in (
        (["--backend", "onnx", "--device", "cuda:0"], "runs on the CPU"),
        (["--backend", "onnx", "--threads", "0"], "--threads must be at least 1"),
        (["--resume"], "--resume goes on from the rows of --output_csv or --output_jsonl"),
    ):
        with pytest.raises(SystemExit) as stop:
            classify.main(["--model", exported["stage2"], *argv, wav])
        assert stop.value.code == 2 and message in capsys.readouterr().err
    plain_export = tmp_path / "plain"
    plain_export.mkdir()
    (plain_export / "custom_interface.py").write_text("", encoding="utf-8")
    assert classify.main(["--model", str(plain_export), "--backend", "onnx_int8", wav]) == 2
    assert "has no onnx_interface.py: export it with recipes/export.py --onnx" in capsys.readouterr().err
    other_model = tmp_path / "other.csv"
    other_model.write_text("file,emotion,error\r\na.wav,neu,\r\n", encoding="utf-8")
    assert classify.main(["--model", exported["stage2"], "--backend", "onnx", "--output_csv", str(other_model),
                          "--resume", wav]) == 2  # fmt: skip
    assert "has other columns than this model writes" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        export.main(["--experiment_folder", str(tmp_path), "--output_folder", f"{tmp_path}/x", "--quantize", "int8"])
    assert stop.value.code == 2 and "--quantize int8 quantizes the ONNX graph: add --onnx" in capsys.readouterr().err
    assert model_folder.QUANTIZATIONS == onnx_export.QUANTIZE_CHOICES
