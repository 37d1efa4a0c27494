"""The ASR task on BPE pieces (``--ctc_units bpe``): the tokenizer is learned from the fold's training
transcripts only, once, inside the run; WER is measured on words; the run records its units; the export ships
the tokenizer and the exported model transcribes with it, offline, without this repository. Characters stay the
default (the other tests), and a wrong setting stops the run with its name."""

import json
import os

import pytest
import sentencepiece
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.decoders import ctc_greedy_decode

from custom_modules.ctc_units import BPE_PAD_INDEX, BPE_UNK_INDEX, CTCUnitsError, decode_units, encode_transcript
from custom_modules.data import build_tokenizer, read_mono_audio, train_bpe_tokenizer
from custom_modules.handoff import load_trained_run
from recipes.hub.model_folder import export_model
from tests.conftest import REPO, WITHOUT_THE_RECIPE, run_command, run_recipe, stage1_command

BPE_VOCAB_SIZE = 40
EPOCHS = "2"
TOKENIZER = os.path.join("save", "tokenizer", f"{BPE_VOCAB_SIZE}_bpe.model")
# Not in any cache: a wrong setting must stop the run before the yaml builds the backbone.
UNREACHABLE_BACKBONE = "no-such-user/no-such-backbone"

# Loads an exported folder in a fresh interpreter where the recipe's packages cannot be imported, offline.
TRANSCRIBE_SCRIPT = (
    WITHOUT_THE_RECIPE
    + r"""
import json

from speechbrain.inference.interfaces import foreign_class

folder, files, report = sys.argv[1], sys.argv[2:-1], sys.argv[-1]
model = foreign_class(source=folder, pymodule_file="custom_interface.py", classname="EmotionRecognizer")
with open(report, "w", encoding="utf-8") as handle:
    json.dump({"tokenizer": type(model.hparams.tokenizer).__name__, "predictions": model.predict_files(files)}, handle)
"""
)


def bpe_command(corpus_parent, backbone, output_folder):
    return stage1_command(
        corpus_parent, backbone, output_folder, "--ctc_units", "bpe", "--bpe_vocab_size", str(BPE_VOCAB_SIZE),
        epochs=EPOCHS,
    )  # fmt: skip


def load_json(*parts):
    with open(os.path.join(*parts), encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def bpe_run(generated_corpus, tiny_backbone, tmp_path_factory):
    """A finished stage-1 run (SER + CTC on BPE pieces) on fold 2 of the generated corpus."""
    output = str(tmp_path_factory.mktemp("runs") / "stage1_bpe")
    run_recipe(*bpe_command(generated_corpus[0], tiny_backbone, output), env={"OMP_NUM_THREADS": "1"})
    return output


def test_bpe_tokenizer_is_learned_from_the_training_transcripts_only_and_the_run_records_its_units(bpe_run):
    tokenizer = sentencepiece.SentencePieceProcessor(model_file=os.path.join(bpe_run, TOKENIZER))
    assert tokenizer.vocab_size() == BPE_VOCAB_SIZE
    assert (tokenizer.pad_id(), tokenizer.unk_id()) == (BPE_PAD_INDEX, BPE_UNK_INDEX) == (0, 1)
    train = load_json(bpe_run, "manifests", "train.json")
    with open(os.path.join(bpe_run, "save", "tokenizer", "train.txt"), encoding="utf-8") as handle:
        learned_from = handle.read().splitlines()
    assert learned_from == [entry["transcript"] for entry in train.values()], "the training transcripts, nothing else"

    config = load_json(bpe_run, "model_config.json")
    assert config["ctc"] == {"units": "bpe", "vocab_size": BPE_VOCAB_SIZE, "tokenizer": "tokenizer/40_bpe.model"}
    assert config["heads"]["ctc_vocab_size"] == BPE_VOCAB_SIZE
    metrics = load_json(bpe_run, "test_metrics.json")
    assert metrics["WER"] >= 0 and metrics["left_out_utterances"]["test"] == 0
    predictions = load_json(bpe_run, "test_predictions.json")
    assert all(isinstance(p["hypothesis"], str) for p in predictions)
    assert not os.path.exists(os.path.join(bpe_run, "save", "tokenizer.txt")), "no character tokenizer besides"


def test_bpe_tokenizer_round_trips_every_transcript_and_never_emits_the_blank(bpe_run, tmp_path):
    tokenizer = sentencepiece.SentencePieceProcessor(model_file=os.path.join(bpe_run, TOKENIZER))
    chars = build_tokenizer(str(tmp_path))
    for split in ("train", "valid", "test"):
        for entry in load_json(bpe_run, "manifests", f"{split}.json").values():
            ids = encode_transcript(tokenizer, entry["transcript"])
            assert BPE_PAD_INDEX not in ids and decode_units(tokenizer, ids) == entry["transcript"]
            assert decode_units(chars, encode_transcript(chars, entry["transcript"])) == entry["transcript"]
    # A character the training transcripts lack is the unknown piece, a unit: never the blank.
    ids = encode_transcript(tokenizer, "you ç")
    assert BPE_UNK_INDEX in ids and BPE_PAD_INDEX not in ids


def test_running_the_command_again_reuses_the_tokenizer(bpe_run, generated_corpus, tiny_backbone):
    model_file = os.path.join(bpe_run, TOKENIZER)
    before = os.stat(model_file).st_mtime_ns
    done = run_recipe(*bpe_command(generated_corpus[0], tiny_backbone, bpe_run), env={"OMP_NUM_THREADS": "1"})
    assert os.stat(model_file).st_mtime_ns == before
    assert "Tokenizer is already trained" in done.stdout + done.stderr
    assert load_json(bpe_run, "model_config.json")["ctc"]["units"] == "bpe"


def test_exported_bpe_model_transcribes_offline_as_the_training_time_model(bpe_run, tmp_path):
    exported = export_model(bpe_run, str(tmp_path / "exported"))
    with open(os.path.join(bpe_run, TOKENIZER), "rb") as trained, open(f"{exported}/tokenizer.ckpt", "rb") as shipped:
        assert shipped.read() == trained.read()
    files = sorted(entry["wav"] for entry in load_json(bpe_run, "manifests", "test.json").values())[:3]

    (tmp_path / "transcribe.py").write_text(TRANSCRIBE_SCRIPT, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    report = tmp_path / "report.json"
    done = run_command(tmp_path / "transcribe.py", exported, *files, report, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(report.read_text(encoding="utf-8"))
    assert report["tokenizer"] == "SentencePieceProcessor"

    # The training-time model and tokenizer, one file at a time.
    encoder, heads, _ = load_trained_run(bpe_run)
    tokenizer = sentencepiece.SentencePieceProcessor(model_file=os.path.join(bpe_run, TOKENIZER))
    for path, prediction in zip(files, report["predictions"]):
        with torch.no_grad():
            outputs = heads(*encoder(read_mono_audio(path, path).unsqueeze(0), torch.ones(1)))
        hypothesis = ctc_greedy_decode(outputs["asr"], torch.ones(1), blank_id=BPE_PAD_INDEX)[0]
        assert prediction["file"] == path and isinstance(prediction["transcript"], str)
        assert prediction["transcript"].split() == decode_units(tokenizer, hypothesis).split()


def test_wrong_ctc_setting_stops_the_run_before_the_backbone_is_built(generated_corpus, tmp_path):
    output = tmp_path / "run"
    offline = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = stage1_command(generated_corpus[0], UNREACHABLE_BACKBONE, str(output), "--ctc_units", "foo")
    done = run_command(*command, env=offline)
    assert (
        done.returncode == 2
        and "train_stage1.py: error: --ctc_units foo: what the ASR head predicts must be one of char, bpe."
        in done.stderr
    )
    assert "Traceback" not in done.stderr and "OSError" not in done.stderr
    assert not output.exists(), "stopped before the run folder is made"
    # Stage 2's yaml too: the size is checked before stage 1's backbone is looked for.
    overrides = {"data_folder": generated_corpus[0], "stage1_folder": str(tmp_path / "no_stage1")}
    overrides.update(output_folder=str(output), ctc_units="bpe", bpe_vocab_size=2)
    with open(os.path.join(REPO, "hparams", "stage2.yaml"), encoding="utf-8") as handle:
        with pytest.raises(CTCUnitsError, match="--bpe_vocab_size 2 is not a vocabulary size"):
            load_hyperpyyaml(handle, overrides)


def test_vocabulary_the_transcripts_cannot_fill_is_refused_with_the_option_named(bpe_run, tmp_path):
    with pytest.raises(ValueError, match=r"--bpe_vocab_size 5000 does not fit .*Vocabulary size too high"):
        train_bpe_tokenizer(str(tmp_path / "save"), os.path.join(bpe_run, "manifests"), 5000)
    with pytest.raises(ValueError, match=r"--bpe_vocab_size 5 does not fit .*smaller than required_chars. 5 vs"):
        train_bpe_tokenizer(str(tmp_path / "save"), os.path.join(bpe_run, "manifests"), 5)
    assert not os.path.exists(tmp_path / "save" / "tokenizer" / "5000_bpe.model"), "nothing half-trained is kept"
