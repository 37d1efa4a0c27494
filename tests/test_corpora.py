"""The corpus-neutral data layer (``corpora/folds.py``): every corpus's folds, the leakage guard, the bad input it
refuses, and the whole recipe (both stages through ``run_folds.py``, export, ``classify.py``, ``evaluate.py``) on
generated CREMA-D, RAVDESS and manifest corpora.

Speaker independence is checked from the manifests the preparation wrote, not from what it says of them.
"""

import csv
import hashlib
import json
import os
import shlex

import pytest

from corpora import CorpusError
from corpora.folds import fold_numbers, prepare_fold, with_test_fold
from custom_modules.data import read_mono_audio
from synthetic.crema_d import generate_crema_d
from synthetic.manifest_corpus import generate_manifest_corpus
from synthetic.ravdess import generate_ravdess
from tests.conftest import FAST_TRAINING, REPO, run_command, run_recipe

SPLITS = ("train", "valid", "test")
# The auxiliary labels stage 2 trains on each corpus (the paper's gender and style where the corpus has them).
STAGE2_TASKS = {"crema_d": "[gender,level]", "ravdess": "[gender,intensity]", "manifest": "[gender,style]"}
EPOCHS = "2"


@pytest.fixture(scope="session")
def corpora(tmp_path_factory):
    """Generated CREMA-D and RAVDESS (their release layouts) and a manifest corpus, and a copy of the manifest
    without transcripts: corpus -> its options (``data_folder`` or ``manifest``)."""
    root = tmp_path_factory.mktemp("corpora")
    generate_crema_d(str(root / "CREMA-D"))
    generate_ravdess(str(root / "RAVDESS"))
    generate_manifest_corpus(str(root / "mine"))
    with open(root / "mine" / "manifest.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    untranscribed = root / "mine" / "untranscribed.csv"
    with open(untranscribed, "w", encoding="utf-8", newline="") as handle:
        columns = [c for c in rows[0] if c != "transcript"]
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return {
        "crema_d": {"data_folder": str(root / "CREMA-D")},
        "ravdess": {"data_folder": str(root / "RAVDESS")},
        "manifest": {"manifest": str(root / "mine" / "manifest.csv")},
        "untranscribed": {"manifest": str(untranscribed)},
    }


def read_manifests(folder):
    out = {}
    for split in SPLITS:
        with open(os.path.join(folder, f"{split}.json"), encoding="utf-8") as handle:
            out[split] = json.load(handle)
    return out


def speakers(split):
    return {entry["speaker"] for entry in split.values()}


@pytest.mark.parametrize(
    "corpus, protocol",
    [("crema_d", None), ("ravdess", None), ("manifest", None), ("manifest", "speaker_kfold"), ("iemocap", "speakers")],
)
def test_every_fold_is_speaker_independent_and_the_folds_test_each_utterance_once(
    corpus, protocol, corpora, generated_corpus, tmp_path
):
    options = {"data_folder": generated_corpus[0]} if corpus == "iemocap" else dict(corpora[corpus])
    resolved, held_out = fold_numbers(corpus, protocol=protocol, **options)
    assert len(held_out) == (10 if corpus == "iemocap" else 5)
    tested, every = [], set()
    for fold in held_out:
        summary = prepare_fold(corpus, str(tmp_path / str(fold)), fold, protocol=protocol, **options)
        splits = read_manifests(tmp_path / str(fold))
        assert not speakers(splits["test"]) & (speakers(splits["train"]) | speakers(splits["valid"])), fold
        if corpus != "iemocap":  # IEMOCAP validates on its training speakers (the paper's split), never on the test's
            assert not speakers(splits["valid"]) & speakers(splits["train"]), fold
        assert summary["leakage_guard"]["speaker_independent"] is True
        assert {s: summary["splits"][s]["utterances"] for s in SPLITS} == {s: len(splits[s]) for s in SPLITS}
        for split in splits.values():
            assert all({"wav", "duration", "emo", "speaker"} <= set(entry) for entry in split.values())
        tested += list(splits["test"])
        every |= {u for split in splits.values() for u in split}
    assert sorted(tested) == sorted(every), "each utterance is tested in exactly one fold"
    assert resolved == (protocol or {"manifest": "column"}.get(corpus, "speaker_kfold"))


def test_iemocap_session_folds_are_the_ones_prepared_before_the_corpus_layer(generated_corpus, tmp_path):
    # The generated corpus (seed 0), fold 2: the utterance ids of each split, as iemocap_prepare.py wrote them
    # before the corpus-neutral layer existed (its manifests were byte-identical when the layer landed).
    prepare_fold("iemocap", str(tmp_path), 2, data_folder=generated_corpus[0])
    splits = read_manifests(tmp_path)
    digests = {s: hashlib.sha256(" ".join(sorted(splits[s])).encode()).hexdigest()[:12] for s in SPLITS}
    assert {s: len(splits[s]) for s in SPLITS} == {"train": 137, "valid": 16, "test": 40}
    assert digests == {"train": "31d35e88ae06", "valid": "264b78fbacbe", "test": "6a5349bab61b"}


def test_ravdess_48_khz_audio_is_read_at_16_khz(corpora, tmp_path):
    prepare_fold("ravdess", str(tmp_path), 1, **corpora["ravdess"])
    utt_id, entry = next(iter(read_manifests(tmp_path)["test"].items()))
    assert entry["wav"].endswith(".wav") and "Actor_" in entry["wav"]
    assert abs(len(read_mono_audio(utt_id, entry["wav"])) / 16000 - entry["duration"]) < 0.01


def test_a_manifest_that_tests_a_training_speaker_is_refused_unless_allowed(corpora, tmp_path):
    with open(corpora["manifest"]["manifest"], encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:  # one of spk01's utterances is moved to the test split, the rest train
        row["split"] = "train"
        row.pop("fold")
    test_row = next(row for row in rows if row["speaker"] == "spk01")
    test_row["split"] = "test"
    for row in rows:
        if row["speaker"] == "spk02":
            row["split"] = "test"
    path = tmp_path / "leaky.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (tmp_path / "audio").symlink_to(os.path.join(os.path.dirname(corpora["manifest"]["manifest"]), "audio"))
    with pytest.raises(
        CorpusError, match=f"Speaker spk01 is in the test split and in train or valid .*{test_row['id']}"
    ):
        prepare_fold("manifest", str(tmp_path / "out"), 1, manifest=str(path))
    summary = prepare_fold("manifest", str(tmp_path / "out"), 1, manifest=str(path), allow_speaker_overlap=True)
    assert summary["leakage_guard"]["speaker_independent"] is False
    assert summary["leakage_guard"]["test_speakers_in_training"] == ["spk01"]


def test_bad_folds_and_classes_are_named(corpora, tmp_path):
    with pytest.raises(CorpusError, match="--test_fold 6: protocol speaker_kfold has folds 1, 2, 3, 4, 5"):
        prepare_fold("crema_d", str(tmp_path), 6, **corpora["crema_d"])
    with pytest.raises(CorpusError, match="--n_folds 11: speaker_kfold needs between 2 and the corpus's 10"):
        prepare_fold("ravdess", str(tmp_path), 1, n_folds=11, **corpora["ravdess"])
    with pytest.raises(CorpusError, match="--protocol sessions is IEMOCAP's"):
        prepare_fold("crema_d", str(tmp_path), 1, protocol="sessions", **corpora["crema_d"])
    with pytest.raises(CorpusError, match="--corpus manifest reads --manifest PATH"):
        prepare_fold("manifest", str(tmp_path), 1)
    with pytest.raises(CorpusError, match="holds no AudioWAV/ folder: pass the CREMA-D folder"):
        prepare_fold("crema_d", str(tmp_path), 1, data_folder=corpora["ravdess"]["data_folder"])
    # A class that only one speaker speaks has no training utterance in the fold that tests that speaker.
    with open(corpora["manifest"]["manifest"], encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[0]["emotion"] = "fea"
    rows[0]["fold"] = "1"
    path = tmp_path / "rare.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (tmp_path / "audio").symlink_to(os.path.join(os.path.dirname(corpora["manifest"]["manifest"]), "audio"))
    with pytest.raises(CorpusError, match="Class.*fea have no utterance in this fold's training split"):
        prepare_fold("manifest", str(tmp_path / "out"), 1, manifest=str(path))
    assert not (tmp_path / "out").exists(), "nothing half-written"


def test_test_session_is_test_fold():
    assert with_test_fold("test_session: 4\nlr: 1e-5\n") == "lr: 1e-5\ntest_fold: 4\n"
    assert with_test_fold("lr: 1e-5\n") == "lr: 1e-5\n"


def run_folds_on(corpus, options, backbone, output, *extra):
    """run_folds.py's two-stage best system on fold 1 of a corpus, with the corpus's auxiliary labels."""
    where = (
        ["--data_folder", options["data_folder"]] if "data_folder" in options else ["--manifest", options["manifest"]]
    )
    # fmt: off
    return run_recipe(
        os.path.join("recipes", "run_folds.py"),
        "--corpus", "manifest" if corpus == "untranscribed" else corpus, *where,
        "--output_folder", output,
        "--folds", "1",
        "--wav2vec2_hub", backbone,
        "--extra_args", shlex.join([*FAST_TRAINING, "--number_of_epochs", EPOCHS]),
        f"--stage2_args=--aux_tasks={STAGE2_TASKS.get(corpus, STAGE2_TASKS['manifest'])}",
        *extra,
        env={"OMP_NUM_THREADS": "1"},
    )
    # fmt: on


@pytest.fixture(scope="module")
def corpus_runs(corpora, tiny_backbone, tmp_path_factory):
    """Fold 1 of the best system on CREMA-D and RAVDESS, and on the manifest without transcripts (stage 1
    without its CTC task): corpus -> the experiment's folder."""
    runs = {}
    for corpus in ("crema_d", "ravdess", "untranscribed"):
        output = str(tmp_path_factory.mktemp(corpus))
        extra = ["--stage1_args=--aux_tasks=[]"] if corpus == "untranscribed" else []
        run_folds_on(corpus, corpora[corpus], tiny_backbone, output, *extra)
        runs[corpus] = os.path.join(output, "table3_concat_scl_cos")
    return runs


@pytest.mark.parametrize("corpus", ["crema_d", "ravdess", "untranscribed"])
def test_both_stages_train_and_test_on_the_corpus_with_its_labels(corpus, corpus_runs):
    labels = {
        "crema_d": ["neu", "hap", "ang", "sad", "fea", "dis"],
        "ravdess": ["neu", "hap", "ang", "sad", "cal", "fea", "dis", "sur"],
        "untranscribed": ["ang", "hap", "neu", "sad"],
    }[corpus]
    run = os.path.join(corpus_runs[corpus], "seed1986", "fold1")
    for stage in ("stage1", "stage2"):
        with open(os.path.join(run, stage, "test_metrics.json"), encoding="utf-8") as handle:
            metrics = json.load(handle)
        assert metrics["labels"] == labels
        assert len(metrics["confusion_matrix"]) == len(labels)
        assert metrics["corpus"]["protocol"] == ("column" if corpus == "untranscribed" else "speaker_kfold")
        assert metrics["corpus"]["leakage_guard"]["speaker_independent"] is True
        counts = metrics["corpus"]["split_counts"]
        assert set(counts) == set(SPLITS) and all(set(c) == set(labels) for c in counts.values())
        assert sum(counts["test"].values()) == metrics["count"]
        assert ("WER" in metrics) == (stage == "stage1" and corpus != "untranscribed")
    aux = STAGE2_TASKS.get(corpus, STAGE2_TASKS["manifest"]).strip("[]").split(",")
    assert all(f"{task}_UA" in metrics for task in aux)
    with open(os.path.join(corpus_runs[corpus], "summary.md"), encoding="utf-8") as handle:
        summary = handle.read()
    assert "speaker-independent k-fold" in summary or "the manifest's folds" in summary
    assert "Paper (Table" not in summary, "no paper figures beside another corpus's results"


def test_a_row_that_needs_a_label_the_corpus_lacks_stops_before_anything_runs(corpora, tiny_backbone, tmp_path):
    done = run_command(
        os.path.join("recipes", "run_folds.py"),
        "--corpus", "crema_d", "--data_folder", corpora["crema_d"]["data_folder"],
        "--output_folder", str(tmp_path / "out"), "--wav2vec2_hub", tiny_backbone,
    )  # fmt: skip
    assert done.returncode == 2
    assert "table3_concat_scl_cos trains stage2 with style, which CREMA-D does not have" in done.stderr
    assert not (tmp_path / "out").exists()
    done = run_command(
        "train_stage1.py", "hparams/stage1.yaml", "--corpus", "manifest",
        "--manifest", corpora["untranscribed"]["manifest"], "--output_folder", str(tmp_path / "s1"),
    )  # fmt: skip
    assert done.returncode == 2 and "has no transcripts for the CTC task: run without it" in done.stderr


@pytest.fixture(scope="module")
def crema_d_model(corpus_runs, tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("exported") / "crema_d")
    stage2 = os.path.join(corpus_runs["crema_d"], "seed1986", "fold1", "stage2")
    run_recipe("recipes/export.py", "--experiment_folder", stage2, "--output_folder", folder)
    return folder


def test_an_exported_crema_d_model_classifies_with_its_own_labels(crema_d_model, corpora):
    wav = sorted(os.listdir(os.path.join(corpora["crema_d"]["data_folder"], "AudioWAV")))[0]
    done = run_recipe(
        "recipes/classify.py", "--model", crema_d_model, "--json",
        os.path.join(corpora["crema_d"]["data_folder"], "AudioWAV", wav), env={"OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    result = json.loads(done.stdout.splitlines()[-1])
    assert set(result["emotion_probs"]) == {"neu", "hap", "ang", "sad", "fea", "dis"}
    assert set(result["level_probs"]) == {"LO", "MD", "HI", "XX"} and result["gender"] in ("F", "M")
    assert abs(sum(result["emotion_probs"].values()) - 1) < 1e-4
    with open(os.path.join(crema_d_model, "README.md"), encoding="utf-8") as handle:
        card = handle.read()
    assert "CREMA-D" in card


@pytest.mark.parametrize("corpus", ["crema_d", "ravdess"])
def test_an_iemocap_model_is_evaluated_on_another_corpus_over_the_classes_they_share(
    corpus, exported, corpora, tmp_path
):
    options = corpora[corpus]
    done = run_recipe(
        "recipes/evaluate.py", "--model", exported["stage2"], "--corpus", corpus,
        "--data_folder", options["data_folder"], "--output_folder", str(tmp_path), env={"OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    with open(tmp_path / "evaluation.json", encoding="utf-8") as handle:
        report = json.load(handle)
    assert report["labels"] == ["neu", "hap", "ang", "sad"]
    left_out = {"crema_d": {"fea", "dis"}, "ravdess": {"cal", "fea", "dis", "sur"}}[corpus]
    assert set(report["corpus_classes_left_out"]) == left_out
    assert report["count"] == sum(sum(row) for row in report["confusion_matrix"]) == len(report["predictions"])
    assert 0 <= report["UA"] <= 100 and "Confusion matrix" in done.stdout
    assert (tmp_path / "evaluation.md").is_file()


def test_evaluate_with_a_label_map_and_its_errors(exported, corpora, tmp_path):
    done = run_command(
        "recipes/evaluate.py", "--model", exported["stage2"], "--corpus", "crema_d",
        "--data_folder", corpora["crema_d"]["data_folder"], "--output_folder", str(tmp_path),
        "--label_map", "ang=ang,sad=sad,fea=sad",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "evaluation.json", encoding="utf-8") as handle:
        report = json.load(handle)
    assert report["labels"] == ["ang", "sad"] and report["mapping"]["fea"] == "sad"
    done = run_command(
        "recipes/evaluate.py", "--model", exported["stage2"], "--corpus", "crema_d",
        "--data_folder", corpora["crema_d"]["data_folder"], "--output_folder", str(tmp_path),
        "--label_map", "fea=scared",
    )  # fmt: skip
    assert done.returncode == 2 and "maps onto scared, which the model lacks" in done.stderr
    for wrong, message in (
        (["--model", str(tmp_path / "none")], "has no custom_interface.py: export it with recipes/export.py"),
        (["--model", exported["stage2"], "--batch_size", "0"], "--batch_size must be at least 1, got 0"),
    ):
        done = run_command(
            "recipes/evaluate.py", *wrong, "--corpus", "crema_d", "--data_folder", corpora["crema_d"]["data_folder"],
            "--output_folder", str(tmp_path / "out"),
        )  # fmt: skip
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_readme_names_every_corpus_option():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    for option in ("--corpus crema_d", "--corpus ravdess", "--corpus manifest", "--protocol speakers", "--test_fold"):
        assert option in readme, option
