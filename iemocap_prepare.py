#!/usr/bin/env python3
"""Prepares IEMOCAP for 4-class speech emotion recognition, one fold at a time: IEMOCAP's reader, and its
command line.

Reads ``IEMOCAP_full_release`` (the folder itself or its parent); ``corpora/folds.py`` writes three SpeechBrain
manifests, ``train.json``, ``valid.json`` and ``test.json``, each ``{utt_id: {wav, duration, emo, gender, style,
transcript, session, speaker}}``:

- ``emo``: neu, hap (hap and exc merged, as is usual for IEMOCAP: ``EMOTION_MAP``, the corpus's label map), ang,
  sad; the other labels (fru, sur, fea, dis, oth, xxx) are dropped and counted. On the full release this keeps
  5,531 utterances (neu 1708, hap 1636, ang 1103, sad 1084).
- ``gender``: the letter before the turn index (``Ses01F_impro01_M000`` is spoken by the male actor); the
  letter in the dialog name is the actor who wore the motion-capture markers, not the speaker.
- ``style``: ``impro`` (improvised) or ``script`` (scripted), from the dialog name.
- ``transcript``: lower-cased to the character set of the CTC head (a-z, apostrophe, space) with
  ``[LAUGHTER]``-style tags removed.

Two protocols: ``sessions`` (the paper's: one of the five sessions held out, ``--test_session`` or
``--test_fold``) and ``speakers`` (one of the ten speakers held out, numbered Ses01F = 1, Ses01M = 2, ...,
Ses05M = 10, as Cai et al. 2021). Validation is drawn from the training utterances, stratified by emotion and
seeded (``valid_ratio`` of each class). The options are stored beside the manifests: running again with the
same options skips the work, and different options redo it.

Command line::

    python iemocap_prepare.py --data_folder /path/to/IEMOCAP_full_release --save_folder S --test_session 1

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import argparse
import logging
import os
import re
import sys
import unicodedata
from collections import Counter

from speechbrain.utils.logger import get_logger

from corpora import CorpusError
from corpora.folds import prepare_fold
from custom_modules.constants import CHARACTERS, DEFAULT_SEED, TASK_LABELS
from custom_modules.errors import INPUT_ERROR_EXIT, RecipeInputError

logger = get_logger(__name__)

# What corpora/folds.py needs of a corpus reader.
NAME = "iemocap"
TITLE = "IEMOCAP"
# The paper's four classes, in the classifier's order, and the two auxiliary labels (custom_modules/constants.py).
EMOTIONS = TASK_LABELS["emo"]
AUX_LABELS = {"gender": TASK_LABELS["gender"], "style": TASK_LABELS["style"]}
# The evaluators' mean valence, activation and dominance of each turn (the [V, A, D] triple of its EmoEvaluation
# line, on the annotation's 1-5 scale): numeric fields of the manifests, the dimension tasks (corpora/folds.py).
# Activation is the field `arousal`, the word the dimensional SER literature uses.
DIMENSIONS = ("valence", "arousal", "dominance")
NEEDS_RESAMPLING = False
MISSING_TRANSCRIPT = "no line in the dialog's transcriptions file"

SESSIONS = (1, 2, 3, 4, 5)
# Raw IEMOCAP label -> the 4 classes used by the paper (and most IEMOCAP SER work).
EMOTION_MAP = {"neu": "neu", "hap": "hap", "exc": "hap", "ang": "ang", "sad": "sad"}
# Published 4-class counts of the full release, used to tell the user whether their copy is complete.
FULL_RELEASE_COUNTS = {"neu": 1708, "hap": 1636, "ang": 1103, "sad": 1084}

EMO_BLOCK = re.compile(r"^\[(\d+\.?\d*) - (\d+\.?\d*)\]\s+(\S+)\s+(\S+)\s+\[([^\]]*)\]")
TRANSCRIPT_LINE = re.compile(r"^(\S+) \[(\d+\.?\d*)-(\d+\.?\d*)\]:\s?(.*)$")
TAG = re.compile(r"\[[^\]]*\]|<[^>]*>")


# IEMOCAP's input errors are the corpus layer's (its preparation is corpora/folds.py's): one type to catch.
IEMOCAPError = CorpusError


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
    protocol="sessions",
):
    """Writes the train / valid / test manifests of one IEMOCAP fold (``corpora.folds.prepare_fold``).

    Arguments
    ---------
    data_folder : str
        ``IEMOCAP_full_release`` or the folder that contains it.
    save_folder : str
        Where ``train.json``, ``valid.json``, ``test.json`` and ``prepare_options.json`` are written.
    test_session : int
        The held-out fold: a session, 1 to 5 (``protocol`` ``speakers``: a speaker, 1 to 10).
    valid_ratio : float
        Share of each emotion class of the training sessions moved to validation.
    seed : int
        Seed of the validation draw (default: the training yaml's).
    min_duration : float
        Utterances shorter than this (seconds) cannot be encoded by wav2vec 2.0 and are reported as bad.
    skip_bad_wavs : bool
        If False (default), a missing, unreadable, empty, silent, too short, stereo or wrong-rate wav (or a
        missing transcript) is an error listing every offender (``corpora.folds.BadWavsError``). If True, those
        utterances are left out, listed in the summary and logged. On the command line: ``--skip_bad_wavs True``.
    command : list of str, optional
        The command line running this preparation (a train script's ``sys.argv``): the error about unusable
        wavs then gives that command with ``--skip_bad_wavs True``.
    audio_check_cache : str, optional
        The JSON file where what was read of each wav is remembered (``custom_modules.audio_checks.AudioChecks``;
        None: the machine's default), so that a wav is read once, here and at every later start of training.
    protocol : str
        ``sessions`` (the paper's) or ``speakers``.

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
    return prepare_fold(
        "iemocap",
        save_folder,
        test_session,
        data_folder=data_folder,
        protocol=protocol,
        valid_ratio=valid_ratio,
        seed=seed,
        min_duration=min_duration,
        skip_bad_wavs=skip_bad_wavs,
        command=command,
        audio_check_cache=audio_check_cache,
    )


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
    corpora.CorpusError: --data_folder '/no/such/folder' does not exist or is not a folder. ...
    """
    return find_root(data_folder), check_test_session(test_session)


def find_root(data_folder):
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
        or not parts[1].startswith(TASK_LABELS["style"])
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
            labels, dimensions = read_emo_evaluation(path)
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
                    **dimensions[utt_id],
                }
    if not utterances:
        raise IEMOCAPError(f"No neu/hap/exc/ang/sad utterance found under {root}: are the EmoEvaluation files empty?")
    return utterances, dropped


def read_emo_evaluation(path):
    """The consensus label and the mean valence, activation (``arousal``) and dominance of every turn of one
    ``EmoEvaluation/<dialog>.txt`` file.

    Arguments
    ---------
    path : str

    Returns
    -------
    labels : dict
        ``{utt_id: raw_label}``.
    dimensions : dict
        ``{utt_id: {"valence": v, "arousal": a, "dominance": d}}`` (floats, 1-5).

    Example
    -------
    >>> path = getfixture("tmp_path") / "Ses01F_impro01.txt"
    >>> _ = path.write_text("[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.0000, 3.5000]\\n")
    >>> read_emo_evaluation(str(path))
    ({'Ses01F_impro01_F000': 'neu'}, {'Ses01F_impro01_F000': {'valence': 2.5, 'arousal': 2.0, 'dominance': 3.5}})
    """
    labels, dimensions = {}, {}
    for line in _read_lines(path):
        match = EMO_BLOCK.match(line)
        if match:
            utt_id = match.group(3)
            labels[utt_id] = match.group(4)
            values = match.group(5).split(",")
            try:
                dimensions[utt_id] = dict(zip(DIMENSIONS, map(float, values), strict=True))
            except ValueError as error:
                raise IEMOCAPError(
                    f"{path}: the [V, A, D] triple of {utt_id} is not three numbers ({match.group(5)!r}). Restore "
                    "this file from the original release."
                ) from error
    return labels, dimensions


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


def _emo_eval_dir(root, session):
    return os.path.join(root, f"Session{session}", "dialog", "EmoEvaluation")


def _read_lines(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise IEMOCAPError(f"Cannot read {path}: {error}. Restore this file from the original release.") from error


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
    parser.add_argument(
        "--test_session", required=True, help="held-out session, 1-5 (--protocol speakers: speaker, 1-10)"
    )
    parser.add_argument("--protocol", choices=("sessions", "speakers"), default="sessions", help="default: %(default)s")
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
