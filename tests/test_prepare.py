"""iemocap_prepare.py on the generated corpus: what it keeps, how it splits, and how it refuses bad input."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from corpora.iemocap import parse_utterance_id
from iemocap_prepare import IEMOCAPError, prepare_iemocap

FIELDS = {
    "wav",
    "duration",
    "emo",
    "gender",
    "style",
    "transcript",
    "session",
    "speaker",
    "arousal",
    "valence",
    "dominance",
}
MERGED = {"neu": "neu", "hap": "hap", "exc": "hap", "ang": "ang", "sad": "sad"}


def load_splits(folder):
    return {split: json.load(open(os.path.join(folder, f"{split}.json"))) for split in ("train", "valid", "test")}


@pytest.fixture(scope="module")
def fold2(generated_corpus, tmp_path_factory):
    """Manifests of fold 2 (test session 2) prepared from the corpus's parent folder."""
    folder = str(tmp_path_factory.mktemp("fold2"))
    summary = prepare_iemocap(generated_corpus[0], folder, test_session=2, valid_ratio=0.2, seed=3)
    return folder, summary, load_splits(folder)


def test_manifests_have_the_interface_fields(fold2):
    _, _, splits = fold2
    for split in splits.values():
        for entry in split.values():
            assert set(entry) == FIELDS
            assert entry["emo"] in {"neu", "hap", "ang", "sad"}
            assert entry["gender"] in {"F", "M"} and entry["style"] in {"impro", "script"}
            assert os.path.isfile(entry["wav"])


def test_labels_are_mapped_exc_merged_and_others_dropped(generated_corpus, fold2):
    truth = generated_corpus[2]
    _, summary, splits = fold2
    kept = {utt: entry for split in splits.values() for utt, entry in split.items()}
    expected = {utt: MERGED[t["label"]] for utt, t in truth.items() if t["label"] in MERGED}
    assert {utt: e["emo"] for utt, e in kept.items()} == expected
    assert any(truth[utt]["label"] == "exc" for utt in kept)
    dropped = {}
    for t in truth.values():
        if t["label"] not in MERGED:
            dropped[t["label"]] = dropped.get(t["label"], 0) + 1
    assert summary["dropped_labels"] == dict(sorted(dropped.items()))


def test_gender_is_the_speaker_not_the_dialog_actor(generated_corpus, fold2):
    truth = generated_corpus[2]
    _, _, splits = fold2
    kept = {utt: entry for split in splits.values() for utt, entry in split.items()}
    actor_differs = [utt for utt in kept if utt[5] != kept[utt]["gender"]]
    assert actor_differs, "the corpus must have turns spoken by the actor not named in the dialog id"
    for utt, entry in kept.items():
        assert entry["gender"] == truth[utt]["gender"]
        assert entry["style"] == truth[utt]["style"]
        assert entry["speaker"] == f"Ses{truth[utt]['session']:02d}{truth[utt]['gender']}"


def test_transcripts_are_normalised_to_the_spoken_words(generated_corpus, fold2):
    truth = generated_corpus[2]
    _, _, splits = fold2
    kept = {utt: entry for split in splits.values() for utt, entry in split.items()}
    assert any("[" in truth[utt]["transcript"] for utt in kept), "tags must be exercised"
    for utt, entry in kept.items():
        assert entry["transcript"] == truth[utt]["words"]


def test_leave_one_session_out_split(fold2):
    _, summary, splits = fold2
    assert {e["session"] for e in splits["test"].values()} == {2}
    assert all(e["session"] != 2 for s in ("train", "valid") for e in splits[s].values())
    assert not set(splits["train"]) & set(splits["valid"])
    total = sum(len(s) for s in splits.values())
    assert total == summary["total"]["utterances"]
    for split, stats in summary["splits"].items():
        assert stats["utterances"] == len(splits[split])


def test_validation_is_stratified_by_emotion_and_seeded(generated_corpus, fold2, tmp_path):
    _, _, splits = fold2
    for emo in ("neu", "hap", "ang", "sad"):
        n_train = sum(e["emo"] == emo for e in splits["train"].values())
        n_valid = sum(e["emo"] == emo for e in splits["valid"].values())
        assert n_valid == round((n_train + n_valid) * 0.2)
    prepare_iemocap(generated_corpus[0], str(tmp_path), test_session=2, valid_ratio=0.2, seed=3)
    assert load_splits(str(tmp_path))["valid"].keys() == splits["valid"].keys()


def test_rerun_with_same_options_skips_and_changed_options_redo(generated_corpus, tmp_path, caplog):
    folder = str(tmp_path)
    prepare_iemocap(generated_corpus[1], folder, test_session=1)
    stamp = os.path.getmtime(os.path.join(folder, "train.json"))
    with caplog.at_level("INFO"):
        prepare_iemocap(generated_corpus[1], folder, test_session=1)
    assert "Skipping IEMOCAP preparation" in caplog.text
    assert os.path.getmtime(os.path.join(folder, "train.json")) == stamp
    caplog.clear()
    with caplog.at_level("INFO"):
        prepare_iemocap(generated_corpus[1], folder, test_session=4)
    assert "options changed (test_fold, test_session)" in caplog.text
    assert {e["session"] for e in load_splits(folder)["test"].values()} == {4}


def test_utterance_ids_are_parsed_by_parts():
    assert parse_utterance_id("Ses03M_impro05a_F012") == {
        "session": 3,
        "dialog": "Ses03M_impro05a",
        "style": "impro",
        "gender": "F",
        "speaker": "Ses03F",
    }
    with pytest.raises(IEMOCAPError, match="does not follow"):
        parse_utterance_id("Ses01F_impro01_MXX0")


def test_missing_data_folder_is_a_clear_error(tmp_path):
    with pytest.raises(IEMOCAPError, match="does not exist"):
        prepare_iemocap(str(tmp_path / "nowhere"), str(tmp_path / "out"), 1)


def test_folder_that_is_not_iemocap_is_a_clear_error(tmp_path):
    (tmp_path / "Session1").mkdir()
    with pytest.raises(IEMOCAPError, match="is not IEMOCAP_full_release nor its parent"):
        prepare_iemocap(str(tmp_path), str(tmp_path / "out"), 1)


@pytest.mark.parametrize("session", [0, 6, "x", 2.5, True])
def test_test_session_outside_1_to_5_is_a_clear_error(generated_corpus, tmp_path, session):
    with pytest.raises(IEMOCAPError, match="test_session must be one of 1, 2, 3, 4, 5"):
        prepare_iemocap(generated_corpus[1], str(tmp_path), session)


def _first_kept_wav(generated_corpus, copy):
    """An utterance of session 3 in the 4 classes and the path of its wav in the copy of the corpus."""
    _, release, truth = generated_corpus
    utt = sorted(u for u, t in truth.items() if t["label"] in MERGED and t["session"] == 3)[0]
    return utt, os.path.join(copy, os.path.relpath(truth[utt]["wav"], release))


@pytest.mark.parametrize(
    "damage, reason",
    [
        ("delete", "missing wav"),
        ("garbage", "unreadable wav"),
        ("empty", "empty wav"),
        ("stereo", "not mono"),
        ("rate", "wrong sample rate"),
        ("short", "too short"),
    ],
)
def test_bad_wav_is_reported_by_name_and_can_be_skipped(generated_corpus, corpus_copy, tmp_path, damage, reason):
    utt, wav = _first_kept_wav(generated_corpus, corpus_copy)
    if damage == "delete":
        os.remove(wav)
    elif damage == "garbage":
        open(wav, "wb").write(b"RIFF-not-a-wave-file")
    elif damage == "empty":
        soundfile.write(wav, np.zeros(0), 16000, subtype="PCM_16")
    elif damage == "stereo":
        soundfile.write(wav, np.zeros((16000, 2)), 16000, subtype="PCM_16")
    elif damage == "rate":
        soundfile.write(wav, np.zeros(8000), 8000, subtype="PCM_16")
    else:
        soundfile.write(wav, np.zeros(400), 16000, subtype="PCM_16")
    with pytest.raises(IEMOCAPError) as error:
        prepare_iemocap(corpus_copy, str(tmp_path / "strict"), 1)
    message = str(error.value)
    assert "1 of " in message and utt in message and reason in message and "prepare with skip_bad_wavs=True" in message
    assert not os.path.exists(tmp_path / "strict" / "train.json"), "nothing is written on error"

    summary = prepare_iemocap(corpus_copy, str(tmp_path / "lenient"), 1, skip_bad_wavs=True)
    assert list(summary["skipped"]) == [utt] and reason in summary["skipped"][utt]
    kept = {u for s in load_splits(str(tmp_path / "lenient")).values() for u in s}
    assert utt not in kept


def test_unreadable_annotation_file_is_a_clear_error(corpus_copy, tmp_path):
    emo_dir = os.path.join(corpus_copy, "Session2", "dialog", "EmoEvaluation")
    name = sorted(n for n in os.listdir(emo_dir) if n.endswith(".txt") and not n.startswith("."))[0]
    open(os.path.join(emo_dir, name), "wb").write(b"\xff\xfe\x00bad")
    with pytest.raises(IEMOCAPError, match=f"Cannot read .*{name}"):
        prepare_iemocap(corpus_copy, str(tmp_path / "out"), 1)


def test_command_line_writes_manifests_and_reports_errors(generated_corpus, tmp_path):
    out = tmp_path / "manifests"
    command = [sys.executable, "iemocap_prepare.py", "--data_folder", generated_corpus[0], "--save_folder", str(out)]
    done = subprocess.run(command + ["--test_session", "2"], capture_output=True, text=True, check=True)
    assert sorted(os.listdir(out)) == ["prepare_options.json", "test.json", "train.json", "valid.json"]
    n_test = len(json.load(open(out / "test.json")))
    assert f"test      {n_test}" in done.stderr + done.stdout
    failed = subprocess.run(command + ["--test_session", "7"], capture_output=True, text=True)
    assert failed.returncode == 2 and "error: test_session must be one of" in failed.stderr
    assert "Traceback" not in failed.stderr


# ---- One spelling of --skip_bad_wavs, one seed, for preparation alone and inside training ---------------------


def test_skip_bad_wavs_is_spelled_skip_bad_wavs_true_on_the_command_line_and_the_error_says_so(
    generated_corpus, corpus_copy, tmp_path, capsys
):
    from iemocap_prepare import main

    utt, wav = _first_kept_wav(generated_corpus, corpus_copy)
    os.remove(wav)
    argv = ["--data_folder", corpus_copy, "--save_folder", str(tmp_path / "out"), "--test_session", "1"]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith("iemocap_prepare.py: error: 1 of") and utt in error and "Traceback" not in error
    # the exact command that leaves the file out, for the script that printed it
    assert f"python iemocap_prepare.py {' '.join(argv)} --skip_bad_wavs True" in error
    assert main([*argv, "--skip_bad_wavs", "True"]) == 0
    assert utt not in {u for s in load_splits(str(tmp_path / "out")).values() for u in s}
    with pytest.raises(SystemExit):  # a value is needed, as in the train scripts' overrides
        main([*argv, "--skip_bad_wavs"])


@pytest.mark.parametrize("value", [None, "True", 1])
def test_skip_bad_wavs_without_a_boolean_value_is_a_clear_error(generated_corpus, tmp_path, value):
    # A bare --skip_bad_wavs in a train script's overrides reaches preparation as None (yaml null).
    with pytest.raises(IEMOCAPError, match="skip_bad_wavs must be True or False.*--skip_bad_wavs True"):
        prepare_iemocap(generated_corpus[0], str(tmp_path), 2, skip_bad_wavs=value)


def test_preparation_alone_writes_the_manifests_training_writes(generated_corpus, tiny_backbone, tmp_path):
    from hyperpyyaml import load_hyperpyyaml

    from corpora.folds import prepare_run_fold
    from iemocap_prepare import main
    from tests.conftest import REPO

    overrides = {
        "data_folder": generated_corpus[0],
        "output_folder": str(tmp_path / "run"),
        "wav2vec2_hub": tiny_backbone,
    }
    with open(REPO / "hparams" / "stage1.yaml", encoding="utf-8") as handle:
        hparams = load_hyperpyyaml(handle, overrides)
    # What train_stage1.py and train_stage2.py call, with the yaml's values.
    prepare_run_fold(hparams)
    alone = str(tmp_path / "alone")
    assert (
        main(
            [
                "--data_folder",
                generated_corpus[0],
                "--save_folder",
                alone,
                "--test_session",
                str(hparams["test_fold"]),
            ]
        )
        == 0
    )
    assert load_splits(alone) == load_splits(hparams["manifest_folder"])


@pytest.mark.parametrize("damaged", ["train.json", "test.json", "prepare_options.json"])
def test_a_damaged_manifest_or_record_is_prepared_again_not_trusted(generated_corpus, tmp_path, caplog, damaged):
    folder = str(tmp_path)
    prepare_iemocap(generated_corpus[1], folder, test_session=1)
    whole = {name: (tmp_path / name).read_text() for name in ("train.json", "valid.json", "test.json")}
    path = tmp_path / damaged
    path.write_text(path.read_text()[: len(path.read_text()) // 2])  # cut short, as by a full disk
    with caplog.at_level("INFO"):
        prepare_iemocap(generated_corpus[1], folder, test_session=1)
    assert f"{path} is damaged" in caplog.text and "preparing again" in caplog.text
    assert "Skipping IEMOCAP preparation" not in caplog.text
    assert {name: (tmp_path / name).read_text() for name in whole} == whole
    # Whole JSON that lost entries is damaged too.
    (tmp_path / "valid.json").write_text("{}")
    caplog.clear()
    with caplog.at_level("INFO"):
        prepare_iemocap(generated_corpus[1], folder, test_session=1)
    assert "valid.json is damaged (0 entries where preparation wrote" in caplog.text
    assert (tmp_path / "valid.json").read_text() == whole["valid.json"]


def test_label_encoders_and_tokenizer_are_written_again_at_every_start(tmp_path):
    from custom_modules.data import build_label_encoders, build_tokenizer

    build_label_encoders(str(tmp_path)), build_tokenizer(str(tmp_path))
    whole = {path.name: path.read_text() for path in tmp_path.iterdir()}
    for path in tmp_path.iterdir():
        path.write_text(path.read_text()[:5])
    build_label_encoders(str(tmp_path)), build_tokenizer(str(tmp_path))
    assert {path.name: path.read_text() for path in tmp_path.iterdir()} == whole
