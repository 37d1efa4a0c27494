"""Tests of the synthetic IEMOCAP-format corpus (``synthetic/corpus.py``).

They pin that the corpus looks like ``IEMOCAP_full_release`` to a reader (layout, formats, id conventions and
the quirks of the real files), that it is deterministic, and that what the recipe is meant to learn (emotion,
gender, style, and letters for the CTC head) is measurably present in the audio.
"""

import hashlib
import os
import re
import time
from collections import Counter, defaultdict

import numpy as np
import pytest
import soundfile

from synthetic.corpus import (
    EMO_EVALUATION_HEADER,
    LETTER_SOUNDS,
    MERGED_CLASS,
    generate_corpus,
    main,
    speaker_voice,
    synthesize_utterance,
)

SAMPLE_RATE = 16000
EXCLUDED_LABELS = {"fru", "sur", "fea", "dis", "oth", "xxx"}
BLOCK_LINE = re.compile(
    r"^\[(\d+\.\d{4}) - (\d+\.\d{4})\]\t(Ses0[1-5][FM]_\S+_[FM]\d{3})\t([a-z]{3})\t"
    r"\[(\d\.\d{4}), (\d\.\d{4}), (\d\.\d{4})\]$"
)
CATEGORICAL_LINE = re.compile(r"^C-(E\d|[FM]1):\t[A-Z][a-z]+(; [A-Z][a-z]+)*;\t\(.*\)$")
ATTRIBUTE_LINE = re.compile(r"^A-(E\d|[FM]1):\tval [1-5]; act [1-5]; dom  [1-5];\t\(.*\)$")
TRANSCRIPT_LINE = re.compile(r"^(\S+) \[(\d{3}\.\d{4})-(\d{3}\.\d{4})\]: (.+)$")
SPEAKER_ONLY_LINE = re.compile(r"^[FM]: \S.*$")
TAG = re.compile(r"\[(LAUGHTER|BREATHING|GARBAGE)\]")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The default corpus (seed 0), generated once for the module, with its generation time."""
    root = str(tmp_path_factory.mktemp("IEMOCAP_full_release"))
    began = time.perf_counter()
    truth = generate_corpus(root, seed=0)
    return root, truth, time.perf_counter() - began


def _dialog_files(root, folder):
    """``{(session, dialog): path}`` of the top-level ``<dialog>.txt`` files of one dialog folder."""
    files = {}
    for session in range(1, 6):
        directory = os.path.join(root, f"Session{session}", "dialog", folder)
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            if name.endswith(".txt") and not name.startswith(".") and os.path.isfile(path):
                files[(session, name[: -len(".txt")])] = path
    return files


def _read(path):
    with open(path, encoding="ascii") as handle:
        return handle.read()


def _emo_evaluation_blocks(root):
    """``{utt_id: (start, end, label, dialog)}`` parsed from every EmoEvaluation file, checking the format."""
    blocks = {}
    for (_session, dialog), path in _dialog_files(root, "EmoEvaluation").items():
        text = _read(path)
        assert text.startswith(EMO_EVALUATION_HEADER + "\n\n"), path
        assert EMO_EVALUATION_HEADER == "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]"
        assert text.endswith("\n\n"), path
        previous_start = 0.0
        for block in text[len(EMO_EVALUATION_HEADER) + 2 : -2].split("\n\n"):
            first, *evaluators = block.split("\n")
            match = BLOCK_LINE.match(first)
            assert match, f"{path}: bad block line {first!r}"
            start, end, utt_id, label = float(match[1]), float(match[2]), match[3], match[4]
            assert start >= previous_start and end > start, f"{path}: blocks out of time order at {utt_id}"
            previous_start = start
            assert all(1.0 <= float(match[i]) <= 5.0 for i in (5, 6, 7))
            assert any(CATEGORICAL_LINE.match(line) for line in evaluators), block
            assert any(ATTRIBUTE_LINE.match(line) for line in evaluators), block
            assert all(CATEGORICAL_LINE.match(line) or ATTRIBUTE_LINE.match(line) for line in evaluators), block
            blocks[utt_id] = (start, end, label, dialog)
    return blocks


def test_default_corpus_generation_time_is_reported(corpus):
    _, truth, seconds = corpus
    print(f"\nGenerated the default corpus ({len(truth)} utterances) in {seconds:.2f} s")
    assert len(truth) == 5 * 4 * 12


def test_emo_evaluation_has_header_time_ordered_blocks_and_evaluator_lines(corpus):
    root, truth, _ = corpus
    blocks = _emo_evaluation_blocks(root)
    assert set(blocks) == set(truth)
    for utt_id, (_, _, label, dialog) in blocks.items():
        assert label == truth[utt_id]["label"]
        assert utt_id.startswith(dialog + "_")


def test_emo_evaluation_has_side_subfolders_and_non_utf8_apple_double_file(corpus):
    root, _, _ = corpus
    for session in range(1, 6):
        emo_dir = os.path.join(root, f"Session{session}", "dialog", "EmoEvaluation")
        for sub in ("Categorical", "Attribute", "Self-evaluation"):
            names = os.listdir(os.path.join(emo_dir, sub))
            assert names and all(name.endswith(".txt") for name in names), sub
        junk = [name for name in os.listdir(emo_dir) if name.startswith("._") and name.endswith(".txt")]
        assert len(junk) == 1
        with open(os.path.join(emo_dir, junk[0]), "rb") as handle:
            with pytest.raises(UnicodeDecodeError):
                handle.read().decode("utf-8")


def test_transcriptions_hold_every_turn_in_time_order_with_the_real_quirks(corpus):
    root, truth, _ = corpus
    blocks = _emo_evaluation_blocks(root)
    seen, quirks = set(), Counter()
    for path in _dialog_files(root, "transcriptions").values():
        previous_start = 0.0
        for line in _read(path).splitlines():
            if SPEAKER_ONLY_LINE.match(line):
                quirks["speaker-only"] += 1
                continue
            match = TRANSCRIPT_LINE.match(line)
            assert match, f"{path}: bad line {line!r}"
            utt_id, start, end, text = match[1], float(match[2]), float(match[3]), match[4]
            assert start >= previous_start, f"{path}: lines out of time order at {utt_id}"
            previous_start = start
            if re.search(r"_[FM]XX\d$", utt_id):
                assert utt_id not in truth
                quirks["XX id"] += 1
                continue
            assert text == truth[utt_id]["transcript"]
            assert (start, end) == pytest.approx(blocks[utt_id][:2], abs=1e-4)
            seen.add(utt_id)
            if TAG.fullmatch(text):
                quirks["tag alone"] += 1
            elif TAG.search(text):
                quirks["tag inside"] += 1
    assert seen == set(truth)
    assert min(quirks[name] for name in ("speaker-only", "XX id", "tag alone", "tag inside")) > 0, quirks


def test_transcripts_normalise_to_the_spoken_words(corpus):
    from corpora.transcripts import normalize_transcript

    _, truth, _ = corpus
    for utt_id, entry in truth.items():
        assert re.fullmatch(r"([a-z']+( [a-z']+)*)?", entry["words"]), utt_id
        assert normalize_transcript(entry["transcript"]) == entry["words"], utt_id
    # Only a turn that is nothing but a tag has no words, and it is never one of the four classes.
    assert all(entry["label"] in EXCLUDED_LABELS for entry in truth.values() if not entry["words"])


def test_wavs_are_16k_mono_pcm16_one_per_annotated_turn_with_the_true_duration(corpus):
    root, truth, _ = corpus
    on_disk = {
        os.path.join(directory, name)
        for directory, _, names in os.walk(root)
        for name in names
        if name.endswith(".wav")
    }
    assert on_disk == {entry["wav"] for entry in truth.values()}
    assert {entry["label"] for entry in truth.values()} & EXCLUDED_LABELS
    for utt_id, entry in truth.items():
        assert entry["wav"].endswith(
            os.path.join(f"Session{entry['session']}", "sentences", "wav", utt_id.rsplit("_", 1)[0], utt_id + ".wav")
        )
        info = soundfile.info(entry["wav"])
        assert (info.format, info.subtype, info.samplerate, info.channels) == ("WAV", "PCM_16", SAMPLE_RATE, 1)
        assert info.frames / SAMPLE_RATE == pytest.approx(entry["duration"], abs=1e-9)
        assert 0.8 <= entry["duration"] <= 3.5, utt_id
        samples, _ = soundfile.read(entry["wav"], dtype="int16")
        assert np.abs(samples.astype(np.int32)).max() < 32767, f"{utt_id} clips"


def test_turn_ids_carry_the_speaker_gender_which_differs_from_the_dialog_actor_letter(corpus):
    _, truth, _ = corpus
    relations = Counter()
    speakers_per_dialog = defaultdict(set)
    for utt_id, entry in truth.items():
        dialog, turn = utt_id.rsplit("_", 1)
        assert re.fullmatch(r"[FM]\d{3}", turn)
        assert entry["gender"] == turn[0]
        relations["same" if dialog[5] == turn[0] else "different"] += 1
        speakers_per_dialog[dialog].add(turn[0])
    assert relations["same"] > 0 and relations["different"] > 0
    assert all(speakers == {"F", "M"} for speakers in speakers_per_dialog.values())


def test_dialog_ids_follow_iemocap_including_a_letter_suffixed_impro_and_script_parts(corpus):
    _, truth, _ = corpus
    dialogs = {utt_id.rsplit("_", 1)[0]: entry for utt_id, entry in truth.items()}
    for dialog, entry in dialogs.items():
        pattern = r"Ses0[1-5][FM]_impro0\d[a-z]?" if entry["style"] == "impro" else r"Ses0[1-5][FM]_script0\d_\d"
        assert re.fullmatch(pattern, dialog), dialog
        assert int(dialog[3:5]) == entry["session"]
    assert any(re.fullmatch(r".*_impro0\d[a-z]", dialog) for dialog in dialogs)
    assert {dialog[5] for dialog in dialogs} == {"F", "M"}


def test_scripted_dialogs_speak_the_same_script_in_every_session(corpus):
    _, truth, _ = corpus
    # part (e.g. script01_2, impro01) -> session -> the lines spoken, tags left out (they vary per take)
    lines = defaultdict(lambda: defaultdict(list))
    for utt_id, entry in truth.items():
        part = utt_id.rsplit("_", 1)[0].split("_", 1)[1]
        lines[part][entry["session"]].append(" ".join(TAG.sub("", entry["transcript"]).split()))
    for part, sessions in lines.items():
        scripts = {tuple(sorted(spoken)) for spoken in sessions.values()}
        if part.startswith("script"):
            assert len(sessions) == 5 and len(scripts) == 1, part
        else:
            assert len(scripts) == len(sessions), f"{part}: improvised dialogs should differ between sessions"


def _generate_and_hash(root, seed):
    """sha256 of every generated file, by path relative to the corpus root."""
    generate_corpus(str(root), seed=seed, turns_per_dialog=3)
    digests = {}
    for directory, _, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                digests[os.path.relpath(path, root)] = hashlib.sha256(handle.read()).hexdigest()
    return digests


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(tmp_path):
    first = _generate_and_hash(tmp_path / "a", seed=0)
    again = _generate_and_hash(tmp_path / "b", seed=0)
    other = _generate_and_hash(tmp_path / "c", seed=1)
    assert first == again
    shared = set(first) & set(other)
    assert sum(first[path] != other[path] for path in shared) > 0.9 * len(shared)


def test_generating_into_a_folder_that_holds_a_corpus_is_refused(tmp_path):
    generate_corpus(str(tmp_path), turns_per_dialog=1)
    with pytest.raises(FileExistsError, match="Session1"):
        generate_corpus(str(tmp_path), turns_per_dialog=1)


def test_every_session_has_all_four_merged_classes_and_excluded_labels_exist(corpus):
    _, truth, _ = corpus
    for session in range(1, 6):
        labels = {entry["label"] for entry in truth.values() if entry["session"] == session}
        assert {MERGED_CLASS[label] for label in labels if label in MERGED_CLASS} == {"neu", "hap", "ang", "sad"}
    labels = Counter(entry["label"] for entry in truth.values())
    assert labels["hap"] > 0 and labels["exc"] > 0
    excluded = sum(n for label, n in labels.items() if label in EXCLUDED_LABELS)
    assert 0.1 <= excluded / len(truth) <= 0.3, labels


def test_command_line_prints_counts_per_label_and_session(tmp_path, capsys):
    main(["--out_dir", str(tmp_path), "--seed", "3", "--turns_per_dialog", "2"])
    printed = capsys.readouterr().out
    assert "Wrote 40 annotated utterances" in printed
    assert "Per raw label:" in printed and "Session5 8" in printed


# Hand-made features of the learnability tests: 32 ms frames every 10 ms.
FRAME, HOP = 512, 160


def _frames(samples, frame=FRAME, hop=HOP):
    return np.lib.stride_tricks.sliding_window_view(samples, frame)[::hop]


def _utterance_features(samples, letters):
    """Crude prosody and channel features: pitch level and spread, loudness, speaking rate, spectrum, floor."""
    frames = _frames(samples)
    rms = np.sqrt((frames**2).mean(axis=1))
    speech = rms > 0.1 * rms.max()
    window = np.hanning(FRAME)
    windowed = frames[speech] * window
    # Autocorrelation pitch, normalised by the window's own autocorrelation (else long periods look unvoiced).
    autocorrelation = np.fft.irfft(np.abs(np.fft.rfft(windowed, 2 * FRAME)) ** 2)[:, :FRAME]
    window_autocorrelation = np.fft.irfft(np.abs(np.fft.rfft(window, 2 * FRAME)) ** 2)[:FRAME]
    autocorrelation /= autocorrelation[:, :1] * (window_autocorrelation / window_autocorrelation[0]) + 1e-12
    shortest, longest = SAMPLE_RATE // 400, SAMPLE_RATE // 70
    lag = shortest + autocorrelation[:, shortest:longest].argmax(axis=1)
    voiced = autocorrelation[np.arange(len(lag)), lag] > 0.5
    semitones = 12 * np.log2(SAMPLE_RATE / lag[voiced])
    power = np.abs(np.fft.rfft(windowed)) ** 2
    centroid = (power * np.fft.rfftfreq(FRAME, 1 / SAMPLE_RATE)).sum(axis=1) / power.sum(axis=1)
    # The first 60 ms are silence: what is heard there is the recording channel.
    floor = samples[: int(0.06 * SAMPLE_RATE)]
    floor_power = np.abs(np.fft.rfft(floor)) ** 2
    low = np.fft.rfftfreq(len(floor), 1 / SAMPLE_RATE) < 150
    return [
        np.median(semitones),
        semitones.std(),
        np.log(np.abs(samples).max()),
        np.log(rms[speech].mean()),
        letters / (speech.sum() * HOP / SAMPLE_RATE),
        np.log(centroid.mean()),
        voiced.mean(),
        np.log(np.sqrt((floor**2).mean())),
        floor_power[low].sum() / floor_power.sum(),
    ]


def _leave_one_session_out_accuracy(features, labels, sessions, epochs=500, learning_rate=0.5):
    """Accuracy of a softmax regression (numpy, full-batch gradient descent), each session held out in turn."""
    classes = sorted(set(labels))
    targets = np.array([classes.index(label) for label in labels])
    correct = 0
    for held_out in np.unique(sessions):
        train, test = sessions != held_out, sessions == held_out
        mean, std = features[train].mean(axis=0), features[train].std(axis=0) + 1e-9

        def design(rows, mean=mean, std=std):
            return np.hstack([(features[rows] - mean) / std, np.ones((rows.sum(), 1))])

        inputs, one_hot = design(train), np.eye(len(classes))[targets[train]]
        weights = np.zeros((inputs.shape[1], len(classes)))
        for _ in range(epochs):
            logits = inputs @ weights
            probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
            probabilities /= probabilities.sum(axis=1, keepdims=True)
            weights -= learning_rate * (inputs.T @ (probabilities - one_hot) / len(inputs) + 1e-3 * weights)
        correct += ((design(test) @ weights).argmax(axis=1) == targets[test]).sum()
    return correct / len(labels)


def test_emotion_gender_and_style_are_learnable_from_hand_made_features(corpus):
    _, truth, _ = corpus
    spoken = [utt_id for utt_id, entry in truth.items() if entry["words"]]
    features = np.array(
        [
            _utterance_features(soundfile.read(truth[u]["wav"])[0], len(truth[u]["words"].replace(" ", "")))
            for u in spoken
        ]
    )
    assert np.isfinite(features).all()
    sessions = np.array([truth[u]["session"] for u in spoken])
    four_class = np.array([truth[u]["label"] in MERGED_CLASS for u in spoken])
    emotions = [MERGED_CLASS[truth[u]["label"]] for u, keep in zip(spoken, four_class) if keep]
    accuracy = {
        "emotion": _leave_one_session_out_accuracy(features[four_class], emotions, sessions[four_class]),
        "gender": _leave_one_session_out_accuracy(features, [truth[u]["gender"] for u in spoken], sessions),
        "style": _leave_one_session_out_accuracy(features, [truth[u]["style"] for u in spoken], sessions),
    }
    print("\nLeave-one-session-out accuracy: " + ", ".join(f"{task} {value:.3f}" for task, value in accuracy.items()))
    assert accuracy["emotion"] > 0.6  # chance: 0.25 (0.31 for the majority class)
    assert accuracy["gender"] > 0.9
    assert accuracy["style"] > 0.8


def _letter_features(samples):
    """Mean log band energies of the first and second half of the sounding frames, and their count."""
    frame, hop = 256, 80
    frames = _frames(samples, frame, hop)
    rms = np.sqrt((frames**2).mean(axis=1))
    power = np.abs(np.fft.rfft(frames[rms > 0.05 * rms.max()] * np.hanning(frame))) ** 2
    frequencies = np.fft.rfftfreq(frame, 1 / SAMPLE_RATE)
    edges = np.geomspace(100, 7600, 25)
    bands = np.stack(
        [power[:, (frequencies >= low) & (frequencies < high)].sum(axis=1) for low, high in zip(edges, edges[1:])],
        axis=1,
    )
    log_bands = np.log(bands + 1e-10)
    log_bands -= log_bands.mean()
    half = max(1, len(log_bands) // 2)
    second = log_bands[half:] if len(log_bands) > 1 else log_bands
    return np.concatenate([log_bands[:half].mean(axis=0), second.mean(axis=0), [np.log(len(log_bands))]])


def test_each_letter_has_its_own_sound_across_unseen_speakers_and_emotions():
    symbols = sorted(LETTER_SOUNDS)
    rows, speakers, letters = [], [], []
    for speaker in range(6):
        voice = speaker_voice("FM"[speaker % 2], np.random.default_rng([7, speaker]))
        for label, style in (("neu", "script"), ("hap", "impro"), ("ang", "script"), ("sad", "impro")):
            for symbol in symbols:
                rng = np.random.default_rng([speaker, len(rows)])
                rows.append(_letter_features(synthesize_utterance([symbol], label, voice, style, rng)))
                speakers.append(speaker)
                letters.append(symbol)
    features, speakers, letters = np.array(rows), np.array(speakers), np.array(letters)
    train = speakers < 4
    mean, std = features[train].mean(axis=0), features[train].std(axis=0) + 1e-9
    normalised = (features - mean) / std
    centroids = np.array([normalised[train & (letters == symbol)].mean(axis=0) for symbol in symbols])
    distances = ((normalised[~train][:, None, :] - centroids[None]) ** 2).sum(axis=-1)
    accuracy = (np.array(symbols)[distances.argmin(axis=1)] == letters[~train]).mean()
    print(f"\nIsolated-letter nearest-centroid accuracy on unseen speakers: {accuracy:.3f} (chance {1 / 27:.3f})")
    assert accuracy > 0.7


def test_speech_stays_below_sixteen_letters_per_second(corpus):
    _, truth, _ = corpus
    for utt_id, entry in truth.items():
        if not entry["words"]:
            continue
        samples, _ = soundfile.read(entry["wav"])
        rms = np.sqrt((_frames(samples) ** 2).mean(axis=1))
        sounding = np.flatnonzero(rms > 0.02 * rms.max())
        seconds = (sounding[-1] - sounding[0]) * HOP / SAMPLE_RATE + FRAME / SAMPLE_RATE
        assert len(entry["words"].replace(" ", "")) / seconds <= 16.5, utt_id
