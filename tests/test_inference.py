"""Inference with an exported model folder.

The folders written by ``recipes/export.py`` load offline in a fresh process without this repository or the
training run, and predict what the training-time model predicts; ``EmotionRecognizer`` has the outputs of
SpeechBrain's ``EncoderClassifier``; any sample rate and channel count is accepted and unusable files are
reported by name; the export and classify command lines behave as documented.
"""

import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from scipy.signal import filtfilt, firwin, resample_poly
from speechbrain.dataio.encoder import CTCTextEncoder
from speechbrain.decoders import ctc_greedy_decode

from custom_modules.constants import BLANK_INDEX, EMOTIONS, TASK_LABELS
from custom_modules.data import read_mono_audio
from custom_modules.handoff import load_trained_run
from recipes.hub import model_folder
from recipes.hub.onnx_export import searchable_bytes as onnx_searchable_bytes
from synthetic import hub_cache
from tests.conftest import (
    REPO,
    STAGES,
    WITHOUT_THE_RECIPE,
    assert_same_predictions,
    audio_input_error,
    run_command,
    write_float_wav,
)

# The exported and the training-time model run the same float32 operations on the same samples, except that
# the export folds LoRA into the q/k/v weights (one product instead of three, the same sum in another order): the
# tolerance leaves room for that rounding and for a kernel choosing another summation order.
EXACT = 1e-5

# Runs in a fresh interpreter whose cwd is a temporary folder and whose sys.path holds neither the repository
# nor a PYTHONPATH, and where the recipe's packages cannot be imported at all (the environment's editable
# install would find them): only the exported folder's own code can run.
FRESH_PROCESS_SCRIPT = (
    WITHOUT_THE_RECIPE
    + r"""
import importlib.util
import json
import os

from speechbrain.inference.interfaces import foreign_class

request_file, report_file = sys.argv[1:]
with open(request_file, encoding="utf-8") as handle:
    request = json.load(handle)
report = {"sys_path": list(sys.path), "cwd": os.getcwd(), "models": {}}


def forget_shipped_code():
    # Each folder must load its own copy of the bundled code, not the one the previous folder registered.
    for name in [n for n in sys.modules if n.split(".")[0].startswith("ser_model_")]:
        del sys.modules[name]
    sys.meta_path[:] = [finder for finder in sys.meta_path if not hasattr(finder, "sources")]


def from_hparams(folder):
    spec = importlib.util.spec_from_file_location("custom_interface", os.path.join(folder, "custom_interface.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EmotionRecognizer.from_hparams(source=folder)


for stage, folder in request["models"].items():
    for way in ("foreign_class", "from_hparams"):
        forget_shipped_code()
        if way == "foreign_class":
            model = foreign_class(source=folder, pymodule_file="custom_interface.py", classname="EmotionRecognizer")
        else:
            model = from_hparams(folder)
        outputs = [model.classify_file(path) for path in request["files"]]
        report["models"][f"{stage}/{way}"] = {
            "code": sys.modules[type(model).__module__].__file__,
            "out_prob": [out_prob[0].tolist() for out_prob, _, _, _ in outputs],
            "text_lab": [text_lab[0] for _, _, _, text_lab in outputs],
            "predictions": model.predict_files(request["files"], batch_size=1),
        }
with open(report_file, "w", encoding="utf-8") as handle:
    json.dump(report, handle)
"""
)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def training_time_outputs(stage1_run, stage2_run, held_out_files):
    """The training-time model of each run (best checkpoint) on each held-out file, one file at a time."""
    outputs = {}
    for stage, run in zip(STAGES, (stage1_run, stage2_run)):
        encoder, heads, _ = load_trained_run(run)
        tokenizer = CTCTextEncoder()
        tokenizer.load(os.path.join(run, "save", "tokenizer.txt"))
        outputs[stage] = []
        with torch.no_grad():
            for path in held_out_files:
                wav, lens = read_mono_audio(path, path).unsqueeze(0), torch.ones(1)
                heads_out = heads(*encoder(wav, lens))
                result = {task: heads_out[task][0] for task in ("emo", "gender", "style") if task in heads_out}
                if "asr" in heads_out:
                    hypothesis = ctc_greedy_decode(heads_out["asr"], lens, blank_id=BLANK_INDEX)[0]
                    result["words"] = "".join(tokenizer.decode_ndim(hypothesis)).split()
                outputs[stage].append(result)
    return outputs


# ---- the exported folder --------------------------------------------------------------------------------


EXPORT_FILES = {
    "README.md",
    "custom_interface.py",
    "hyperparams.yaml",
    "encoder.ckpt",
    "heads.ckpt",
    "label_encoder.ckpt",
    "gender_encoder.ckpt",
    "style_encoder.ckpt",
    "tokenizer.ckpt",
    "test_metrics.json",
    "model.onnx",
    "model.int8.onnx",
    "onnx_interface.py",
}


def searchable_bytes(path):
    """A file's bytes; for a checkpoint (a torch.save zip) its member names and pickled structure, and for an ONNX
    file all but its tensors' data, where a path would be, not the tensor data, where a few bytes can spell
    anything."""
    if str(path).endswith(".onnx"):
        return onnx_searchable_bytes(path)
    if not zipfile.is_zipfile(path):
        return Path(path).read_bytes()
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        return "\n".join(names).encode() + b"".join(archive.read(n) for n in names if n.endswith(".pkl"))


def test_exported_folder_holds_the_model_and_no_path_of_the_training_machine(
    exported, stage1_run, stage2_run, tiny_backbone, generated_corpus
):
    machine = [stage1_run, stage2_run, tiny_backbone, generated_corpus[0], *exported["gone"], str(REPO)]
    machine += [tempfile.gettempdir(), os.path.expanduser("~")]
    machine = {variant for path in machine for variant in (path, os.path.realpath(path))}
    for stage in STAGES:
        folder = Path(exported[stage])
        # The bytecode a local load leaves beside custom_interface.py is not the export's (nor uploaded).
        assert set(hub_cache.folder_files(folder)) == EXPORT_FILES, stage
        assert not (folder / "custom_modules").exists(), (
            "the training package is not shipped: custom_interface.py carries the inference code"
        )
        for name in EXPORT_FILES:
            data = searchable_bytes(folder / name)
            for path in machine:
                assert path.encode() not in data, f"{stage}/{name} names {path}, a folder of the training machine"
        metrics = json.loads((folder / "test_metrics.json").read_text(encoding="utf-8"))
        # The backbone as training recorded it, by its folder's name only.
        assert metrics["settings"]["wav2vec2_hub"] == f"<local folder>/{os.path.basename(tiny_backbone)}"
        assert metrics["UA"] > 0 and metrics["confusion_matrix"], "the figures stay"
    assert all(not os.path.exists(path) for path in exported["gone"]), "the exported runs and backbone are deleted"


def test_machine_paths_in_free_text_are_removed_and_an_export_that_would_keep_one_is_refused(tmp_path):
    folders = model_folder.machine_folders({"/data/corpus": "<data_folder>", "/home/me/runs/fold1": "<training run>"})
    reasons = {
        "Ses01F_impro01_F000": "unreadable wav: Error opening '/data/corpus/Session1/a.wav': File contains data",
        "Ses01F_impro01_M000": "missing wav at /mnt/other/Ses01F_impro01_M000.wav (moved?)",
    }
    cleaned = model_folder.without_machine_paths({"left_out_reasons": {"test": reasons}, "UA / WA": 1.5}, folders)
    assert cleaned["left_out_reasons"]["test"] == {
        "Ses01F_impro01_F000": "unreadable wav: Error opening '<data_folder>/Session1/a.wav': File contains data",
        "Ses01F_impro01_M000": "missing wav at <path>/Ses01F_impro01_M000.wav (moved?)",
    }
    assert cleaned["UA / WA"] == 1.5
    (tmp_path / "notes.json").write_text('{"log": "/home/me/runs/fold1/log.txt"}', encoding="utf-8")
    with pytest.raises(model_folder.ExportError, match="/home/me/runs/fold1"):
        model_folder.check_no_machine_paths(str(tmp_path), folders)


def test_exported_models_load_offline_without_the_repository_and_predict_as_the_training_time_model(
    exported, held_out_files, training_time_outputs, tmp_path
):
    (tmp_path / "load.py").write_text(FRESH_PROCESS_SCRIPT, encoding="utf-8")
    request = {"models": {stage: exported[stage] for stage in STAGES}, "files": held_out_files}
    (tmp_path / "request.json").write_text(json.dumps(request), encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    done = run_command(tmp_path / "load.py", tmp_path / "request.json", tmp_path / "report.json", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))

    importable = [Path(entry or report["cwd"]).resolve() for entry in report["sys_path"]]
    assert REPO not in importable, "the repository was importable"
    for stage in STAGES:
        expected = training_time_outputs[stage]
        for way in ("foreign_class", "from_hparams"):
            loaded = report["models"][f"{stage}/{way}"]
            assert loaded["code"].startswith(exported[stage]), f"{stage}/{way} ran {loaded['code']}, not its own code"
            for index, path in enumerate(held_out_files):
                reference = expected[index]
                out_prob = torch.tensor(loaded["out_prob"][index])
                expected_prob = reference["emo"].exp()
                assert torch.allclose(out_prob, expected_prob, rtol=0, atol=EXACT), (stage, way, path)
                assert loaded["text_lab"][index] == EMOTIONS[int(reference["emo"].argmax())]
                prediction = loaded["predictions"][index]
                assert prediction["file"] == path and prediction["emotion"] == loaded["text_lab"][index]
                for task in ("gender", "style"):
                    assert (task in prediction) == (task in reference), f"{stage} {task} head"
                    if task in reference:
                        probs = torch.tensor(list(prediction[f"{task}_probs"].values()))
                        expected_probs = reference[task].exp()
                        assert torch.allclose(probs, expected_probs, rtol=0, atol=EXACT), (stage, way, task, path)
                        assert prediction[task] == TASK_LABELS[task][int(expected_probs.argmax())]
                if "words" in reference:
                    assert prediction["transcript"].split() == reference["words"], (stage, way, path)
                else:
                    assert "transcript" not in prediction
    assert "transcript" in report["models"]["stage1/foreign_class"]["predictions"][0], "stage 1 has a CTC head"


# ---- EncoderClassifier-style interface ------------------------------------------------------------------


def test_classify_batch_returns_encoder_classifier_outputs(recognizers, held_out_files):
    recognizer = recognizers["stage2"]
    wavs = [recognizer.load_audio(path) for path in held_out_files[:3]]
    longest = max(len(wav) for wav in wavs)
    batch = torch.stack([torch.nn.functional.pad(wav, (0, longest - len(wav))) for wav in wavs])
    wav_lens = torch.tensor([len(wav) / longest for wav in wavs])

    out_prob, score, index, text_lab = recognizer.classify_batch(batch, wav_lens)
    assert out_prob.shape == (3, len(EMOTIONS)) and out_prob.dtype == torch.float32
    # Probabilities, as SpeechBrain's emotion card returns them: code testing `score > 0.5` keeps its meaning.
    assert bool(((out_prob >= 0) & (out_prob <= 1)).all())
    assert torch.allclose(out_prob.sum(dim=-1), torch.ones(3), atol=1e-5), "probabilities"
    assert score.shape == (3,) and torch.equal(score, out_prob.max(dim=-1).values) and bool((score >= 0.25).all())
    assert index.shape == (3,) and index.dtype == torch.int64 and torch.equal(index, out_prob.argmax(dim=-1))
    assert isinstance(text_lab, list) and text_lab == [EMOTIONS[i] for i in index.tolist()]
    log_prob, log_score, log_index, log_lab = recognizer.classify_batch(batch, wav_lens, log_probs=True)
    assert torch.allclose(log_prob.exp(), out_prob, atol=1e-6) and bool((log_prob <= 0).all())
    assert torch.allclose(log_score, score.log(), atol=1e-6) and torch.equal(log_index, index) and log_lab == text_lab
    for path, predicted in zip(held_out_files[:3], recognizer.predict_files(held_out_files[:3])):
        one_file_prob = recognizer.classify_file(path)[0][0].tolist()
        assert list(predicted["emotion_probs"].values()) == pytest.approx(one_file_prob, abs=1e-5), "same scale"


def test_encode_batch_gives_one_embedding_per_utterance_three_encoder_sizes_wide_with_fusion(
    recognizers, held_out_files
):
    wav = recognizers["stage1"].load_audio(held_out_files[0]).unsqueeze(0).repeat(2, 1)
    encoder_dim = 64  # the tiny backbone's hidden size
    assert recognizers["stage2"].encode_batch(wav, torch.ones(2)).shape == (2, 3 * encoder_dim)
    assert recognizers["stage1"].encode_batch(wav, torch.ones(2)).shape == (2, encoder_dim)


@pytest.mark.parametrize("stage", STAGES)
def test_classify_file_equals_classify_batch_on_the_loaded_waveform(recognizers, held_out_files, stage):
    recognizer = recognizers[stage]
    for path in held_out_files[:2]:
        from_file = recognizer.classify_file(path)
        wav = recognizer.load_audio(path)
        from_batch = recognizer.classify_batch(wav.unsqueeze(0), torch.ones(1))
        for a, b in zip(from_file[:3], from_batch[:3]):
            assert torch.equal(a, b)
        assert from_file[3] == from_batch[3]


# ---- audio handling -------------------------------------------------------------------------------------


@pytest.mark.parametrize("sample_rate, cutoff_hz", [(44100, 6000), (8000, 3000)])
def test_other_sample_rates_are_resampled_to_the_prediction_at_16k(
    recognizers, held_out_files, tmp_path, sample_rate, cutoff_hz
):
    """The same audio at 16 kHz and at another rate: the held-out file low-passed below both Nyquist
    frequencies (so no resampler's transition band matters), then converted with an independent resampler
    (scipy's polyphase filter). What is left is the two resamplers' passband error, about 0.2 % of the peak
    amplitude, which moves the probabilities by about 1e-3 on this model: 0.01 bounds it with room."""
    recognizer = recognizers["stage2"]
    for path in held_out_files[:3]:
        signal, rate = soundfile.read(path, dtype="float64")
        assert rate == 16000
        band_limited = np.ascontiguousarray(filtfilt(firwin(255, cutoff_hz, fs=16000), 1.0, signal))
        reference = write_float_wav(tmp_path / "ref_16k.wav", band_limited, 16000)
        converted = resample_poly(band_limited, sample_rate // 100, 160)
        other = write_float_wav(tmp_path / f"at_{sample_rate}.wav", converted, sample_rate)

        loaded = recognizer.load_audio(other)
        assert abs(len(loaded) - len(band_limited)) <= 1, "resampled to 16 kHz"
        n = min(len(loaded), len(band_limited))
        error = (loaded[:n].double() - torch.from_numpy(band_limited[:n])).abs().max()
        assert error < 0.01 * np.abs(band_limited).max()
        expected = recognizer.predict_files([reference])[0]
        got = recognizer.predict_files([other])[0]
        for task in ("emotion", "gender", "style"):
            assert got[task] == expected[task]
            assert got[f"{task}_probs"] == pytest.approx(expected[f"{task}_probs"], abs=0.01)


def test_stereo_file_is_downmixed_to_the_mono_prediction(recognizers, held_out_files, tmp_path):
    recognizer = recognizers["stage2"]
    signal, rate = soundfile.read(held_out_files[1], dtype="int16")
    stereo = tmp_path / "stereo.wav"
    soundfile.write(str(stereo), np.stack([signal, signal], axis=1), rate, subtype="PCM_16")
    assert soundfile.info(str(stereo)).channels == 2
    mono_prob = recognizer.classify_file(held_out_files[1])[0]
    assert torch.allclose(recognizer.classify_file(str(stereo))[0], mono_prob, rtol=0, atol=EXACT)
    mono, stereo_result = recognizer.predict_files([held_out_files[1], str(stereo)], batch_size=1)
    assert_same_predictions(stereo_result, mono, atol=EXACT)


def bad_inputs(folder, min_samples):
    """``{kind: path}`` of files the model cannot classify."""
    folder.mkdir(exist_ok=True)
    paths = {
        "empty": folder / "empty.wav",
        "garbage": folder / "garbage.wav",
        "missing": folder / "missing.wav",
        "missing_folder": folder / "no_such_folder" / "missing.wav",
        "too_short": folder / "too_short.wav",
    }
    soundfile.write(str(paths["empty"]), np.zeros(0, dtype=np.float32), 16000)
    paths["garbage"].write_bytes(bytes(range(256)) * 8)
    soundfile.write(str(paths["too_short"]), np.full(min_samples - 1, 0.1, dtype=np.float32), 16000)
    return {kind: str(path) for kind, path in paths.items()}


def test_min_samples_is_the_cnn_receptive_field_and_exactly_that_long_audio_classifies(recognizers, exported, tmp_path):
    recognizer = recognizers["stage2"]
    assert recognizer.hparams.min_samples == 400  # wav2vec 2.0's CNN: kernels 10,3,3,3,3,2,2, strides 5,2,...
    assert "min_samples: 400" in Path(exported["stage2"], "hyperparams.yaml").read_text(encoding="utf-8")
    rng = np.random.default_rng(0)
    shortest = write_float_wav(tmp_path / "shortest.wav", 0.1 * rng.standard_normal(400), 16000)
    out_prob, _, _, _ = recognizer.classify_file(shortest)
    assert torch.isfinite(out_prob).all()


@pytest.mark.parametrize("kind", ["empty", "garbage", "missing", "missing_folder", "too_short"])
def test_classify_file_raises_audio_input_error_naming_a_bad_file(recognizers, tmp_path, kind):
    recognizer = recognizers["stage2"]
    path = bad_inputs(tmp_path / "bad", recognizer.hparams.min_samples)[kind]
    with pytest.raises(audio_input_error(recognizer)) as caught:
        recognizer.classify_file(path)
    assert path in str(caught.value)


def test_predict_files_returns_the_other_files_results_and_each_bad_files_error(recognizers, held_out_files, tmp_path):
    recognizer = recognizers["stage2"]
    bad = bad_inputs(tmp_path / "bad", recognizer.hparams.min_samples)
    paths = [held_out_files[0], bad["garbage"], held_out_files[1], bad["too_short"], bad["empty"], held_out_files[2]]
    results = recognizer.predict_files(paths, batch_size=2)
    assert [result["file"] for result in results] == paths
    good_alone = recognizer.predict_files(held_out_files[:3], batch_size=2)
    assert [results[0], results[2], results[5]] == good_alone, "bad files do not change the others' batches"
    for index, kind in ((1, "garbage"), (3, "too_short"), (4, "empty")):
        assert set(results[index]) == {"file", "error"} and bad[kind] in results[index]["error"]
    assert "receptive field" in results[3]["error"] and "no audio samples" in results[4]["error"]


# ---- command lines --------------------------------------------------------------------------------------


def test_export_cli_refuses_a_folder_that_is_not_a_finished_training_run(stage1_run, tmp_path):
    not_a_run = tmp_path / "not_a_run"
    not_a_run.mkdir()
    (not_a_run / "notes.txt").write_text("hello", encoding="utf-8")
    unfinished = tmp_path / "unfinished"
    shutil.copytree(stage1_run, unfinished, ignore=shutil.ignore_patterns("test_metrics.json", "CKPT+*"))
    cases = {
        "not_a_run": (not_a_run, "is not the output folder of a training run"),
        "missing": (tmp_path / "missing", "does not exist"),
        "unfinished": (unfinished, "has not finished"),
    }
    for name, (folder, message) in cases.items():
        output = tmp_path / f"out_{name}"
        done = run_command("recipes/export.py", "--experiment_folder", folder, "--output_folder", output)
        assert done.returncode != 0, name
        assert message in done.stderr and "Traceback" not in done.stderr, (name, done.stderr)
        assert not output.exists()


def test_export_cli_never_replaces_a_folder_that_is_not_an_earlier_export(stage1_run, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work", encoding="utf-8")
    for output in (precious, stage1_run):
        done = run_command("recipes/export.py", "--experiment_folder", stage1_run, "--output_folder", output)
        assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert (precious / "thesis.tex").read_text(encoding="utf-8") == "years of work"
    assert os.path.isfile(os.path.join(stage1_run, "hyperparams.yaml"))


def test_classify_cli_prints_every_file_of_folders_lists_and_single_files_and_exits_1_on_a_bad_file(
    exported, held_out_files, tmp_path
):
    folder = tmp_path / "recordings"
    (folder / "nested").mkdir(parents=True)
    shutil.copy(held_out_files[0], folder / "a.wav")
    signal, rate = soundfile.read(held_out_files[1], dtype="int16")
    soundfile.write(str(folder / "nested" / "b.flac"), signal, rate)
    signal, rate = soundfile.read(held_out_files[5], dtype="float32")
    soundfile.write(str(folder / "nested" / "d.ogg"), signal, rate, format="OGG", subtype="VORBIS")
    soundfile.write(str(folder / "e.mp3"), signal, rate, format="MP3", subtype="MPEG_LAYER_III")
    (folder / "notes.md").write_text("not audio", encoding="utf-8")
    list_file = tmp_path / "lists" / "files.txt"
    list_file.parent.mkdir()
    shutil.copy(held_out_files[2], list_file.parent / "c.wav")
    list_file.write_text(f"# held-out files\nc.wav\n\n{held_out_files[3]}\n", encoding="utf-8")
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"\x00not a wav" * 100)
    missing = tmp_path / "missing.wav"

    done = run_command(
        "recipes/classify.py",
        "--model",
        exported["stage1"],
        folder,
        list_file,
        held_out_files[4],
        garbage,
        missing,
        "--batch_size",
        "2",
    )
    assert done.returncode == 1, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].split() == ["file", "emotion", "transcript"], "stage 1 has an ASR head, no gender or style"
    expected_files = [
        *(folder / name for name in ("a.wav", "e.mp3", "nested/b.flac", "nested/d.ogg")),
        list_file.parent / "c.wav",
        held_out_files[3],
        held_out_files[4],
        garbage,
        missing,
    ]
    assert [line.split()[0] for line in lines[1:]] == [str(path) for path in expected_files]
    for line in lines[1:8]:
        assert line.split()[1] in EMOTIONS and "ERROR" not in line
    assert "ERROR" in lines[8] and "cannot read audio" in lines[8]
    assert "ERROR" in lines[9] and "no such file" in lines[9]
    assert "2 of 9 files could not be classified" in done.stderr


def test_classify_cli_json_lines_parse_and_match_predict_files(exported, recognizers, held_out_files, tmp_path):
    list_file = tmp_path / "files.lst"
    list_file.write_text("\n".join(held_out_files) + "\n", encoding="utf-8")
    done = run_command("recipes/classify.py", "--model", exported["stage2"], "--json", "--device", "cpu", list_file)
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.strip().splitlines()]
    assert [result["file"] for result in results] == held_out_files
    expected = recognizers["stage2"].predict_files(held_out_files)
    for result, reference in zip(results, expected):
        assert result.keys() >= {"emotion", "emotion_probs", "gender", "gender_probs", "style", "style_probs"}
        assert_same_predictions(result, reference, atol=EXACT)
        assert sum(result["emotion_probs"].values()) == pytest.approx(1.0, abs=1e-5)


# ---- robustness ----------------------------------------------------------------------------------------------


def test_missing_file_error_says_the_file_is_missing_instead_of_trying_it_as_a_hub_path(recognizers, tmp_path):
    """``Pretrained.load_audio`` takes a path whose folder does not exist for a Hugging Face hub file
    (``<repo>/<file>``) and tries to download it; a missing local file should say so."""
    recognizer = recognizers["stage2"]
    bad = bad_inputs(tmp_path / "bad", recognizer.hparams.min_samples)
    for kind in ("missing", "missing_folder"):
        with pytest.raises(audio_input_error(recognizer)) as caught:
            recognizer.classify_file(bad[kind])
        message = str(caught.value).lower()
        assert any(words in message for words in ("no such file", "does not exist", "not found")), message


def test_a_files_prediction_does_not_depend_on_the_other_files_in_its_batch(recognizers, held_out_files):
    """``predict_files`` (and ``classify.py``) pad a batch to its longest file. Padding must not change a
    file's result: the waveform is normalised over its true length and pooling and CTC use its own frames."""
    recognizer = recognizers["stage1"]
    one_at_a_time = recognizer.predict_files(held_out_files, batch_size=1)
    batched = recognizer.predict_files(held_out_files, batch_size=len(held_out_files))
    for got, expected in zip(batched, one_at_a_time):
        assert_same_predictions(got, expected, atol=1e-4)
