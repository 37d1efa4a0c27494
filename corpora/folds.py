"""One fold of any corpus, prepared the same way: the protocol's folds, the validation draw, the audio checks, the
leakage guard and the manifests.

A corpus reader (``corpora/iemocap.py``, ``corpora/crema_d.py``, ``corpora/ravdess.py``, ``corpora/manifest.py``)
turns the corpus into utterance entries; ``prepare_fold`` then writes ``train.json``, ``valid.json`` and
``test.json`` (``{utt_id: {wav, duration, emo, speaker, ...}}``) and ``prepare_options.json``: the options, and
the summary (counts per split and class, the labels of every task in the model's order, what was left out and
why, and the leakage guard's findings). Running again with the same options skips the work.

Protocols (``--protocol``; each corpus has a default, ``DEFAULT_PROTOCOL``):

- ``sessions``: IEMOCAP's five sessions, one held out per fold (the paper's);
- ``speakers``: one speaker held out per fold (IEMOCAP: 10 folds, as Cai et al. 2021 and the papers that follow
  them);
- ``speaker_kfold``: ``n_folds`` folds of whole speakers, dealt in turn from the speakers shuffled with
  ``fold_seed`` (CREMA-D's, RAVDESS's and a manifest's default);
- ``column``: a manifest's own ``fold`` column (folds numbered 1, 2, ...) or ``split`` column (train, valid,
  test: one fold, number 1).

Validation: IEMOCAP draws ``valid_ratio`` of each class of the training sessions (speakers shared with training,
never with the test); every other corpus draws whole speakers (``valid_ratio`` of the training speakers, at least
one), so that no speaker is in two splits. The leakage guard refuses a fold that has a test speaker in train or
valid, naming the speaker (``allow_speaker_overlap: True`` lets it through, recorded as speaker-dependent).

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import difflib
import json
import math
import os
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from importlib import import_module

from speechbrain.utils.logger import get_logger

from corpora import CorpusError
from custom_modules.audio_checks import AudioChecks
from custom_modules.constants import DEFAULT_SEED, PREPARATION_RECORD, SAMPLE_RATE, SPLITS
from custom_modules.errors import command_with_skip_bad_wavs

logger = get_logger(__name__)

# --corpus: the module that reads each (IEMOCAP's preparation, iemocap_prepare.py, stays where SpeechBrain's
# recipes keep one).
CORPUS_MODULES = {
    "iemocap": "corpora.iemocap",
    "crema_d": "corpora.crema_d",
    "ravdess": "corpora.ravdess",
    "manifest": "corpora.manifest",
}
CORPORA = tuple(CORPUS_MODULES)
PROTOCOLS = ("sessions", "speakers", "speaker_kfold", "column")
DEFAULT_PROTOCOL = {"iemocap": "sessions", "crema_d": "speaker_kfold", "ravdess": "speaker_kfold"}
# What each protocol is, as summaries and the paper comparison name it.
PROTOCOL_NAMES = {
    "sessions": "leave-one-session-out",
    "speakers": "leave-one-speaker-out",
    "speaker_kfold": "speaker-independent k-fold",
    "column": "the manifest's folds",
}
# Bumped whenever the manifest format or the selection rules change, so old manifests are redone.
PREPARE_VERSION = 5


class BadWavsError(CorpusError):
    """Utterances without a usable wav or transcript.

    The fix depends on the entry point (a preparation script, or a train script that prepares its fold): the
    message gives that script's command with ``--skip_bad_wavs True`` when it is known.

    Arguments
    ---------
    listing : str
        What is wrong, utterance by utterance.
    command : str, optional
        The command that leaves them out.
    """

    def __init__(self, listing, command=None):
        self.listing = listing
        leave_out = f"run `{command}`" if command else "prepare with skip_bad_wavs=True"
        super().__init__(
            f"{listing}\nFix or restore these files, or leave them out on purpose (they are then listed in "
            f"prepare_options.json and in the runs' test_metrics.json): {leave_out}"
        )


@dataclass
class CorpusData:
    """A corpus as its reader gives it, before any fold is drawn.

    Arguments
    ---------
    name : str
        ``--corpus``.
    title : str
        How people write it (``IEMOCAP``, ``CREMA-D``).
    source : str
        The corpus root, or the manifest file.
    utterances : dict
        ``{utt_id: entry}``, each with ``wav``, ``emo``, ``speaker`` and the corpus's other fields.
    labels : dict
        Task -> its labels in the model's order: ``emo`` and every auxiliary label the corpus has.
    dimensions : tuple
        The corpus's numeric fields, each a dimension task (a regression head trained with 1 - CCC): IEMOCAP's
        ``valence``, ``arousal``, ``dominance``, a manifest's numeric columns; None in an entry: not annotated.
    dropped : collections.Counter
        Raw labels left out by the reader.
    needs_resampling : bool
        Its audio is not all 16 kHz: read at any rate and resampled (else another rate is a bad file).
    column_folds : dict, optional
        A manifest's fold of each utterance (``column``), or its split (``train``/``valid``/``test``).
    missing_transcript : str, optional
        Why an entry's ``transcript`` of None makes it unusable (a corpus with transcripts); None: no transcripts.
    full_release_counts : dict, optional
        The emotion counts of the whole corpus as released: a fold whose splits add up to them was prepared from a
        complete copy (what published figures need).
    """

    name: str
    title: str
    source: str
    utterances: dict
    labels: dict
    dimensions: tuple = ()
    dropped: Counter = field(default_factory=Counter)
    needs_resampling: bool = False
    column_folds: dict = None
    missing_transcript: str = None
    full_release_counts: dict = None

    @property
    def has_transcripts(self):
        """Whether stage 1's ASR task (CTC) has something to learn from."""
        return any(entry.get("transcript") for entry in self.utterances.values())


def corpus_module(corpus):
    """The reader module of ``--corpus``; an unknown name is a ``CorpusError`` listing the corpora."""
    if corpus not in CORPUS_MODULES:
        raise CorpusError(f"--corpus {corpus!r} is not one the recipe reads: choose among {', '.join(CORPORA)}.")
    return import_module(CORPUS_MODULES[corpus])


def corpus_title(corpus):
    """How people write a corpus's name (``IEMOCAP``, ``CREMA-D``, ``RAVDESS``, ``manifest``).

    Example
    -------
    >>> corpus_title("crema_d")
    'CREMA-D'
    """
    return corpus_module(corpus).TITLE


def corpus_source(corpus, data_folder=None, manifest=None):
    """The corpus's root folder (``--data_folder``) or manifest file (``--manifest``), checked without reading
    any audio: a wrong one stops a run before anything expensive.

    Arguments
    ---------
    corpus : str
    data_folder : str, optional
    manifest : str, optional

    Returns
    -------
    str
        The absolute root folder, or the manifest's absolute path.

    Example
    -------
    >>> corpus_source("manifest")
    Traceback (most recent call last):
    ...
    corpora.CorpusError: --corpus manifest reads --manifest PATH (a CSV or JSON-lines file): add it.
    """
    if corpus == "manifest":
        if not manifest:
            raise CorpusError("--corpus manifest reads --manifest PATH (a CSV or JSON-lines file): add it.")
        if not os.path.exists(manifest):
            raise CorpusError(f"--manifest {manifest!r} does not exist.")
        return os.path.abspath(manifest)
    module = corpus_module(corpus)
    if not data_folder:
        raise CorpusError(f"--corpus {corpus} needs --data_folder: the {module.TITLE} folder as downloaded.")
    return module.find_root(data_folder)


def read_corpus(corpus, source):
    """Reads a corpus (``corpus_source``'s root or manifest) into a ``CorpusData``.

    Arguments
    ---------
    corpus : str
    source : str

    Returns
    -------
    CorpusData
    """
    module = corpus_module(corpus)
    if corpus == "manifest":
        read = module.read_manifest(source)
        return CorpusData(
            name=corpus,
            title=module.TITLE,
            source=source,
            utterances=read.utterances,
            labels={"emo": tuple(read.emotions), **{k: tuple(v) for k, v in read.aux_labels.items()}},
            dimensions=tuple(read.numeric_columns),
            needs_resampling=module.NEEDS_RESAMPLING,
            column_folds=read.folds,
        )
    utterances, dropped = module.collect_utterances(source)
    return CorpusData(
        name=corpus,
        title=module.TITLE,
        source=source,
        utterances=utterances,
        labels={"emo": tuple(module.EMOTIONS), **{k: tuple(v) for k, v in module.AUX_LABELS.items()}},
        dimensions=tuple(getattr(module, "DIMENSIONS", ())),
        dropped=dropped,
        needs_resampling=module.NEEDS_RESAMPLING,
        missing_transcript=getattr(module, "MISSING_TRANSCRIPT", "no transcript"),
        full_release_counts=getattr(module, "FULL_RELEASE_COUNTS", None),
    )


def default_protocol(corpus, column_folds=None):
    """The protocol a corpus uses when ``--protocol`` is not given (a manifest: its fold or split column if it has
    one, else ``speaker_kfold``)."""
    if corpus == "manifest":
        return "column" if column_folds else "speaker_kfold"
    return DEFAULT_PROTOCOL[corpus]


def assign_folds(data, protocol, n_folds=5, fold_seed=DEFAULT_SEED):
    """Each utterance's fold under a protocol, and what each fold holds out.

    Arguments
    ---------
    data : CorpusData
    protocol : str
        One of ``PROTOCOLS``.
    n_folds : int
        ``speaker_kfold``'s k.
    fold_seed : int
        ``speaker_kfold``'s shuffle of the speakers (its own seed: every training seed tests on the same folds).

    Returns
    -------
    folds : dict
        ``{utt_id: fold}``, folds numbered from 1 (``column`` with a split column: the split names).
    held_out : dict
        Fold -> what it holds out, in words (``session 2``, ``speaker Ses01F``, ``speakers 1001, 1007``).

    Example
    -------
    >>> entries = {f"u{i}": {"speaker": f"s{i % 4}", "emo": "neu"} for i in range(8)}
    >>> data = CorpusData("x", "X", "", entries, {"emo": ("neu",)})
    >>> folds, held_out = assign_folds(data, "speakers")
    >>> folds["u5"], held_out[2]
    (2, 'speaker s1')
    >>> folds, held_out = assign_folds(data, "speaker_kfold", n_folds=2, fold_seed=0)
    >>> sorted(held_out.values())
    ['speakers s0, s3', 'speakers s1, s2']
    """
    if protocol not in PROTOCOLS:
        raise CorpusError(f"--protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}.")
    utterances = data.utterances
    speakers = sorted({entry["speaker"] for entry in utterances.values()})
    if protocol == "sessions":
        if data.name != "iemocap":
            raise CorpusError(f"--protocol sessions is IEMOCAP's; {data.title} takes speakers or speaker_kfold.")
        folds = {utt_id: entry["session"] for utt_id, entry in utterances.items()}
        return folds, {session: f"session {session}" for session in sorted(set(folds.values()))}
    if protocol == "speakers":
        number = {speaker: index + 1 for index, speaker in enumerate(speakers)}
        folds = {utt_id: number[entry["speaker"]] for utt_id, entry in utterances.items()}
        return folds, {index: f"speaker {speaker}" for speaker, index in number.items()}
    if protocol == "speaker_kfold":
        if not 2 <= n_folds <= len(speakers):
            raise CorpusError(
                f"--n_folds {n_folds}: speaker_kfold needs between 2 and the corpus's {len(speakers)} speakers."
            )
        shuffled = list(speakers)
        random.Random(fold_seed).shuffle(shuffled)
        number = {speaker: index % n_folds + 1 for index, speaker in enumerate(shuffled)}
        folds = {utt_id: number[entry["speaker"]] for utt_id, entry in utterances.items()}
        held_out = {
            fold: "speakers " + ", ".join(s for s in speakers if number[s] == fold) for fold in range(1, n_folds + 1)
        }
        return folds, held_out
    if not data.column_folds:
        raise CorpusError(
            f"--protocol column reads a manifest's fold or split column; {data.source} has neither: use "
            "--protocol speaker_kfold (or speakers)."
        )
    folds = {utt_id: _as_fold(value) for utt_id, value in data.column_folds.items()}
    values = set(folds.values())
    if values <= set(SPLITS):
        return folds, {1: "the manifest's test split"}
    if not all(isinstance(value, int) for value in values):
        raise CorpusError(
            f"{data.source}: the fold column holds {sorted(map(str, values))[:5]}; folds are numbered 1, 2, ... (or "
            "use a split column of train, valid and test)."
        )
    return folds, {fold: f"fold {fold} of the manifest" for fold in sorted(values)}


def fold_numbers(corpus, data_folder=None, manifest=None, protocol=None, n_folds=5, fold_seed=DEFAULT_SEED):
    """The folds a protocol has, for ``recipes/run_folds.py`` (reads the corpus's annotations, not its audio).

    Returns
    -------
    protocol : str
        As given, or the corpus's default.
    held_out : dict
        Fold number -> what it holds out.
    """
    data = read_corpus(corpus, corpus_source(corpus, data_folder, manifest))
    protocol = protocol or default_protocol(corpus, data.column_folds)
    _, held_out = assign_folds(data, protocol, n_folds, fold_seed)
    return protocol, held_out


def prepare_fold(
    corpus,
    save_folder,
    test_fold,
    data_folder=None,
    manifest=None,
    protocol=None,
    n_folds=5,
    fold_seed=DEFAULT_SEED,
    valid_ratio=0.1,
    seed=DEFAULT_SEED,
    min_duration=0.1,
    skip_bad_wavs=False,
    allow_speaker_overlap=False,
    command=None,
    audio_check_cache=None,
):
    """Writes the train / valid / test manifests of one fold of a corpus.

    Arguments
    ---------
    corpus : str
        One of ``CORPORA``.
    save_folder : str
        Where ``train.json``, ``valid.json``, ``test.json`` and ``prepare_options.json`` are written.
    test_fold : int
        The held-out fold (``assign_folds``).
    data_folder, manifest : str, optional
        The corpus folder as downloaded, or (``manifest``) the manifest file.
    protocol : str, optional
        One of ``PROTOCOLS``; None: the corpus's default.
    n_folds, fold_seed : int
        ``speaker_kfold``'s k and shuffle.
    valid_ratio : float
        Share of the training utterances (IEMOCAP: of each class) or speakers moved to validation.
    seed : int
        Seed of the validation draw (default: the training yaml's).
    min_duration : float
        Shorter utterances (seconds) cannot be encoded by wav2vec 2.0 and are reported as bad.
    skip_bad_wavs : bool
        If False (default), a missing, unreadable, empty, silent, too short or stereo wav (or a missing transcript
        in a corpus that has them) is an error listing every offender (``BadWavsError``); if True, those
        utterances are left out and listed in the summary.
    allow_speaker_overlap : bool
        Let a fold with a test speaker in train or valid through (recorded as speaker-dependent).
    command : list of str, optional
        The command line running this preparation, for the fix in ``BadWavsError``.
    audio_check_cache : str, optional
        The JSON file where what was read of each wav is remembered (``AudioChecks``).

    Returns
    -------
    dict
        The summary (``summarize``).
    """
    source = corpus_source(corpus, data_folder, manifest)
    if not 0.0 <= valid_ratio < 1.0:
        raise CorpusError(f"valid_ratio must be in [0, 1), got {valid_ratio}.")
    if not isinstance(skip_bad_wavs, bool):
        # A bare --skip_bad_wavs in a train script's overrides arrives as None (yaml null).
        raise CorpusError(
            f"skip_bad_wavs must be True or False, got {skip_bad_wavs!r}: write --skip_bad_wavs True on the command "
            "line (the option takes a value)."
        )
    data = read_corpus(corpus, source)
    protocol = protocol or default_protocol(corpus, data.column_folds)
    options = preparation_options(corpus, source, protocol, test_fold, n_folds, fold_seed, valid_ratio, seed)
    options.update(
        min_duration=min_duration,
        skip_bad_wavs=skip_bad_wavs,
        allow_speaker_overlap=allow_speaker_overlap,
        version=PREPARE_VERSION,
    )
    stored = load_stored_record(save_folder)
    if stored is not None and stored["options"] == options:
        logger.info(
            "Skipping %s preparation: %s already holds manifests made with the same options.", data.title, save_folder
        )
        return stored["summary"]
    if stored is not None:
        changed = sorted(k for k in options if stored["options"].get(k) != options.get(k))
        logger.info("Redoing preparation in %s: options changed (%s).", save_folder, ", ".join(changed))

    folds, held_out = assign_folds(data, protocol, n_folds, fold_seed)
    test_fold = check_test_fold(test_fold, held_out, protocol)
    utterances, skipped = check_audio(data, min_duration, skip_bad_wavs, command, audio_check_cache)
    splits = split_fold(data, utterances, folds, test_fold, valid_ratio, seed)
    leakage = speaker_leakage(splits, allow_speaker_overlap)
    check_training_classes(splits, data.labels["emo"])
    summary = summarize(data, splits, skipped, folds, test_fold, leakage)
    summary["held_out"] = held_out[test_fold]
    os.makedirs(save_folder, exist_ok=True)
    # The record is written last: an interrupted run leaves no stale "done" marker.
    record_path = os.path.join(save_folder, PREPARATION_RECORD)
    if os.path.exists(record_path):
        os.remove(record_path)
    for name, split in splits.items():
        write_json(os.path.join(save_folder, f"{name}.json"), split)
    write_json(record_path, {"options": options, "summary": summary})
    log_summary(data, summary, save_folder)
    return summary


def preparation_options(corpus, source, protocol, test_fold, n_folds, fold_seed, valid_ratio, seed):
    """The options that draw a fold, as ``prepare_options.json`` records them (IEMOCAP's session protocol keeps
    the keys it always had, ``test_session`` included; options a protocol does not use are left out)."""
    options = {"corpus": corpus, "data_folder" if corpus != "manifest" else "manifest": source}
    options.update(protocol=protocol, test_fold=_as_fold(test_fold))
    if protocol == "sessions":
        options["test_session"] = _as_fold(test_fold)
    if protocol == "speaker_kfold":
        options.update(n_folds=n_folds, fold_seed=fold_seed)
    options.update(valid_ratio=valid_ratio, seed=seed)
    return options


def check_test_fold(test_fold, held_out, protocol):
    """The test fold as the protocol numbers it; one it does not have is a ``CorpusError`` listing those it has.

    Example
    -------
    >>> check_test_fold("3", {1: "a", 2: "b"}, "speaker_kfold")
    Traceback (most recent call last):
    ...
    corpora.CorpusError: --test_fold 3: protocol speaker_kfold has folds 1, 2.
    """
    fold = _as_fold(test_fold)
    if isinstance(fold, bool) or fold not in held_out:
        if protocol == "sessions":
            raise CorpusError(f"test_session must be one of 1, 2, 3, 4, 5 (got {test_fold!r}).")
        raise CorpusError(
            f"--test_fold {test_fold}: protocol {protocol} has folds {', '.join(map(str, sorted(held_out)))}."
        )
    return fold


def _as_fold(value):
    if isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        return value


def check_audio(data, min_duration, skip_bad_wavs, command=None, audio_check_cache=None):
    """Checks every wav (each read once per machine, see ``AudioChecks``) and sorts out the utterances that cannot
    be trained on.

    Arguments
    ---------
    data : CorpusData
    min_duration : float
        Seconds.
    skip_bad_wavs : bool
        Leave bad utterances out (True) or raise an error listing them (False).
    command : list of str, optional
        The command line running the preparation, for the error's fix.
    audio_check_cache : str, optional

    Returns
    -------
    kept : dict
        Utterances with a usable wav, ``duration`` filled in after ``wav``.
    skipped : dict
        ``{utt_id: reason}``.
    """
    kept, problems = {}, {}
    checks = AudioChecks(audio_check_cache)
    checks.read(entry["wav"] for entry in data.utterances.values())
    rate = None if data.needs_resampling else SAMPLE_RATE
    for utt_id, entry in data.utterances.items():
        reason, duration = checks.problem(entry["wav"], min_duration, rate)
        if reason is None and data.missing_transcript and entry.get("transcript") is None:
            reason = data.missing_transcript
        if reason is not None:
            problems[utt_id] = reason
            continue
        kept[utt_id] = {"wav": entry["wav"], "duration": duration, **{k: v for k, v in entry.items() if k != "wav"}}
    if problems and not skip_bad_wavs:
        by_reason = Counter(reason.split(":")[0] for reason in problems.values())
        examples = "\n".join(f"  {u}: {r} ({data.utterances[u]['wav']})" for u, r in list(problems.items())[:10])
        raise BadWavsError(
            f"{len(problems)} of {len(data.utterances)} annotated utterances cannot be used "
            f"({', '.join(f'{n} {r}' for r, n in by_reason.items())}):\n{examples}",
            command_with_skip_bad_wavs(command) if command else None,
        )
    for utt_id, reason in problems.items():
        logger.warning("Leaving out %s: %s", utt_id, reason)
    return kept, problems


def split_fold(data, utterances, folds, test_fold, valid_ratio, seed):
    """Splits the usable utterances into train / valid / test for one fold.

    Arguments
    ---------
    data : CorpusData
    utterances : dict
        From ``check_audio``.
    folds : dict
        From ``assign_folds``.
    test_fold : int or str
    valid_ratio : float
    seed : int

    Returns
    -------
    dict
        ``{"train": {...}, "valid": {...}, "test": {...}}``, each sorted by utterance id.
    """
    splits = {name: {} for name in SPLITS}
    by_split_column = set(folds.values()) <= set(SPLITS)
    rest = []
    for utt_id in sorted(utterances):
        fold = folds[utt_id]
        if (fold == "test") if by_split_column else (fold == test_fold):
            splits["test"][utt_id] = utterances[utt_id]
        elif by_split_column and fold == "valid":
            splits["valid"][utt_id] = utterances[utt_id]
        else:
            rest.append(utt_id)
    if by_split_column and splits["valid"]:
        chosen = set()
    elif data.name == "iemocap":
        chosen = _valid_by_class(utterances, rest, data.labels["emo"], valid_ratio, seed)
    else:
        chosen = _valid_by_speaker(utterances, rest, valid_ratio, seed)
    for utt_id in rest:
        splits["valid" if utt_id in chosen else "train"][utt_id] = utterances[utt_id]
    return {name: dict(sorted(split.items())) for name, split in splits.items()}


def _valid_by_class(utterances, ids, emotions, valid_ratio, seed):
    """``valid_ratio`` of each class, drawn with ``seed`` (IEMOCAP: speakers shared with training)."""
    by_class = defaultdict(list)
    for utt_id in ids:
        by_class[utterances[utt_id]["emo"]].append(utt_id)
    rng, chosen = random.Random(seed), set()
    for emo in emotions:
        members = by_class[emo]
        rng.shuffle(members)
        chosen.update(members[: round(len(members) * valid_ratio)])
    return chosen


def _valid_by_speaker(utterances, ids, valid_ratio, seed):
    """Whole speakers, ``valid_ratio`` of the training speakers (at least one when there is a ratio), drawn with
    ``seed``: no speaker is in both train and valid."""
    speakers = sorted({utterances[utt_id]["speaker"] for utt_id in ids})
    if valid_ratio == 0 or len(speakers) < 2:
        return set()
    random.Random(seed).shuffle(speakers)
    valid_speakers = set(speakers[: max(1, math.floor(len(speakers) * valid_ratio + 0.5))])
    return {utt_id for utt_id in ids if utterances[utt_id]["speaker"] in valid_speakers}


def speaker_leakage(splits, allow_speaker_overlap=False):
    """The leakage guard: no speaker of the test split may be in train or valid.

    Arguments
    ---------
    splits : dict
        From ``split_fold``.
    allow_speaker_overlap : bool
        Record the overlap (speaker-dependent) instead of refusing it.

    Returns
    -------
    dict
        ``speaker_independent`` (no test speaker elsewhere), ``test_speakers_in_training`` (sorted),
        ``valid_speakers_in_train`` (IEMOCAP's validation shares its speakers with training, by design), and
        the speakers of each split.

    Example
    -------
    >>> splits = {"train": {"a": {"speaker": "s1"}}, "valid": {}, "test": {"b": {"speaker": "s1"}}}
    >>> speaker_leakage(splits)
    Traceback (most recent call last):
    ...
    corpora.CorpusError: Speaker s1 is in the test split and in train or valid (utterance b): ...
    >>> speaker_leakage(splits, allow_speaker_overlap=True)["speaker_independent"]
    False
    """
    speakers = {name: {entry["speaker"] for entry in split.values()} for name, split in splits.items()}
    overlap = sorted(speakers["test"] & (speakers["train"] | speakers["valid"]))
    if overlap and not allow_speaker_overlap:
        example = next(u for u, e in splits["test"].items() if e["speaker"] == overlap[0])
        raise CorpusError(
            f"Speaker {overlap[0]} is in the test split and in train or valid (utterance {example}): a speaker-"
            f"independent test must not hear its speakers in training ({len(overlap)} such speaker(s)). Put each "
            "speaker's utterances in one fold, or pass --allow_speaker_overlap True to run it as speaker-dependent "
            "(recorded in test_metrics.json)."
        )
    return {
        "speaker_independent": not overlap,
        "test_speakers_in_training": overlap,
        "valid_speakers_in_train": sorted(speakers["valid"] & speakers["train"]),
        "speakers": {name: sorted(members) for name, members in speakers.items()},
    }


def check_training_classes(splits, emotions):
    """Every emotion class must have training utterances (a class never trained on cannot be learnt, and UA would
    average a recall of zero by construction)."""
    present = Counter(entry["emo"] for entry in splits["train"].values())
    missing = [emo for emo in emotions if not present[emo]]
    if missing:
        raise CorpusError(
            f"Class(es) {', '.join(missing)} have no utterance in this fold's training split ({len(splits['train'])} "
            "utterances): add utterances of them, or map them onto other classes (a manifest's label_map.json)."
        )


def summarize(data, splits, skipped, folds, test_fold, leakage):
    """Counts per split and class (and of every auxiliary label), the labels in the model's order, the leakage
    guard's findings and the utterances left out, by the split they lost.

    Utterances are left out before the validation draw: those of the test fold are the test set's, the others
    ``train_or_valid``.
    """
    skipped_by_split = {"test": {}, "train_or_valid": {}}
    for utt_id, reason in skipped.items():
        skipped_by_split["test" if folds[utt_id] in (test_fold, "test") else "train_or_valid"][utt_id] = reason
    summary = {
        "corpus": data.name,
        "labels": {task: list(labels) for task, labels in data.labels.items()},
        "dimensions": list(data.dimensions),
        "transcripts": data.has_transcripts,
        "resampled": data.needs_resampling,
        "splits": {},
        "dropped_labels": dict(sorted(data.dropped.items())),
        "skipped": skipped,
        "skipped_by_split": skipped_by_split,
        "leakage_guard": leakage,
    }
    totals = Counter()
    for name, split in splits.items():
        entries = split.values()
        emo = Counter(e["emo"] for e in entries)
        totals.update(emo)
        summary["splits"][name] = {
            "utterances": len(split),
            "hours": round(sum(e["duration"] for e in entries) / 3600, 3),
            "emo": {k: emo[k] for k in data.labels["emo"]},
            **{
                task: dict(sorted(Counter(str(e[task]) for e in entries).items()))
                for task in data.labels
                if task != "emo"
            },
            **{task: dimension_statistics(e.get(task) for e in entries) for task in data.dimensions},
            "speakers": len({e["speaker"] for e in entries}),
        }
        if data.name == "iemocap":
            sessions = Counter(e["session"] for e in entries)
            summary["splits"][name]["sessions"] = {str(k): v for k, v in sorted(sessions.items())}
    summary["total"] = {"utterances": sum(totals.values()), "emo": {k: totals[k] for k in data.labels["emo"]}}
    summary["matches_full_release"] = summary["total"]["emo"] == data.full_release_counts
    return summary


def dimension_statistics(values):
    """Mean, standard deviation (population) and count of a dimension's values in a split, and how many
    utterances have none.

    The training split's mean and standard deviation set the scale of the task's regression head (it predicts
    in standard deviations around the mean, so it starts at the mean whatever the annotation's scale).

    Example
    -------
    >>> dimension_statistics([2.0, 4.0, None])
    {'mean': 3.0, 'std': 1.0, 'count': 2, 'missing': 1}
    """
    values = list(values)
    present = [float(v) for v in values if v is not None]
    mean = sum(present) / len(present) if present else None
    std = math.sqrt(sum((v - mean) ** 2 for v in present) / len(present)) if present else None
    return {"mean": mean, "std": std, "count": len(present), "missing": len(values) - len(present)}


def log_summary(data, summary, save_folder):
    """Logs what was written, in a table a person can check against the corpus."""
    emotions = data.labels["emo"]
    lines = [
        f"{data.title} manifests written to {save_folder} (test: {summary['held_out']}):",
        f"{'split':<6} {'utts':>5} " + " ".join(f"{e:>5}" for e in emotions) + "  speakers",
    ]
    for name, stats in summary["splits"].items():
        counts = " ".join(f"{stats['emo'][e]:>5}" for e in emotions)
        lines.append(f"{name:<6} {stats['utterances']:>5} {counts}  {stats['speakers']}")
    total = summary["total"]
    lines.append(f"{'total':<6} {total['utterances']:>5} " + " ".join(f"{total['emo'][e]:>5}" for e in emotions))
    for task in data.dimensions:
        stats = summary["splits"]["train"][task]
        lines.append(
            f"{task} (train): mean {stats['mean']:.2f}, std {stats['std']:.2f}, {stats['count']} annotated, "
            f"{stats['missing']} without"
        )
    lines.append(
        f"dropped labels: {summary['dropped_labels']}; left out (bad audio/transcript): {len(summary['skipped'])}; "
        f"speaker-independent: {summary['leakage_guard']['speaker_independent']}"
    )
    logger.info("\n".join(lines))


def fold_labels(manifest_folder):
    """The labels of every task of a prepared fold, in the model's order (``prepare_options.json``).

    Arguments
    ---------
    manifest_folder : str

    Returns
    -------
    dict
        Task -> list of labels.
    """
    return prepared_summary(manifest_folder)["labels"]


def fold_dimensions(manifest_folder):
    """The dimension tasks of a prepared fold with the training split's ``[mean, std]`` of each (a constant or
    unannotated dimension gets a spread of 1).

    Arguments
    ---------
    manifest_folder : str

    Returns
    -------
    dict
        Task -> ``[mean, std]``.
    """
    summary = prepared_summary(manifest_folder)
    train = summary["splits"]["train"]
    return {task: [train[task]["mean"] or 0.0, train[task]["std"] or 1.0] for task in summary.get("dimensions", [])}


def prepared_summary(manifest_folder):
    """The summary of a prepared fold (``prepare_options.json``)."""
    with open(os.path.join(manifest_folder, PREPARATION_RECORD), encoding="utf-8") as handle:
        return json.load(handle)["summary"]


def load_stored_record(save_folder):
    """The record of the preparation stored in ``save_folder`` if it and the manifests it describes are whole;
    None (prepare again) if anything is missing or damaged, which is logged with the file's name."""
    path = os.path.join(save_folder, PREPARATION_RECORD)
    if not os.path.isfile(path) or not all(os.path.isfile(os.path.join(save_folder, f"{s}.json")) for s in SPLITS):
        return None
    stored = read_whole_json(path)
    if not isinstance(stored, dict) or not {"options", "summary"} <= set(stored):
        logger.warning("%s is damaged (cut short or not written by this recipe): preparing again.", path)
        return None
    # A manifest cut short (a full disk, an interrupted copy) must not be trusted because its options match.
    for split in SPLITS:
        manifest = os.path.join(save_folder, f"{split}.json")
        content = read_whole_json(manifest)
        expected = stored["summary"].get("splits", {}).get(split, {}).get("utterances")
        if not isinstance(content, dict) or len(content) != expected:
            found = "unreadable JSON" if content is None else f"{len(content)} entries"
            logger.warning(
                "%s is damaged (%s where preparation wrote %s utterances): preparing again.", manifest, found, expected
            )
            return None
    return stored


def read_whole_json(path):
    """The content of a JSON file, or None if it cannot be read as JSON (cut short, overwritten, unreadable)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def write_json(path, content):
    """Writes ``content`` as indented JSON."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(content, handle, indent=2)


# ---- What a train script calls, in this order: its options, its corpus checked, its fold prepared ----------------


def with_test_fold(overrides):
    """The command line's overrides with ``--test_session K`` (IEMOCAP's word, which keeps working) read as
    ``--test_fold K``.

    The overrides stay text (the yaml HyperPyYAML reads): only the option's name changes.

    Arguments
    ---------
    overrides : str
        SpeechBrain's yaml string of ``--key value`` items, one per line.

    Returns
    -------
    str

    Example
    -------
    >>> with_test_fold("test_session: 3\\nlr: 1e-5")
    'lr: 1e-5\\ntest_fold: 3\\n'
    >>> with_test_fold("test_session: 3\\ntest_fold: 2")
    Traceback (most recent call last):
    ...
    corpora.CorpusError: --test_session 3 and --test_fold 2 name different folds: keep one.
    """
    lines = (overrides or "").splitlines()
    sessions = [line.split(":", 1)[1].strip() for line in lines if line.startswith("test_session:")]
    if not sessions:
        return overrides
    folds = [line.split(":", 1)[1].strip() for line in lines if line.startswith("test_fold:")]
    if folds and folds[0] != sessions[0]:
        raise CorpusError(f"--test_session {sessions[0]} and --test_fold {folds[0]} name different folds: keep one.")
    kept = [line for line in lines if not line.startswith(("test_session:", "test_fold:"))]
    return "".join(f"{line}\n" for line in [*kept, f"test_fold: {sessions[0]}"])


def check_run_corpus(settings):
    """The checks of a run's corpus that read no audio, made before anything expensive (the backbone, the audio
    checks): the corpus folder or manifest, the protocol and test fold, and that the corpus has what the run's
    tasks need (the labels of ``aux_tasks``, transcripts for ``asr``).

    Arguments
    ---------
    settings : dict
        The run's settings (``custom_modules.settings.checked_settings``).

    Returns
    -------
    CorpusData
    """
    corpus = settings["corpus"]
    data = read_corpus(corpus, corpus_source(corpus, settings["data_folder"], settings["manifest"]))
    protocol = settings["protocol"] or default_protocol(corpus, data.column_folds)
    _, held_out = assign_folds(data, protocol, settings["n_folds"], settings["fold_seed"])
    check_test_fold(settings["test_fold"], held_out, protocol)
    labels = [task for task in data.labels if task != "emo"]
    for task in settings["aux_tasks"]:
        if task in data.dimensions:
            continue
        if task == "asr" and not data.has_transcripts:
            raise CorpusError(
                f"--aux_tasks has asr, but {data.title} ({data.source}) has no transcripts for the CTC task: run "
                f"without it, e.g. --aux_tasks=[{', '.join(t for t in settings['aux_tasks'] if t != 'asr')}]."
            )
        if task != "asr" and task not in labels:
            close = difflib.get_close_matches(task, [*labels, *data.dimensions], n=1)
            dimensions = ", ".join(data.dimensions) or "none"
            raise CorpusError(
                f"--aux_tasks has {task}, which {data.title} does not label: its auxiliary labels are "
                f"{', '.join(labels) or 'none'}, its dimensions {dimensions} (and asr"
                f"{'' if data.has_transcripts else ': no transcripts'})."
                + (f" Did you mean {close[0]}?" if close else "")
            )
    if settings.get("selection_metric", "UA") == "CCC" and not set(settings["aux_tasks"]) & set(data.dimensions):
        raise CorpusError(
            f"--selection_metric CCC selects the model by the dimension tasks' CCC, but --aux_tasks has none: add "
            f"{', '.join(data.dimensions) or 'one (this corpus has none: use --selection_metric UA)'}."
        )
    return data


def prepare_run_fold(settings, command=None):
    """``prepare_fold`` with a run's settings: the train scripts call it on the main process.

    Arguments
    ---------
    settings : dict
        The run's settings.
    command : list of str, optional
        The train script's command line (for the fix of ``BadWavsError``).

    Returns
    -------
    dict
        The summary.
    """
    return prepare_fold(
        settings["corpus"],
        settings["manifest_folder"],
        settings["test_fold"],
        data_folder=settings["data_folder"],
        manifest=settings["manifest"],
        protocol=settings["protocol"],
        n_folds=settings["n_folds"],
        fold_seed=settings["fold_seed"],
        valid_ratio=settings["valid_ratio"],
        seed=settings["seed"],
        min_duration=settings["min_duration"],
        skip_bad_wavs=settings["skip_bad_wavs"],
        allow_speaker_overlap=settings["allow_speaker_overlap"],
        command=command,
        audio_check_cache=settings["audio_check_cache"],
    )


def with_task_classes(overrides, manifest_folder):
    """The overrides with ``task_classes``, the number of classes of each task of the prepared fold, and
    ``task_dimensions``, the training split's mean and standard deviation of each dimension task (the heads'
    sizes and scales come from the corpus, not from the yaml).

    Arguments
    ---------
    overrides : str
    manifest_folder : str

    Returns
    -------
    str
    """
    classes = {task: len(labels) for task, labels in fold_labels(manifest_folder).items()}
    dimensions = fold_dimensions(manifest_folder)
    # JSON is yaml's flow style: appended as text, the other overrides stay as the command line gave them.
    return (
        f"{(overrides or '').rstrip()}\ntask_classes: {json.dumps(classes)}\ntask_dimensions: "
        f"{json.dumps(dimensions)}\n"
    )
