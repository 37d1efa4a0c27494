"""Tests of the corpus readers (``corpora/crema_d.py``, ``ravdess.py``, ``manifest.py``) on corpora generated in
each release's exact layout (``synthetic/``), and of the errors they give on bad input.

They pin that every file is read with the right labels, speaker, gender and transcript, that what the releases
leave out is counted, and that each kind of bad input is a ``CorpusError`` naming the file and row.
"""

import json
import os
import shutil

import numpy as np
import pytest
import soundfile

from corpora import CorpusError, crema_d, manifest, ravdess
from corpora.transcripts import normalize_transcript
from synthetic.crema_d import generate_crema_d
from synthetic.manifest_corpus import EMOBOX_DATASET, EMOBOX_LABEL_MAP, generate_emobox_corpus, generate_manifest_corpus
from synthetic.ravdess import generate_ravdess

# Rows exactly as EmoBox writes them (data/cremad/ of github.com/emo-box/EmoBox).
EMOBOX_CREMAD_ROW = (
    '{"key": "cremad-1074-IWL-ANG-XX", "dataset": "cremad", "wav": "downloads/cremad/AudioWAV/1074_IWL_ANG_XX.wav", '
    '"type": "raw", "sample_rate": 16000, "num_frame": 44845.0, "task": "category", "length": 2.8028125, '
    '"emo": "ANG", "channel": 1}\n'
)
EMOBOX_CREMAD_STM = (
    "cremad-1074-IWL-ANG-XX 1 1074 0 2.8028125 <id=cremad-1074-IWL-ANG-XX,lang=en,spk=1074,emotion=ANG> ANG\n"
)
EMOBOX_CREMAD_LABEL_MAP = {
    "ANG": "Angry",
    "DIS": "Disgust",
    "FEA": "Fear",
    "HAP": "Happy",
    "NEU": "Neutral",
    "SAD": "Sad",
}


@pytest.fixture(scope="module")
def crema(tmp_path_factory):
    root = tmp_path_factory.mktemp("crema") / "CREMA-D"
    return str(root), generate_crema_d(str(root))


@pytest.fixture(scope="module")
def ravdess_release(tmp_path_factory):
    root = tmp_path_factory.mktemp("ravdess") / ravdess.RELEASE_FOLDER
    return str(root), generate_ravdess(str(root))


@pytest.fixture(scope="module")
def manifest_corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("manifest")
    return str(folder), generate_manifest_corpus(str(folder))


@pytest.fixture(scope="module")
def emobox(tmp_path_factory):
    folder = tmp_path_factory.mktemp("emobox")
    return str(folder), generate_emobox_corpus(str(folder))


def _touch(path, text=""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)
    return str(path)


def _fake_crema(
    folder, names, demographics='"ActorID","Age","Sex","Race","Ethnicity"\n1001,51,"Male","Asian","Hispanic"\n'
):
    # The reader reads names and the csv only: empty files stand for the wavs.
    for name in names:
        _touch(os.path.join(folder, "AudioWAV", name))
    _touch(os.path.join(folder, "VideoDemographics.csv"), demographics)
    return str(folder)


# CREMA-D


def test_crema_d_reads_every_clip_with_its_labels_gender_from_the_csv_and_sentence(crema):
    root, truth = crema
    assert crema_d.find_root(root) == os.path.abspath(root)
    utterances, dropped = crema_d.collect_utterances(crema_d.find_root(root))
    assert set(utterances) == set(truth) and not dropped
    for utt_id, entry in utterances.items():
        expected = truth[utt_id]
        assert (entry["wav"], entry["emo"], entry["speaker"], entry["level"]) == (
            expected["wav"],
            expected["emo"],
            expected["speaker"],
            expected["level"],
        )
        assert entry["transcript"] == normalize_transcript(crema_d.SENTENCES[expected["sentence"]])
    with open(os.path.join(root, "VideoDemographics.csv")) as table:
        sexes = {line.split(",")[0]: line.split(",")[2].strip('"') for line in table.read().splitlines()[1:]}
    assert all(
        entry["gender"] == {"Male": "M", "Female": "F"}[sexes[entry["speaker"]]] for entry in utterances.values()
    )
    assert {entry["emo"] for entry in utterances.values()} == set(crema_d.EMOTIONS)
    assert {entry["level"] for entry in utterances.values()} == set(crema_d.AUX_LABELS["level"])
    assert len({entry["speaker"] for entry in utterances.values()}) == 10
    assert utterances["1001_IEO_NEU_XX"]["transcript"] == "it's eleven o'clock"


def test_crema_d_files_are_16k_and_levels_differ_in_loudness(crema):
    root, truth = crema
    assert {soundfile.info(entry["wav"]).samplerate for entry in truth.values()} == {16000}
    loudness = {level: [] for level in ("LO", "HI")}
    for entry in truth.values():
        if entry["level"] in loudness:
            samples, _ = soundfile.read(entry["wav"])
            loudness[entry["level"]].append(np.sqrt(np.mean(samples**2)))
    assert np.mean(loudness["LO"]) < 0.6 * np.mean(loudness["HI"])
    # Emotion by prosody: angry clips are louder than sad ones at the same (unspecified) level.
    by_emotion = {"ang": [], "sad": []}
    for entry in truth.values():
        if entry["level"] == "XX" and entry["emo"] in by_emotion:
            samples, _ = soundfile.read(entry["wav"])
            by_emotion[entry["emo"]].append(np.sqrt(np.mean(samples**2)))
    assert np.mean(by_emotion["sad"]) < 0.5 * np.mean(by_emotion["ang"])


def test_crema_d_root_is_found_from_its_parent_and_a_wrong_folder_says_what_was_expected(crema, tmp_path):
    root, _ = crema
    assert crema_d.find_root(os.path.dirname(root)) == os.path.abspath(root)
    with pytest.raises(CorpusError, match="holds no AudioWAV/ folder: pass the CREMA-D folder"):
        crema_d.find_root(str(tmp_path))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("1001_IEO_JOY_HI.wav", "unknown emotion code 'JOY'"),
        ("1001_XYZ_ANG_XX.wav", "unknown sentence code 'XYZ'"),
        ("1001_IEO_ANG.wav", "does not follow CREMA-D's"),
        ("1002_IEO_ANG_HI.wav", "actor 1002 is missing from .*VideoDemographics.csv"),
    ],
)
def test_crema_d_bad_file_is_an_error_naming_it(tmp_path, name, message):
    root = _fake_crema(tmp_path, ["1001_TIE_SAD_XX.wav", name])
    with pytest.raises(CorpusError, match=message) as error:
        crema_d.collect_utterances(root)
    assert name in str(error.value)


def test_crema_d_reads_the_known_misnamed_file_and_rejects_a_bad_demographics_row(tmp_path):
    utterances, _ = crema_d.collect_utterances(_fake_crema(tmp_path / "b", ["1040_ITH_SAD_X.wav"], _demographics(1040)))
    assert utterances["1040_ITH_SAD_X"]["level"] == "XX"
    bad = '"ActorID","Age","Sex"\n1001,51,"Other"\n'
    with pytest.raises(CorpusError, match=r"VideoDemographics.csv, line 2: Sex 'Other'"):
        crema_d.collect_utterances(_fake_crema(tmp_path / "c", ["1001_TIE_SAD_XX.wav"], bad))


def _demographics(actor):
    return f'"ActorID","Age","Sex","Race","Ethnicity"\n{actor},42,"Male","Caucasian","Not Hispanic"\n'


# RAVDESS


def test_ravdess_reads_every_speech_file_with_odd_actors_male_and_48k_audio(ravdess_release):
    root, truth = ravdess_release
    utterances, dropped = ravdess.collect_utterances(ravdess.find_root(root))
    assert set(utterances) == set(truth) and not dropped
    for utt_id, entry in utterances.items():
        assert entry == {key: value for key, value in truth[utt_id].items() if key != "duration"} | {
            "transcript": normalize_transcript(ravdess.STATEMENTS[entry["statement"]])
        }
        assert entry["gender"] == ("M" if int(entry["speaker"][-2:]) % 2 else "F")
    assert {entry["emo"] for entry in utterances.values()} == set(ravdess.EMOTIONS)
    assert {entry["intensity"] for entry in utterances.values()} == set(ravdess.AUX_LABELS["intensity"])
    assert {entry["statement"] for entry in utterances.values()} == {"01", "02"}
    assert all(entry["intensity"] == "normal" for entry in utterances.values() if entry["emo"] == "neu")
    info = {(soundfile.info(e["wav"]).samplerate, soundfile.info(e["wav"]).subtype) for e in utterances.values()}
    assert info == {(48000, "PCM_16")}


def test_ravdess_root_is_found_from_its_parent(ravdess_release, tmp_path):
    root, _ = ravdess_release
    assert ravdess.find_root(os.path.dirname(root)) == os.path.abspath(root)
    with pytest.raises(CorpusError, match="holds no Actor_NN folder"):
        ravdess.find_root(str(tmp_path))


def test_ravdess_song_and_video_files_are_left_out_and_counted(tmp_path):
    for name in ("03-01-05-02-01-01-03.wav", "03-02-05-02-01-01-03.wav", "01-01-05-02-01-01-03.mp4", "._x.wav"):
        _touch(tmp_path / "Actor_03" / name)
    utterances, dropped = ravdess.collect_utterances(str(tmp_path))
    assert list(utterances) == ["03-01-05-02-01-01-03"]
    assert dropped == {"song": 1, "full-AV": 1}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("03-01-05-02-01-01-04.wav", "the name says actor 04 but the file is in Actor_03"),
        ("03-01-09-01-01-01-03.wav", "unknown emotion code '09'"),
        ("03-01-01-02-01-01-03.wav", "neutral has only normal intensity"),
        ("03-01-05-02-01.wav", "does not follow RAVDESS's"),
    ],
)
def test_ravdess_bad_file_is_an_error_naming_it(tmp_path, name, message):
    _touch(tmp_path / "Actor_03" / name)
    with pytest.raises(CorpusError, match=message) as error:
        ravdess.collect_utterances(str(tmp_path))
    assert name in str(error.value)


# Manifests


def test_csv_and_jsonl_manifests_give_the_same_corpus_with_numeric_and_categorical_columns(manifest_corpus):
    folder, truth = manifest_corpus
    from_csv = manifest.read_manifest(os.path.join(folder, "manifest.csv"))
    from_jsonl = manifest.read_manifest(os.path.join(folder, "manifest.jsonl"))
    assert from_csv.utterances == from_jsonl.utterances
    assert set(from_csv.utterances) == set(truth)
    assert from_csv.emotions == ("ang", "hap", "neu", "sad")
    assert from_csv.aux_labels == {"gender": ("F", "M"), "style": ("impro", "script")}
    assert from_csv.numeric_columns == ("arousal",)
    assert from_csv.fold_column == "fold" and set(from_csv.folds.values()) == {"1", "2", "3", "4", "5"}
    assert from_csv.has_transcripts
    for utt_id, entry in from_csv.utterances.items():
        expected = truth[utt_id]
        assert entry["wav"] == expected["wav"] and os.path.isfile(entry["wav"])
        assert (entry["emo"], entry["speaker"], entry["gender"], entry["style"]) == (
            expected["emotion"],
            expected["speaker"],
            expected["gender"],
            expected["style"],
        )
        assert entry["arousal"] == pytest.approx(expected["arousal"])
        assert entry["transcript"] == expected["transcript"]
    assert {soundfile.info(entry["wav"]).samplerate for entry in truth.values()} == {16000, 22050}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("wav,emotion,spk\na.wav,sad,s1\n", r"no column speaker \(its header is wav,emotion,spk\)"),
        ("wav,emotion,speaker\na.wav,sad,s1\nb.wav,,s1\n", r"line 3: the emotion cell is empty"),
        ("id,wav,emotion,speaker\nx,a.wav,sad,s1\nx,b.wav,hap,s2\n", r"line 3: id 'x' is already the id of .*line 2"),
        ("wav,emotion,speaker,split\na.wav,sad,s1,dev\n", r"line 2: split 'dev' is not one of train, valid, test"),
        ("wav,emotion,speaker,gender\na.wav,sad,s1,x\n", r"line 2: gender 'x' is neither F nor M"),
        ("wav,emotion,speaker,fold,split\na.wav,sad,s1,1,test\n", "both a fold and a split column"),
    ],
)
def test_bad_csv_manifest_is_an_error_naming_the_file_and_row(tmp_path, text, message):
    path = _touch(tmp_path / "bad.csv", text)
    with pytest.raises(CorpusError, match=message) as error:
        manifest.read_manifest(path)
    assert path in str(error.value)


def test_bad_json_line_and_emotion_outside_label_map_name_the_row(tmp_path):
    path = _touch(tmp_path / "a" / "bad.jsonl", '{"wav": "a.wav", "emotion": "sad", "speaker": "s1"}\n{"wav": oops}\n')
    with pytest.raises(CorpusError, match=r"bad.jsonl, line 2: not a JSON object"):
        manifest.read_manifest(path)
    path = _touch(tmp_path / "b" / "m.jsonl", '{"wav": "a.wav", "emotion": "sad", "speaker": "s1"}\n')
    _touch(tmp_path / "b" / "label_map.json", json.dumps({"hap": "Happy"}))
    with pytest.raises(CorpusError, match=r"m.jsonl, line 1: emotion 'sad' is not in label_map.json"):
        manifest.read_manifest(path)
    with pytest.raises(CorpusError, match="a manifest is a .csv, .jsonl or .json file"):
        manifest.read_manifest(_touch(tmp_path / "m.txt", "x"))


def test_manifest_wavs_resolve_against_its_folder_and_ids_default_to_the_stem(tmp_path):
    text = f"wav,emotion,speaker,session\nsub/a.wav,sad,s1,1\n{tmp_path}/abs/b.wav,hap,s2,2\n"
    corpus = manifest.read_manifest(_touch(tmp_path / "m" / "list.csv", text))
    assert corpus.utterances["a"]["wav"] == str(tmp_path / "m" / "sub" / "a.wav")
    assert corpus.utterances["b"]["wav"] == str(tmp_path / "abs" / "b.wav")
    # Whole numbers stay a categorical label (a session), not a regression target.
    assert corpus.aux_labels == {"session": ("1", "2")} and corpus.numeric_columns == ()
    assert corpus.folds is None and corpus.fold_column is None and not corpus.has_transcripts


def test_emobox_folder_is_read_as_it_is_with_folds_speakers_and_label_map(emobox):
    folder, truth = emobox
    corpus = manifest.read_manifest(os.path.join(folder, "data", EMOBOX_DATASET))
    assert set(corpus.utterances) == set(truth)
    assert corpus.emotions == ("Neutral", "Happy", "Angry", "Sad")
    assert corpus.fold_column == "fold"
    for key, entry in corpus.utterances.items():
        assert entry["wav"] == truth[key]["wav"] and os.path.isfile(entry["wav"])
        assert entry["emo"] == EMOBOX_LABEL_MAP[truth[key]["emo"]]
        assert entry["speaker"] == truth[key]["speaker"]
        assert corpus.folds[key] == truth[key]["fold"]
        assert "sample_rate" not in entry and "dataset" not in entry
    one_fold = manifest.read_manifest(os.path.join(folder, "data", EMOBOX_DATASET, "fold_2"))
    assert one_fold.fold_column == "split"
    assert {key for key, split in one_fold.folds.items() if split == "test"} == {
        key for key, entry in truth.items() if entry["fold"] == "2"
    }


def test_emobox_rows_as_emobox_writes_them_are_read(tmp_path):
    dataset = tmp_path / "EmoBox" / "data" / "cremad"
    _touch(dataset / "cremad.jsonl", EMOBOX_CREMAD_ROW)
    _touch(dataset / "data.seg.wrd.stm", EMOBOX_CREMAD_STM)
    _touch(dataset / "label_map.json", json.dumps(EMOBOX_CREMAD_LABEL_MAP, indent=4))
    _touch(dataset / "fold_1" / "cremad_test_fold_1.jsonl", EMOBOX_CREMAD_ROW)
    _touch(dataset / "fold_1" / "cremad_train_fold_1.jsonl", "")
    corpus = manifest.read_manifest(str(dataset))
    assert corpus.utterances == {
        "cremad-1074-IWL-ANG-XX": {
            "wav": str(tmp_path / "EmoBox" / "downloads" / "cremad" / "AudioWAV" / "1074_IWL_ANG_XX.wav"),
            "emo": "Angry",
            "speaker": "1074",
            "transcript": None,
        }
    }
    assert corpus.emotions == ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad")
    # A dataset with one fold (CREMA-D in EmoBox) is a train/test split.
    assert corpus.fold_column == "split" and corpus.folds == {"cremad-1074-IWL-ANG-XX": "test"}
    shutil.rmtree(dataset / "fold_1")
    os.remove(dataset / "data.seg.wrd.stm")
    with pytest.raises(CorpusError, match="EmoBox rows have no speaker and no data.seg.wrd.stm"):
        manifest.read_manifest(str(dataset / "cremad.jsonl"))


# Generators


def test_generators_are_deterministic_per_seed(tmp_path):
    def digest(folder):
        files = sorted(os.path.join(d, f) for d, _, names in os.walk(folder) for f in names)
        return {os.path.relpath(f, folder): open(f, "rb").read() for f in files}

    for generate, sizes in (
        (generate_crema_d, {"actors": 2, "clips_per_actor": 3}),
        (generate_ravdess, {"actors": 2}),
        (generate_manifest_corpus, {"speakers": 2, "clips_per_speaker": 2}),
        (generate_emobox_corpus, {"speakers": 2, "clips_per_speaker": 2}),
    ):
        name = generate.__name__
        generate(str(tmp_path / name / "a"), seed=3, **sizes)
        generate(str(tmp_path / name / "b"), seed=3, **sizes)
        generate(str(tmp_path / name / "c"), seed=4, **sizes)
        assert digest(tmp_path / name / "a") == digest(tmp_path / name / "b"), name
        assert digest(tmp_path / name / "a") != digest(tmp_path / name / "c"), name
        with pytest.raises(FileExistsError):
            generate(str(tmp_path / name / "a"), seed=3, **sizes)
