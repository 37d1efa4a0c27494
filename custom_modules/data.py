"""Data pipeline shared by both stages: manifests -> DynamicItemDatasets, label encoders, CTC tokenizer
(characters, or SentencePiece pieces learned from the fold's training transcripts: ``ctc_units``).

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import contextlib
import json
import os
import sys

import numpy as np
import ruamel.yaml
import speechbrain as sb
import torch
import torchaudio
from hyperpyyaml.core import resolve_references
from speechbrain.dataio import audio_io
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.dataio.encoder import CategoricalEncoder, CTCTextEncoder
from speechbrain.dataio.sampler import DynamicBatchSampler
from speechbrain.tokenizers.SentencePiece import SentencePiece
from speechbrain.utils.distributed import if_main_process, run_on_main
from speechbrain.utils.logger import get_logger

from corpora.folds import fold_dimensions, fold_labels
from custom_modules.audio_checks import AudioChecks
from custom_modules.constants import (
    BLANK_INDEX,
    CHARACTERS,
    CTC_VOCAB_SIZE,
    PREPARATION_RECORD,
    SAMPLE_RATE,
    SPLITS,
    TASK_LABELS,
)
from custom_modules.ctc_units import (
    BPE_MODEL_TYPE,
    BPE_PAD_INDEX,
    BPE_UNK_INDEX,
    CTCUnitsError,
    ctc_vocab_size,
    encode_transcript,
    tokenizer_file,
)
from custom_modules.errors import RecipeInputError, command_with_skip_bad_wavs

logger = get_logger(__name__)


class UnusableDataError(RecipeInputError, ValueError):
    """Utterances that training cannot use where none may be left out; the message lists them and the fix."""


def unbuilt_hparams(hparams_file, overrides=None):
    """A run's hyperparameters (the yaml with the command line's overrides, references resolved) without building
    anything: ``!new:`` and ``!apply:`` entries stay unbuilt yaml nodes.

    A train script reads its corpus settings through it before ``load_hyperpyyaml`` builds the backbone, so that
    a wrong ``--data_folder`` stops the run before anything is downloaded or loaded.

    Arguments
    ---------
    hparams_file : str
    overrides : str or dict, optional
        As ``sb.parse_arguments`` returns them.

    Returns
    -------
    dict-like

    Example
    -------
    >>> hparams = unbuilt_hparams("hparams/stage1.yaml", {"data_folder": "/data/IEMOCAP", "test_session": 3})
    >>> hparams["data_folder"], hparams["test_session"], hparams["wav2vec2"].tag.value
    ('/data/IEMOCAP', 3, '!new:speechbrain.integrations.huggingface.Wav2Vec2')
    """
    with open(hparams_file, encoding="utf-8") as handle:
        resolved = resolve_references(handle, overrides)
    # The round-trip loader keeps unknown tags as tagged nodes instead of calling them.
    return ruamel.yaml.YAML(typ="rt").load(resolved)


def build_label_encoders(save_folder, task_labels=None):
    """One ``CategoricalEncoder`` per utterance task, with the label order the fold's data gives
    (``corpora.folds.fold_labels``: IEMOCAP's ``TASK_LABELS``, a corpus's own, a manifest's).

    The order is fixed by the corpus (not by which labels a split happens to hold first), so class indices are the
    same in every fold and run of a corpus.

    Arguments
    ---------
    save_folder : str
        Where ``label_encoder_<task>.txt`` files are written (inference reads them back).
    task_labels : dict, optional
        Task -> labels in the model's order (default: IEMOCAP's ``TASK_LABELS``).

    Returns
    -------
    dict
        Task -> encoder.

    Example
    -------
    >>> encoders = build_label_encoders(str(getfixture("tmp_path")), {"emo": ["neu", "ang", "fea"]})
    >>> encoders["emo"].encode_label("fea"), len(encoders["emo"])
    (2, 3)
    """
    encoders = {}
    for task, labels in (TASK_LABELS if task_labels is None else task_labels).items():
        encoder = CategoricalEncoder()
        encoder.update_from_iterable(labels)
        encoder.expect_len(len(labels))
        encoders[task] = encoder
        _save_on_main(encoder, os.path.join(save_folder, f"label_encoder_{task}.txt"))
    return encoders


def build_tokenizer(save_folder):
    """The character CTC tokenizer (blank at ``BLANK_INDEX``, then ``CHARACTERS``), saved as ``tokenizer.txt``.

    Arguments
    ---------
    save_folder : str

    Returns
    -------
    speechbrain.dataio.encoder.CTCTextEncoder
    """
    tokenizer = CTCTextEncoder()
    tokenizer.insert_blank(index=BLANK_INDEX)
    tokenizer.update_from_iterable(list(CHARACTERS), sequence_input=False)
    tokenizer.expect_len(CTC_VOCAB_SIZE)
    _save_on_main(tokenizer, os.path.join(save_folder, "tokenizer.txt"))
    return tokenizer


def ctc_tokenizer(hparams):
    """The run's CTC tokenizer, for its ``ctc_units``: the characters (``build_tokenizer``), or SentencePiece
    pieces learned from the fold's training transcripts (``train_bpe_tokenizer``).

    Arguments
    ---------
    hparams : dict
        ``save_folder``, ``manifest_folder``, and ``ctc_units`` and ``bpe_vocab_size`` (without them: characters).

    Returns
    -------
    CTCTextEncoder or sentencepiece.SentencePieceProcessor
    """
    units = hparams.get("ctc_units", "char")
    ctc_vocab_size(units, hparams.get("bpe_vocab_size"))
    if units == "char":
        return build_tokenizer(hparams["save_folder"])
    return train_bpe_tokenizer(hparams["save_folder"], hparams["manifest_folder"], hparams["bpe_vocab_size"])


def train_bpe_tokenizer(save_folder, manifest_folder, vocab_size):
    """SentencePiece BPE pieces learned from the ``transcript`` of ``<manifest_folder>/train.json`` only (the
    valid and test transcripts stay unseen), saved in ``<save_folder>/tokenizer`` (``tokenizer_file``).

    SpeechBrain's ``SentencePiece`` trains on the main process only (DDP) and, when the model file is already
    there (a resumed run), loads it instead of training again. Its padding piece is the CTC blank and its unknown
    piece a unit (``custom_modules.ctc_units``); every character of the training transcripts is a piece
    (``character_coverage`` 1).

    Arguments
    ---------
    save_folder : str
    manifest_folder : str
    vocab_size : int
        Pieces, the blank and the unknown piece included (``bpe_vocab_size``).

    Returns
    -------
    sentencepiece.SentencePieceProcessor

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> lines = ["oh i don't know", "i know what you mean", "what do you mean"] * 5
    >>> _ = (folder / "train.json").write_text(json.dumps({str(i): {"transcript": t} for i, t in enumerate(lines)}))
    >>> tokenizer = train_bpe_tokenizer(str(folder / "save"), str(folder), vocab_size=30)
    >>> tokenizer.vocab_size(), tokenizer.decode_ids(tokenizer.encode_as_ids("you know what i mean"))
    (30, 'you know what i mean')
    >>> sorted(os.listdir(folder / "save" / "tokenizer"))
    ['30_bpe.model', '30_bpe.vocab', 'train.txt']
    """
    model_folder = os.path.dirname(tokenizer_file("bpe", vocab_size))
    transcripts = os.path.abspath(os.path.join(manifest_folder, "train.json"))
    os.makedirs(save_folder, exist_ok=True)
    try:
        # SentencePiece writes the paths of its training command into the model: from inside the save folder they
        # are relative, and the model (shipped by recipes/export.py) names no folder of the training machine.
        with contextlib.chdir(save_folder):
            tokenizer = SentencePiece(
                model_dir=model_folder,
                vocab_size=vocab_size,
                annotation_train=transcripts,
                annotation_read="transcript",
                model_type=BPE_MODEL_TYPE,
                character_coverage=1.0,
                pad_id=BPE_PAD_INDEX,
                unk_id=BPE_UNK_INDEX,
                annotation_format="json",
            )
    except RuntimeError as error:
        if "ocabulary size" not in str(error):
            raise
        # SentencePiece's own message says which sizes these transcripts allow (its advice to lower the
        # character coverage is left out: the recipe keeps every character).
        reason = str(error).split("] ")[-1].splitlines()[0].split(" Increase vocab_size")[0]
        raise CTCUnitsError(
            f"--bpe_vocab_size {vocab_size} does not fit the training transcripts of {manifest_folder}: {reason}"
        ) from error
    return tokenizer.sp


def _save_on_main(encoder, path):
    if if_main_process():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        encoder.save(path)


def dataio_prepare(hparams):
    """Builds the train / valid / test ``DynamicItemDataset``s of one fold, with their encoders.

    Arguments
    ---------
    hparams : dict
        Needs ``manifest_folder`` and ``save_folder`` (where the label encoders and tokenizer are saved), and
        ``ctc_units`` and ``bpe_vocab_size`` for the tokenizer (``ctc_tokenizer``).

    Returns
    -------
    datasets : dict
        Split -> dataset; valid and test are sorted by duration to keep padding small.
    label_encoders : dict
        Task -> ``CategoricalEncoder`` (``build_label_encoders``).
    tokenizer : CTCTextEncoder or sentencepiece.SentencePieceProcessor
        The CTC tokenizer of ``ctc_units`` (``ctc_tokenizer``).
    """
    label_encoders = build_label_encoders(hparams["save_folder"], fold_labels(hparams["manifest_folder"]))
    tokenizer = ctc_tokenizer(hparams)

    @sb.utils.data_pipeline.takes("id", "wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(utt_id, wav):
        return read_mono_audio(utt_id, wav)

    def label_pipeline(task):
        @sb.utils.data_pipeline.takes(task)
        @sb.utils.data_pipeline.provides(f"{task}_encoded")
        def encode(label):
            return label_encoders[task].encode_label_torch(str(label))

        return encode

    def dimension_pipeline(task):
        # An utterance without a value (a manifest's empty cell) is NaN: its loss and metric leave it out
        # (custom_modules.losses.ccc_loss), its other tasks still train.
        @sb.utils.data_pipeline.takes(task)
        @sb.utils.data_pipeline.provides(f"{task}_value")
        def value(number):
            return torch.tensor([float("nan") if number is None else float(number)])

        return value

    dimensions = list(fold_dimensions(hparams["manifest_folder"]))

    # Characters outside the character vocabulary are left out before training (leave_out_unusable); pieces
    # spell any text.
    @sb.utils.data_pipeline.takes("transcript")
    @sb.utils.data_pipeline.provides("tokens")
    def text_pipeline(transcript):
        return torch.LongTensor(encode_transcript(tokenizer, transcript))

    # A corpus without transcripts has no CTC target (stage 1 then runs without asr: corpora/folds.py).
    with open(os.path.join(hparams["manifest_folder"], PREPARATION_RECORD), encoding="utf-8") as handle:
        has_transcripts = json.load(handle)["summary"].get("transcripts", True)
    text_items = [text_pipeline] if has_transcripts else []
    datasets = {}
    for split in SPLITS:
        dataset = DynamicItemDataset.from_json(
            json_path=os.path.join(hparams["manifest_folder"], f"{split}.json"),
            dynamic_items=[
                audio_pipeline,
                *map(label_pipeline, label_encoders),
                *map(dimension_pipeline, dimensions),
                *text_items,
            ],
            output_keys=[
                "id",
                "sig",
                *(f"{task}_encoded" for task in label_encoders),
                *(f"{task}_value" for task in dimensions),
                *(["tokens"] * has_transcripts),
            ],
        )
        datasets[split] = dataset if split == "train" else dataset.filtered_sorted(sort_key="duration")
    if hparams.get("shuffle_train_emotions"):
        shuffle_emotions(datasets["train"], hparams["seed"])
    return datasets, label_encoders, tokenizer


def shuffle_emotions(dataset, seed):
    """Permutes the emotion labels among a dataset's utterances (seeded): a negative control.

    A model trained on shuffled labels cannot learn emotion from the audio, while everything else about the run
    stays the same (class balance included): comparing a row with its shuffled copy checks that
    ``recipes/compare.py`` calls a real difference different (``shuffle_train_emotions`` in the yaml).

    Arguments
    ---------
    dataset : speechbrain.dataio.dataset.DynamicItemDataset
        Its entries' ``emo`` fields are permuted in place.
    seed : int

    Example
    -------
    >>> from speechbrain.dataio.dataset import DynamicItemDataset
    >>> data = DynamicItemDataset({str(i): {"emo": emo} for i, emo in enumerate("nnhhaass")})
    >>> shuffle_emotions(data, seed=0)
    >>> sorted(entry["emo"] for entry in data.data.values()) == sorted("nnhhaass")
    True
    """
    ids = sorted(dataset.data)
    labels = [dataset.data[utt_id]["emo"] for utt_id in ids]
    for utt_id, label in zip(ids, np.random.default_rng(seed).permutation(labels)):
        dataset.data[utt_id]["emo"] = str(label)
    logger.warning("shuffle_train_emotions: the training emotion labels are permuted (a negative control).")


def leave_out_unusable(datasets, hparams):
    """Checks every utterance of a fold before training and leaves out the ones that cannot be used.

    Manifests can change or files go bad after preparation (which is skipped when its options are
    unchanged). An unreadable, empty, silent, too short, non-mono, wrong-rate or non-finite wav, or (with
    ``ctc_units: char``) a transcript with characters outside the CTC vocabulary, is:

    - in train or valid: left out, logged by name, counted, and listed in ``<output_folder>/skipped_utterances.json``
      beside those preparation left out (safe: the experiment keeps its meaning);
    - in test: an error (a smaller test set would not be comparable), as is leaving out more than
      ``max_skipped_share`` of train or valid (that points at a broken copy of the corpus, not at a few bad files).

    Arguments
    ---------
    datasets : dict
        Split -> DynamicItemDataset, from ``dataio_prepare``.
    hparams : dict
        ``min_duration``, ``max_skipped_share``, ``output_folder``, ``manifest_folder``, ``skip_bad_wavs``,
        ``audio_check_cache`` (where the wavs already read are remembered: ``AudioChecks``), ``ctc_units``
        (without it: characters).

    Returns
    -------
    datasets : dict
        The same splits without the unusable utterances.
    left_out : dict
        Every utterance the fold lost, here or at preparation (``left_out_utterances``).
    """
    checks = AudioChecks(hparams["audio_check_cache"])
    paths = [entry["wav"] for dataset in datasets.values() for entry in dataset.data.values()]
    # The main process reads the wavs not remembered (none after preparation or at a restart: only changed ones);
    # then the other DDP processes find them all remembered.
    run_on_main(checks.read, args=[paths], post_func=checks.read, post_kwargs={"paths": paths, "remember": False})
    # SentencePiece spells any text (a character its training transcripts lack as its unknown piece, a unit of
    # its own: custom_modules.ctc_units), so only the character vocabulary leaves transcripts out.
    # A run without the ASR task reads no transcript (a corpus may have none).
    spells = hparams.get("ctc_units", "char") == "char" and "asr" in hparams.get("aux_tasks", ["asr"])
    spelled = set(CHARACTERS) if spells else None
    # A corpus read at any rate (resampled on reading) has no wrong rate; IEMOCAP's 16 kHz is checked.
    with open(os.path.join(hparams["manifest_folder"], PREPARATION_RECORD), encoding="utf-8") as handle:
        rate = None if json.load(handle)["summary"].get("resampled") else SAMPLE_RATE
    skipped = {}
    for split, dataset in datasets.items():
        problems = {}
        for utt_id, entry in dataset.data.items():
            reason, _ = checks.problem(entry["wav"], hparams["min_duration"], rate)
            unknown = set(entry.get("transcript") or "") - spelled if spelled else set()
            if reason is None and unknown:
                reason = f"transcript has characters outside the CTC vocabulary: {sorted(unknown)}"
            if reason is not None:
                problems[utt_id] = reason
        skipped[split] = problems
        if not problems:
            continue
        listing = "; ".join(f"{u}: {r}" for u, r in list(problems.items())[:10])
        if split == "test":
            raise UnusableDataError(
                f"{len(problems)} test utterance(s) cannot be used ({listing}). The test set must be complete to be "
                f"comparable: restore these files, or leave them out of every split on purpose "
                f"({_leave_out_at_preparation(hparams)}; test_metrics.json then lists them)."
            )
        share = len(problems) / max(len(dataset.data), 1)
        if share > hparams["max_skipped_share"]:
            raise UnusableDataError(
                f"{len(problems)} of {len(dataset.data)} {split} utterances cannot be used ({listing}); more than "
                f"max_skipped_share={hparams['max_skipped_share']} points at a broken corpus copy or --data_folder."
            )
        for utt_id, reason in problems.items():
            logger.warning("Leaving out %s utterance %s: %s", split, utt_id, reason)
        datasets[split] = dataset.filtered_sorted(key_test={"id": lambda utt_id, bad=problems: utt_id not in bad})
    left_out = left_out_utterances(hparams["manifest_folder"], skipped)
    if if_main_process():
        with open(os.path.join(hparams["output_folder"], "skipped_utterances.json"), "w", encoding="utf-8") as handle:
            json.dump(left_out, handle, indent=2)
    return datasets, left_out


def left_out_utterances(manifest_folder, skipped_in_training):
    """Every utterance a fold lost, by split, and why: at preparation (``--skip_bad_wavs True``) or before
    training (``leave_out_unusable``).

    Preparation leaves files out before the validation draw, so those of the training sessions are under
    ``train_or_valid``; a test-session utterance is the test set's, whenever it was left out.

    Arguments
    ---------
    manifest_folder : str
        The fold's manifests, with ``prepare_options.json`` (``PREPARATION_RECORD``).
    skipped_in_training : dict
        Split -> {utt_id: reason}, from ``leave_out_unusable``.

    Returns
    -------
    dict
        ``train``, ``valid``, ``test`` and ``train_or_valid`` -> {utt_id: reason}.
    """
    with open(os.path.join(manifest_folder, PREPARATION_RECORD), encoding="utf-8") as handle:
        at_preparation = json.load(handle)["summary"]["skipped_by_split"]
    left_out = {split: {} for split in (*SPLITS, "train_or_valid")}
    for split, items in at_preparation.items():
        left_out[split].update((utt_id, f"left out at preparation: {reason}") for utt_id, reason in items.items())
    for split, items in skipped_in_training.items():
        left_out[split].update((utt_id, f"left out before training: {reason}") for utt_id, reason in items.items())
    return left_out


def _leave_out_at_preparation(hparams):
    """How to leave utterances out of every split, for the train script that is running."""
    if hparams["skip_bad_wavs"]:
        # The manifests were written before these files went bad, and unchanged options skip preparation.
        return f"remove {hparams['manifest_folder']} and run the same command again"
    return f"run `{command_with_skip_bad_wavs(sys.argv)}`"


def read_mono_audio(utt_id, path):
    """Reads a mono waveform at 16 kHz (a corpus recorded at another rate, RAVDESS's 48 kHz or a manifest's, is
    resampled); a file that cannot be used raises an error naming the utterance.

    Arguments
    ---------
    utt_id : str
    path : str

    Returns
    -------
    torch.Tensor
        ``[samples]``.
    """
    try:
        channels, rate = audio_io.load(path)
    except Exception as error:  # soundfile raises several types for unreadable files
        raise RuntimeError(f"Cannot read the audio of {utt_id} ({path}): {error}") from error
    if channels.shape[0] != 1:
        raise ValueError(f"{utt_id}: {path} has {channels.shape[0]} channels; the recipe trains on mono audio.")
    signal = channels[0]
    if rate != SAMPLE_RATE:
        signal = torchaudio.functional.resample(signal, rate, SAMPLE_RATE)
    return signal


def train_loader_kwargs(train_set, hparams):
    """DataLoader options for training: length-bucketed batches (``DynamicBatchSampler``) or plain shuffling.

    Bucketing keeps padding small while the batch order is still shuffled every epoch; ``max_batch_ex``
    caps a batch at ``batch_size`` utterances, the paper's batch.

    Arguments
    ---------
    train_set : DynamicItemDataset
    hparams : dict
        ``dynamic_batching``, ``dynamic_batch_sampler`` (kwargs of ``DynamicBatchSampler``),
        ``train_dataloader_opts`` and ``seed``.

    Returns
    -------
    dict
    """
    options = dict(hparams["train_dataloader_opts"])
    # A generator of its own: otherwise creating each epoch's iterator draws from the global RNG, and a run
    # resumed mid-epoch (global RNG restored from the checkpoint) would be one draw off from an uninterrupted one.
    options["generator"] = torch.Generator().manual_seed(hparams["seed"])
    if hparams["dynamic_batching"]:
        options.pop("batch_size", None)
        options.pop("shuffle", None)
        sampler_options = dict(hparams["dynamic_batch_sampler"])
        num_buckets = sampler_options.pop("num_buckets")
        options["batch_sampler"] = DynamicBatchSampler(
            train_set,
            seed=hparams["seed"],
            bucket_boundaries=duration_quantiles(train_set, num_buckets),
            **sampler_options,
        )
    return options


def duration_quantiles(dataset, num_buckets):
    """Bucket boundaries at the quantiles of the training durations, so each bucket holds a similar share.

    ``DynamicBatchSampler``'s own ``num_buckets`` spreads a log-normal over ``[0, max_batch_length]`` (400 s
    here), so nearly every IEMOCAP utterance (1-35 s) falls in a few wide buckets and much of each batch is
    padding; with these boundaries it is little (``recipes/benchmark.py`` measures both; README, "Speed and memory").

    Arguments
    ---------
    dataset : DynamicItemDataset
        With a ``duration`` field.
    num_buckets : int

    Returns
    -------
    list of float
        Ascending, without duplicates.

    Example
    -------
    >>> from speechbrain.dataio.dataset import DynamicItemDataset
    >>> data = {str(i): {"duration": float(i)} for i in range(1, 11)}
    >>> duration_quantiles(DynamicItemDataset(data), 4)
    [3.25, 5.5, 7.75, 10.0]
    """
    durations = [dataset.data[utt_id]["duration"] for utt_id in dataset.data_ids]
    quantiles = np.quantile(durations, np.arange(1, num_buckets + 1) / num_buckets)
    return sorted({round(float(q), 6) for q in quantiles})
