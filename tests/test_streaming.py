"""Inference that scales: thousands of files stream through ``EmotionRecognizer.iter_predictions`` (read when
their batch runs, batched by duration under a cap on padded seconds, results in input order as they come) and
``recipes/classify.py`` writes them as CSV and JSON lines with a progress bar; a recording of any length is
followed through time in sliding windows read a batch at a time (``emotion_timeline``, ``recipes/timeline.py``).
Memory is checked by counting the audio alive at once, not by timing.
"""

import csv
import json
import os
import weakref

import numpy as np
import pytest
import soundfile
import torch

from custom_modules.constants import EMOTIONS, SAMPLE_RATE
from custom_modules.streaming import sliding_windows
from tests.conftest import assert_same_predictions, run_command, write_float_wav


class AudioInMemory:
    """Counts the waveforms ``load_checked_audio`` returned that are still alive, and the largest such count."""

    def __init__(self, load):
        self.load, self.alive, self.alive_seconds, self.calls = load, 0, 0.0, 0
        self.most, self.most_seconds = 0, 0.0

    def __call__(self, path):
        signal = self.load(path)
        self.calls += 1
        seconds = signal.shape[0] / SAMPLE_RATE
        self.alive += 1
        self.alive_seconds += seconds
        self.most, self.most_seconds = max(self.most, self.alive), max(self.most_seconds, self.alive_seconds)
        weakref.finalize(signal, self._freed, seconds)
        return signal

    def _freed(self, seconds):
        self.alive -= 1
        self.alive_seconds -= seconds


def test_iter_predictions_reads_each_batch_when_it_runs_and_yields_every_file_in_input_order(
    recognizers, held_out_files, tmp_path, monkeypatch
):
    recognizer = recognizers["stage2"]
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"\0not audio" * 50)
    paths = [held_out_files[i % len(held_out_files)] for i in range(46)]
    paths[7] = paths[30] = str(garbage)
    durations = {path: soundfile.info(path).duration for path in held_out_files}
    cap, batch_size, window = 2.5 * max(durations.values()), 4, 16

    audio = AudioInMemory(recognizer.load_checked_audio)
    monkeypatch.setattr(recognizer, "load_checked_audio", audio)
    batches = []
    predict_batch = recognizer.predict_batch

    def recorded_predict_batch(wavs, wav_lens=None):
        batches.append(wavs.shape)
        return predict_batch(wavs, wav_lens)

    monkeypatch.setattr(recognizer, "predict_batch", recorded_predict_batch)
    streamed = recognizer.iter_predictions(
        iter(paths), batch_size=batch_size, max_batch_seconds=cap, sort_window=window
    )  # a generator of paths: nothing needs the whole list
    first = next(streamed)
    calls_before_first_result = audio.calls
    results = [first, *streamed]

    assert [result["file"] for result in results] == [str(path) for path in paths]
    assert calls_before_first_result <= window < len(paths), "results come before every file is read"
    assert audio.most <= batch_size and audio.most_seconds <= cap, "one batch of audio at a time"
    assert audio.alive == 0
    for shape in batches:
        assert shape[0] <= batch_size and shape[0] * shape[1] / SAMPLE_RATE <= cap, "padded seconds under the cap"
    for index in (7, 30):
        assert set(results[index]) == {"file", "error"} and "cannot read audio" in results[index]["error"]
    one_at_a_time = dict(zip(held_out_files, recognizer.predict_files(held_out_files, 1)))
    for result in results:
        if "error" not in result:
            assert_same_predictions(result, one_at_a_time[result["file"]], atol=1e-4)
            assert sum(result["emotion_probs"].values()) == pytest.approx(1.0, abs=1e-5)


def test_a_file_longer_than_the_batch_cap_is_reported_with_the_way_out_and_the_others_classified(
    recognizers, held_out_files, tmp_path
):
    recognizer = recognizers["stage2"]
    long_file = write_float_wav(tmp_path / "long.wav", 0.1 * np.random.default_rng(0).standard_normal(80000), 16000)
    cap = max(soundfile.info(path).duration for path in held_out_files[:2]) + 0.5
    results = recognizer.predict_files([held_out_files[0], long_file, held_out_files[1]], max_batch_seconds=cap)
    assert "emotion" in results[0] and "emotion" in results[2]
    assert set(results[1]) == {"file", "error"}
    assert "longer than max_batch_seconds" in results[1]["error"] and "emotion_timeline" in results[1]["error"]


def test_classify_cli_writes_csv_and_json_lines_as_it_goes_with_a_progress_bar(
    exported, recognizers, held_out_files, tmp_path
):
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"\0not audio" * 50)
    inputs = [*held_out_files, str(garbage), held_out_files[0]]
    csv_path, jsonl_path = tmp_path / "out" / "results.csv", tmp_path / "out" / "results.jsonl"
    done = run_command(
        "recipes/classify.py", "--model", exported["stage2"], *inputs, "--output_csv", csv_path,
        "--output_jsonl", jsonl_path, "--batch_size", "2", "--max_batch_seconds", "30", "--progress", "on", "--quiet",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-3000:]
    assert done.stdout == "", "--quiet: the results go to the files only"
    assert f"{len(inputs)}/{len(inputs)} [" in done.stderr and "file" in done.stderr, "tqdm's progress bar"
    assert "1 of 8 files could not be classified" in done.stderr

    lines = [json.loads(line) for line in jsonl_path.read_text(encoding="utf-8").splitlines()]
    assert [line["file"] for line in lines] == inputs
    expected = recognizers["stage2"].predict_files(inputs)
    for line, reference in zip(lines, expected):
        assert_same_predictions(line, reference, atol=1e-5)

    with open(csv_path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    labels = recognizers["stage2"].label_sets
    columns = ["file"]
    for name, names in labels.items():
        columns += [name, f"{name}_prob", *(f"{name}_prob_{label}" for label in names)]
    assert list(rows[0]) == [*columns, "error"]
    assert [row["file"] for row in rows] == inputs
    for row, reference in zip(rows, expected):
        if "error" in reference:
            assert row["error"] == reference["error"] and row["emotion"] == ""
            continue
        assert row["emotion"] == reference["emotion"] and row["error"] == ""
        assert float(row["emotion_prob"]) == pytest.approx(reference["emotion_probs"][reference["emotion"]], abs=1e-6)
        assert sum(float(row[f"emotion_prob_{label}"]) for label in EMOTIONS) == pytest.approx(1.0, abs=1e-5)


def test_classify_cli_refuses_an_output_that_is_a_folder_before_loading_the_model(exported, held_out_files, tmp_path):
    done = run_command(
        "recipes/classify.py", "--model", exported["stage2"], held_out_files[0], "--output_csv", tmp_path
    )
    assert done.returncode == 2 and "is a folder" in done.stderr and "Traceback" not in done.stderr


# ---- emotion over time --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recording(held_out_files, tmp_path_factory):
    """A recording made of the held-out files one after the other, three times (about 20 s, 16 kHz): its path and
    samples."""
    folder = tmp_path_factory.mktemp("recording")
    signal = np.concatenate([soundfile.read(path, dtype="float32")[0] for path in held_out_files * 3])
    mono = write_float_wav(folder / "meeting.wav", signal, 16000)
    return {"mono": mono, "signal": signal}


def test_emotion_timeline_reads_one_batch_of_windows_at_a_time_and_classifies_each_as_a_clip(
    recognizers, recording, monkeypatch
):
    recognizer = recognizers["stage2"]
    window_s, hop_s, batch_size = 2.0, 1.5, 3
    reads = []
    read_segment = recognizer._read_segment

    def recorded_read(path, file_rate, start_s, end_s):
        segment = read_segment(path, file_rate, start_s, end_s)
        reads.append(segment.shape[0])
        return segment

    monkeypatch.setattr(recognizer, "_read_segment", recorded_read)
    timeline = recognizer.emotion_timeline(recording["mono"], window_s=window_s, hop_s=hop_s, batch_size=batch_size)
    first = next(timeline)
    assert len(reads) == batch_size, "windows are read as their batch runs"
    rows = [first, *timeline]

    duration = len(recording["signal"]) / 16000
    assert [(row["start_s"], row["end_s"]) for row in rows] == list(sliding_windows(duration, window_s, hop_s))
    assert rows[-1]["end_s"] == pytest.approx(duration, abs=1e-5) and len(rows) > 8
    assert max(reads) == round(window_s * 16000), "a window's samples, never the whole recording"
    for row in rows[:: max(1, len(rows) // 4)]:
        start, end = round(row["start_s"] * 16000), round(row["end_s"] * 16000)
        clip = torch.from_numpy(recording["signal"][start:end]).unsqueeze(0)
        expected = recognizer.classify_batch(clip, torch.ones(1))[0][0]
        assert list(row["emotion_probs"]) == list(EMOTIONS)
        assert list(row["emotion_probs"].values()) == pytest.approx(expected.tolist(), abs=1e-5)
        assert row["emotion"] == EMOTIONS[int(expected.argmax())]


def test_timeline_cli_writes_a_csv_and_a_png_per_recording_and_reports_a_bad_one(exported, recording, tmp_path):
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"\0not audio" * 50)
    stereo = tmp_path / "meeting_44k.wav"
    signal = np.interp(np.arange(0, len(recording["signal"]), 16000 / 44100), np.arange(len(recording["signal"])),
                       recording["signal"]).astype(np.float32)  # fmt: skip
    soundfile.write(str(stereo), np.stack([signal, signal], axis=1), 44100)
    out = tmp_path / "timelines"
    done = run_command(
        "recipes/timeline.py", "--model", exported["stage2"], recording["mono"], stereo, garbage,
        "--window_s", "3", "--hop_s", "1", "--output_folder", out,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-3000:]
    assert "garbage.wav" in done.stderr and "1 of 3 files could not be used" in done.stderr
    assert sorted(os.listdir(out)) == ["meeting.csv", "meeting.png", "meeting_44k.csv", "meeting_44k.png"]
    for name, path in (("meeting", recording["mono"]), ("meeting_44k", stereo)):
        duration = soundfile.info(str(path)).duration
        with open(out / f"{name}.csv", encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert list(rows[0]) == ["start_s", "end_s", "emotion", *(f"prob_{label}" for label in EMOTIONS)]
        assert len(rows) == len(list(sliding_windows(duration, 3.0, 1.0)))
        assert float(rows[-1]["end_s"]) == pytest.approx(duration, abs=1e-3)
        for row in rows:
            assert row["emotion"] in EMOTIONS
            assert sum(float(row[f"prob_{label}"]) for label in EMOTIONS) == pytest.approx(1.0, abs=1e-3)
        png = (out / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 20000


def test_classify_names_timeline_py_for_a_file_longer_than_the_cap_and_a_short_recordings_plot_one_window(
    exported, held_out_files, tmp_path, capsys
):
    from custom_modules.timeline_plot import timeline_subtitle
    from recipes import classify

    long_file = write_float_wav(tmp_path / "long.wav", 0.1 * np.random.default_rng(0).standard_normal(80000), 16000)
    assert classify.main(["--model", exported["stage2"], str(long_file), "--max_batch_seconds", "2", "--json"]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert "follow it through time with recipes/timeline.py, or raise --max_batch_seconds" in json.loads(line)["error"]
    assert timeline_subtitle([{"start_s": 0.0, "end_s": 2.4}], 3.0, 1.0).startswith("one window: the whole recording")
    assert "every" not in timeline_subtitle([{"start_s": 0.0, "end_s": 2.4}], 3.0, 1.0)


def test_the_list_file_rule_is_in_the_help_of_classify_and_timeline(capsys):
    from recipes import classify, timeline

    for program in (classify, timeline):
        with pytest.raises(SystemExit):
            program.main(["--help"])
        assert "relative paths in a list file are read from the list file's folder" in " ".join(
            capsys.readouterr().out.split()
        )
