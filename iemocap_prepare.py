#!/usr/bin/env python3
"""Prepares IEMOCAP for 4-class speech emotion recognition, one leave-one-session-out fold at a time.

Reads ``IEMOCAP_full_release`` (the folder itself or its parent) and writes three SpeechBrain manifests,
``train.json``, ``valid.json`` and ``test.json``, each ``{utt_id: {wav, duration, emo, gender, style,
transcript, session, speaker}}``:

- ``emo``: neu, hap (hap and exc merged, as is usual for IEMOCAP), ang, sad; the other labels (fru, sur, fea,
  dis, oth, xxx) are dropped and counted. On the full release this keeps 5,531 utterances
  (neu 1708, hap 1636, ang 1103, sad 1084).
- ``gender``: the letter before the turn index (``Ses01F_impro01_M000`` is spoken by the male actor); the
  letter in the dialog name is the actor who wore the motion-capture markers, not the speaker.
- ``style``: ``impro`` (improvised) or ``script`` (scripted), from the dialog name.
- ``transcript``: lower-cased to the character set of the CTC head (a-z, apostrophe, space) with
  ``[LAUGHTER]``-style tags removed.

The test set is one session; validation is drawn from the four training sessions, stratified by emotion and
seeded (``valid_ratio`` of each class). The options are stored beside the manifests: running again with the
same options skips the work, and different options redo it.

Command line::

    python iemocap_prepare.py --data_folder /path/to/IEMOCAP_full_release --save_folder S --test_session 1

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import argparse
import json
import logging
import os
import random
import re
import sys
import unicodedata
from collections import Counter, defaultdict

from speechbrain.utils.logger import get_logger

from custom_modules.audio_checks import AudioChecks
from custom_modules.constants import CHARACTERS, DEFAULT_SEED, EMOTIONS, PREPARATION_RECORD, SPLITS, STYLES
from custom_modules.errors import INPUT_ERROR_EXIT, SKIP_BAD_WAVS, RecipeInputError, command_with_skip_bad_wavs

logger = get_logger(__name__)

SESSIONS = (1, 2, 3, 4, 5)
# Raw IEMOCAP label -> the 4 classes used by the paper (and most IEMOCAP SER work).
EMOTION_MAP = {"neu": "neu", "hap": "hap", "exc": "hap", "ang": "ang", "sad": "sad"}
# Published 4-class counts of the full release, used to tell the user whether their copy is complete.
FULL_RELEASE_COUNTS = {"neu": 1708, "hap": 1636, "ang": 1103, "sad": 1084}
# Bumped whenever the manifest format or the selection rules change, so old manifests are redone.
PREPARE_VERSION = 3

EMO_BLOCK = re.compile(r"^\[(\d+\.?\d*) - (\d+\.?\d*)\]\s+(\S+)\s+(\S+)\s+\[")
TRANSCRIPT_LINE = re.compile(r"^(\S+) \[(\d+\.?\d*)-(\d+\.?\d*)\]:\s?(.*)$")
TAG = re.compile(r"\[[^\]]*\]|<[^>]*>")


class IEMOCAPError(RecipeInputError, ValueError):
    """Raised for input that cannot be prepared; the message names the problem and the fix."""


class BadWavsError(IEMOCAPError):
    """Annotated utterances without a usable wav or transcript.

    The fix depends on the entry point (this script, or a train script that prepares its fold): the message
    gives that script's command with ``--skip_bad_wavs True`` when it is known.

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
            f"{listing}\nFix or restore these files (the full release has all of them), or leave them out on purpose "
            f"(they are then listed in prepare_options.json and in the runs' test_metrics.json): {leave_out}"
        )


def prepare_iemocap(
    data_folder,
    save_folder,
    test_session,
    valid_ratio=0.1,
    seed=DEFAULT_SEED,
    min_duration=0.1,
    skip_bad_wavs=False,
    command=None,
    audio_check_cache=None,
):
    """Writes the train / valid / test manifests of one leave-one-session-out fold.

    Arguments
    ---------
    data_folder : str
        ``IEMOCAP_full_release`` or the folder that contains it.
    save_folder : str
        Where ``train.json``, ``valid.json``, ``test.json`` and ``prepare_options.json`` are written.
    test_session : int
        The held-out session, 1 to 5.
    valid_ratio : float
        Share of each emotion class of the training sessions moved to validation.
    seed : int
        Seed of the validation draw (default: the training yaml's).
    min_duration : float
        Utterances shorter than this (seconds) cannot be encoded by wav2vec 2.0 and are reported as bad.
    skip_bad_wavs : bool
        If False (default), a missing, unreadable, empty, silent, too short, stereo or wrong-rate wav (or a
        missing transcript) is an error listing every offender (``BadWavsError``). If True, those utterances are
        left out, listed in the summary and logged. On the command line: ``--skip_bad_wavs True``.
    command : list of str, optional
        The command line running this preparation (a train script's ``sys.argv``): the error about unusable
        wavs then gives that command with ``--skip_bad_wavs True``.
    audio_check_cache : str, optional
        The JSON file where what was read of each wav is remembered (``custom_modules.audio_checks.AudioChecks``;
        None: the machine's default), so that a wav is read once, here and at every later start of training.

    Returns
    -------
    dict
        The summary: counts per split, class, session, dropped labels and skipped utterances.

    Example
    -------
    >>> import tempfile
    >>> from synthetic.corpus import generate_corpus
    >>> corpus, out = tempfile.mkdtemp(), tempfile.mkdtemp()
    >>> _ = generate_corpus(corpus, seed=0)
    >>> summary = prepare_iemocap(corpus, out, test_session=2)
    >>> sorted(os.listdir(out))
    ['prepare_options.json', 'test.json', 'train.json', 'valid.json']
    >>> summary["splits"]["test"]["sessions"]
    {'2': ...}
    """
    root, test_session = check_corpus(data_folder, test_session)
    if not 0.0 <= valid_ratio < 1.0:
        raise IEMOCAPError(f"valid_ratio must be in [0, 1), got {valid_ratio}.")
    if not isinstance(skip_bad_wavs, bool):
        # A bare --skip_bad_wavs in a train script's overrides arrives as None (yaml null).
        raise IEMOCAPError(
            f"skip_bad_wavs must be True or False, got {skip_bad_wavs!r}: write {' '.join(SKIP_BAD_WAVS)} "
            "on the command line (the option takes a value)."
        )
    options = {
        "data_folder": root,
        "test_session": test_session,
        "valid_ratio": valid_ratio,
        "seed": seed,
        "min_duration": min_duration,
        "skip_bad_wavs": skip_bad_wavs,
        "version": PREPARE_VERSION,
    }
    stored = _load_stored_options(save_folder)
    if stored is not None and stored["options"] == options:
        logger.info(
            "Skipping IEMOCAP preparation: %s already holds manifests made with the same options (%s).",
            save_folder,
            _describe_options(options),
        )
        return stored["summary"]
    if stored is not None:
        changed = sorted(k for k in options if stored["options"].get(k) != options[k])
        logger.info("Redoing IEMOCAP preparation in %s: options changed (%s).", save_folder, ", ".join(changed))

    utterances, dropped = collect_utterances(root)
    utterances, skipped = check_audio(utterances, min_duration, skip_bad_wavs, command, audio_check_cache)
    splits = split_fold(utterances, test_session, valid_ratio, seed)
    total = sum(len(split) for split in splits.values())
    assert total == len(utterances), f"split sizes {total} do not add up to {len(utterances)} utterances"

    summary = summarize(splits, dropped, skipped, test_session)
    os.makedirs(save_folder, exist_ok=True)
    # The options file is written last: an interrupted run leaves no stale "done" marker.
    options_path = os.path.join(save_folder, PREPARATION_RECORD)
    if os.path.exists(options_path):
        os.remove(options_path)
    for name, split in splits.items():
        _write_json(os.path.join(save_folder, f"{name}.json"), split)
    _write_json(options_path, {"options": options, "summary": summary})
    log_summary(summary, save_folder)
    return summary


def check_corpus(data_folder, test_session):
    """The checks of the corpus that read no audio: a run makes them before anything expensive (loading the
    backbone, preparing the fold), so that a wrong ``--data_folder`` or ``--test_session`` stops it at once.

    The train scripts call it before their yaml builds the backbone, and ``recipes/run_folds.py`` once before any
    fold starts; the messages are ``find_iemocap_root``'s and ``check_test_session``'s.

    Arguments
    ---------
    data_folder : str
        ``IEMOCAP_full_release`` or the folder that contains it.
    test_session : int or str
        The held-out session.

    Returns
    -------
    root : str
        The absolute ``IEMOCAP_full_release`` folder.
    test_session : int

    Example
    -------
    >>> check_corpus("/no/such/folder", 1)
    Traceback (most recent call last):
    ...
    iemocap_prepare.IEMOCAPError: --data_folder '/no/such/folder' does not exist or is not a folder. ...
    """
    return find_iemocap_root(data_folder), check_test_session(test_session)


def find_iemocap_root(data_folder):
    """Returns the absolute ``IEMOCAP_full_release`` folder given it or its parent.

    Arguments
    ---------
    data_folder : str
        The folder the user passed.

    Returns
    -------
    str
        Absolute path of the folder holding ``Session1`` ... ``Session5``.
    """
    if data_folder is None or not os.path.isdir(data_folder):
        raise IEMOCAPError(
            f"--data_folder {data_folder!r} does not exist or is not a folder. "
            "Pass the path of IEMOCAP_full_release (or of the folder that contains it)."
        )
    for candidate in (data_folder, os.path.join(data_folder, "IEMOCAP_full_release")):
        if all(os.path.isdir(_emo_eval_dir(candidate, s)) for s in SESSIONS):
            return os.path.abspath(candidate)
    missing = [s for s in SESSIONS if not os.path.isdir(_emo_eval_dir(data_folder, s))]
    raise IEMOCAPError(
        f"{data_folder!r} is not IEMOCAP_full_release nor its parent: "
        f"Session{missing[0]}/dialog/EmoEvaluation is missing (looked for Session1..Session5). "
        "Pass the folder that holds Session1 ... Session5."
    )


def check_test_session(test_session):
    """Returns the test session as an int, or raises a clear error if it is not 1 to 5.

    Arguments
    ---------
    test_session : int or str
        The held-out session.

    Returns
    -------
    int
    """
    if isinstance(test_session, bool) or str(test_session).strip() not in {str(s) for s in SESSIONS}:
        raise IEMOCAPError(f"test_session must be one of 1, 2, 3, 4, 5 (got {test_session!r}).")
    return int(test_session)


def parse_utterance_id(utt_id):
    """Reads session, dialog, style, speaker gender and speaker from an IEMOCAP utterance id.

    Ids are parsed by their ``_``-separated parts, never by character position: dialog names vary in
    length (``Ses03M_impro05a``, ``Ses01F_script01_1``).

    Arguments
    ---------
    utt_id : str
        e.g. ``Ses01F_impro01_M000``.

    Returns
    -------
    dict
        ``session`` (int), ``dialog``, ``style``, ``gender`` and ``speaker`` (e.g. ``Ses01M``).

    Example
    -------
    >>> parse_utterance_id("Ses01F_impro01_M000")["gender"]
    'M'
    >>> info = parse_utterance_id("Ses03M_script01_1b_F012")
    >>> info["dialog"], info["style"], info["speaker"]
    ('Ses03M_script01_1b', 'script', 'Ses03F')
    """
    parts = utt_id.split("_")
    turn = parts[-1]
    header = parts[0]
    if (
        len(parts) < 3
        or not re.fullmatch(r"Ses0[1-5][FM]", header)
        or not re.fullmatch(r"[FM]\d+", turn)
        or not parts[1].startswith(STYLES)
    ):
        raise IEMOCAPError(
            f"Utterance id {utt_id!r} does not follow IEMOCAP's SesNNX_<impro|script>..._<F|M>NNN pattern."
        )
    session = int(header[3:5])
    gender = turn[0]
    return {
        "session": session,
        "dialog": "_".join(parts[:-1]),
        "style": "impro" if parts[1].startswith("impro") else "script",
        "gender": gender,
        "speaker": f"Ses{session:02d}{gender}",
    }


def normalize_transcript(text):
    """Maps a raw IEMOCAP transcript onto the CTC character set.

    Tags such as ``[LAUGHTER]`` are removed, hyphens become spaces, letters are lower-cased and stripped of
    accents, every other character is dropped, and spaces are collapsed.

    Arguments
    ---------
    text : str
        The transcript as written in ``transcriptions/<dialog>.txt``.

    Returns
    -------
    str

    Example
    -------
    >>> normalize_transcript("Oh, I -- I don't know! [LAUGHTER] Café?")
    "oh i i don't know cafe"
    """
    text = TAG.sub(" ", text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = text.lower().replace("-", " ").replace("`", "'")
    text = "".join(c for c in text if c in CHARACTERS)
    return " ".join(text.split())


def collect_utterances(root):
    """Parses every session's EmoEvaluation and transcription files and keeps the 4-class utterances.

    Arguments
    ---------
    root : str
        The ``IEMOCAP_full_release`` folder.

    Returns
    -------
    utterances : dict
        ``{utt_id: entry}`` for the kept utterances (``wav`` not yet checked).
    dropped : Counter
        Raw label -> count of the annotated utterances outside the 4 classes.
    """
    utterances, dropped = {}, Counter()
    for session in SESSIONS:
        emo_dir = _emo_eval_dir(root, session)
        for name in sorted(os.listdir(emo_dir)):
            path = os.path.join(emo_dir, name)
            # Only the top-level <dialog>.txt files; Categorical/, Attribute/, Self-evaluation/ and
            # AppleDouble "._*" files that some copies carry are not annotations of the consensus label.
            if name.startswith(".") or not name.endswith(".txt") or not os.path.isfile(path):
                continue
            dialog = name[: -len(".txt")]
            labels = read_emo_evaluation(path)
            transcripts = read_transcriptions(os.path.join(root, f"Session{session}", "dialog", "transcriptions", name))
            for utt_id, label in labels.items():
                if label not in EMOTION_MAP:
                    dropped[label] += 1
                    continue
                info = parse_utterance_id(utt_id)
                if info["session"] != session or info["dialog"] != dialog:
                    raise IEMOCAPError(f"{path}: utterance {utt_id} does not belong to Session{session}/{dialog}.")
                raw_text = transcripts.get(utt_id)
                utterances[utt_id] = {
                    "wav": os.path.join(root, f"Session{session}", "sentences", "wav", dialog, f"{utt_id}.wav"),
                    "emo": EMOTION_MAP[label],
                    "gender": info["gender"],
                    "style": info["style"],
                    "transcript": None if raw_text is None else normalize_transcript(raw_text),
                    "session": session,
                    "speaker": info["speaker"],
                }
    if not utterances:
        raise IEMOCAPError(f"No neu/hap/exc/ang/sad utterance found under {root}: are the EmoEvaluation files empty?")
    return utterances, dropped


def read_emo_evaluation(path):
    """Returns ``{utt_id: raw_label}`` from one ``EmoEvaluation/<dialog>.txt`` file.

    Arguments
    ---------
    path : str

    Returns
    -------
    dict
    """
    labels = {}
    for line in _read_lines(path):
        match = EMO_BLOCK.match(line)
        if match:
            labels[match.group(3)] = match.group(4)
    return labels


def read_transcriptions(path):
    """Returns ``{utt_id: raw_text}`` from one ``transcriptions/<dialog>.txt`` file.

    Lines that are not ``<utt_id> [start-end]: text`` (speaker-only lines such as ``M: [BREATHING]``) are
    ignored; ``..._MXX0``-style ids are kept here but never match an annotated utterance.

    Arguments
    ---------
    path : str

    Returns
    -------
    dict
    """
    if not os.path.isfile(path):
        return {}
    transcripts = {}
    for line in _read_lines(path):
        match = TRANSCRIPT_LINE.match(line.strip())
        if match:
            transcripts[match.group(1)] = match.group(4)
    return transcripts


def check_audio(utterances, min_duration, skip_bad_wavs, command=None, audio_check_cache=None):
    """Checks every wav (each read once per machine, see ``AudioChecks``) and sorts out the utterances that
    cannot be trained on.

    Arguments
    ---------
    utterances : dict
        From ``collect_utterances``.
    min_duration : float
        Seconds.
    skip_bad_wavs : bool
        Leave bad utterances out (True) or raise an error listing them (False).
    command : list of str, optional
        The command line running the preparation, for the error's fix.
    audio_check_cache : str, optional
        See ``prepare_iemocap``.

    Returns
    -------
    kept : dict
        Utterances with a readable 16 kHz mono wav, with ``duration`` filled in.
    skipped : dict
        ``{utt_id: reason}``.
    """
    kept, problems = {}, {}
    checks = AudioChecks(audio_check_cache)
    checks.read(entry["wav"] for entry in utterances.values())
    for utt_id, entry in utterances.items():
        reason, duration = checks.problem(entry["wav"], min_duration)
        if reason is None and entry["transcript"] is None:
            reason = "no line in the dialog's transcriptions file"
        if reason is not None:
            problems[utt_id] = reason
            continue
        kept[utt_id] = {"wav": entry["wav"], "duration": duration, **{k: v for k, v in entry.items() if k != "wav"}}
    if problems and not skip_bad_wavs:
        by_reason = Counter(reason.split(":")[0] for reason in problems.values())
        examples = "\n".join(f"  {u}: {r} ({utterances[u]['wav']})" for u, r in list(problems.items())[:10])
        raise BadWavsError(
            f"{len(problems)} of {len(utterances)} annotated utterances cannot be used "
            f"({', '.join(f'{n} {r}' for r, n in by_reason.items())}):\n{examples}",
            command_with_skip_bad_wavs(command) if command else None,
        )
    for utt_id, reason in problems.items():
        logger.warning("Leaving out %s: %s", utt_id, reason)
    return kept, problems


def split_fold(utterances, test_session, valid_ratio, seed):
    """Splits utterances into train / valid / test for one leave-one-session-out fold.

    Arguments
    ---------
    utterances : dict
    test_session : int
    valid_ratio : float
    seed : int

    Returns
    -------
    dict
        ``{"train": {...}, "valid": {...}, "test": {...}}``
    """
    splits = {name: {} for name in SPLITS}
    by_class = defaultdict(list)
    for utt_id in sorted(utterances):
        entry = utterances[utt_id]
        if entry["session"] == test_session:
            splits["test"][utt_id] = entry
        else:
            by_class[entry["emo"]].append(utt_id)
    rng = random.Random(seed)
    for emo in EMOTIONS:
        ids = by_class[emo]
        rng.shuffle(ids)
        n_valid = round(len(ids) * valid_ratio)
        for index, utt_id in enumerate(ids):
            splits["valid" if index < n_valid else "train"][utt_id] = utterances[utt_id]
    for name in ("train", "valid"):
        splits[name] = dict(sorted(splits[name].items()))
    return splits


def summarize(splits, dropped, skipped, test_session):
    """Counts per split, class, gender, style and session, and the utterances left out by the split they lost.

    Utterances are left out before the validation draw: those of the test session are the test set's, those of
    the training sessions ``train_or_valid``.

    Arguments
    ---------
    splits : dict
    dropped : Counter
    skipped : dict
        ``{utt_id: reason}``.
    test_session : int

    Returns
    -------
    dict
    """
    skipped_by_split = {"test": {}, "train_or_valid": {}}
    for utt_id, reason in skipped.items():
        split = "test" if parse_utterance_id(utt_id)["session"] == test_session else "train_or_valid"
        skipped_by_split[split][utt_id] = reason
    summary = {
        "splits": {},
        "dropped_labels": dict(sorted(dropped.items())),
        "skipped": skipped,
        "skipped_by_split": skipped_by_split,
    }
    totals = Counter()
    for name, split in splits.items():
        entries = split.values()
        emo = Counter(e["emo"] for e in entries)
        totals.update(emo)
        summary["splits"][name] = {
            "utterances": len(split),
            "hours": round(sum(e["duration"] for e in entries) / 3600, 3),
            "emo": {k: emo[k] for k in EMOTIONS},
            "gender": dict(sorted(Counter(e["gender"] for e in entries).items())),
            "style": dict(sorted(Counter(e["style"] for e in entries).items())),
            "sessions": {str(k): v for k, v in sorted(Counter(e["session"] for e in entries).items())},
        }
    summary["total"] = {"utterances": sum(totals.values()), "emo": {k: totals[k] for k in EMOTIONS}}
    summary["matches_full_release"] = summary["total"]["emo"] == FULL_RELEASE_COUNTS
    return summary


def log_summary(summary, save_folder):
    """Logs what was written, in a table a person can check against the corpus."""
    lines = [
        f"IEMOCAP manifests written to {save_folder}:",
        f"{'split':<6} {'utts':>5} " + " ".join(f"{e:>5}" for e in EMOTIONS) + "  sessions",
    ]
    for name, stats in summary["splits"].items():
        counts = " ".join(f"{stats['emo'][e]:>5}" for e in EMOTIONS)
        lines.append(f"{name:<6} {stats['utterances']:>5} {counts}  {stats['sessions']}")
    total = summary["total"]
    lines.append(f"{'total':<6} {total['utterances']:>5} " + " ".join(f"{total['emo'][e]:>5}" for e in EMOTIONS))
    lines.append(
        f"dropped labels: {summary['dropped_labels']}; left out (bad audio/transcript): {len(summary['skipped'])}"
    )
    if summary["matches_full_release"]:
        lines.append("Counts match the published full-release totals (5,531 utterances).")
    else:
        lines.append(
            f"Counts differ from the full release ({sum(FULL_RELEASE_COUNTS.values())}: {FULL_RELEASE_COUNTS}); "
            "expected for a generated corpus, otherwise check your copy."
        )
    logger.info("\n".join(lines))


def _emo_eval_dir(root, session):
    return os.path.join(root, f"Session{session}", "dialog", "EmoEvaluation")


def _read_lines(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise IEMOCAPError(f"Cannot read {path}: {error}. Restore this file from the original release.") from error


def _load_stored_options(save_folder):
    """The record of the preparation stored in ``save_folder`` if it and the manifests it describes are whole;
    None (prepare again) if anything is missing or damaged, which is logged with the file's name."""
    path = os.path.join(save_folder, PREPARATION_RECORD)
    if not os.path.isfile(path) or not all(os.path.isfile(os.path.join(save_folder, f"{s}.json")) for s in SPLITS):
        return None
    stored = _read_whole_json(path)
    if not isinstance(stored, dict) or not {"options", "summary"} <= set(stored):
        logger.warning("%s is damaged (cut short or not written by this script): preparing again.", path)
        return None
    # A manifest cut short (a full disk, an interrupted copy) must not be trusted because its options match.
    for split in SPLITS:
        manifest = os.path.join(save_folder, f"{split}.json")
        content = _read_whole_json(manifest)
        expected = stored["summary"].get("splits", {}).get(split, {}).get("utterances")
        if not isinstance(content, dict) or len(content) != expected:
            found = "unreadable JSON" if content is None else f"{len(content)} entries"
            logger.warning(
                "%s is damaged (%s where preparation wrote %s utterances): preparing again.", manifest, found, expected
            )
            return None
    return stored


def _read_whole_json(path):
    """The content of a JSON file, or None if it cannot be read as JSON (cut short, overwritten, unreadable)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def _describe_options(options):
    return ", ".join(f"{k}={v}" for k, v in options.items() if k != "data_folder")


def _write_json(path, content):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(content, handle, indent=2)


def _boolean(text):
    if text not in ("True", "False", "true", "false"):
        raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")
    return text in ("True", "true")


def main(argv=None):
    """Command-line entry point; errors are printed without a traceback."""
    command = sys.argv if argv is None else ["iemocap_prepare.py", *argv]
    parser = argparse.ArgumentParser(prog="iemocap_prepare.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_folder", required=True, help="IEMOCAP_full_release or its parent")
    parser.add_argument("--save_folder", required=True, help="where the manifests are written")
    parser.add_argument("--test_session", required=True, help="held-out session, 1-5")
    parser.add_argument("--valid_ratio", type=float, default=0.1)
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="seed of the validation draw (the training yaml's)"
    )
    parser.add_argument("--min_duration", type=float, default=0.1)
    parser.add_argument(
        "--skip_bad_wavs",
        type=_boolean,
        default=False,
        metavar="{True,False}",
        help="True leaves out unusable wavs (listed) instead of stopping; spelled as in the train scripts",
    )
    parser.add_argument(
        "--audio_check_cache",
        default=None,
        help="JSON file remembering the wavs already checked (default: one per machine in the user's cache folder)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        prepare_iemocap(**vars(args), command=command)
    except RecipeInputError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return INPUT_ERROR_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main())
