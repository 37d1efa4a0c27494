"""IEMOCAP's reader: ``IEMOCAP_full_release`` as released, read into what ``corpora/folds.py`` makes a fold of.

- ``emo``: neu, hap (hap and exc merged, as is usual for IEMOCAP: ``EMOTION_MAP``, the corpus's label map), ang,
  sad; the other labels (fru, sur, fea, dis, oth, xxx) are dropped and counted. On the full release this keeps
  5,531 utterances (neu 1708, hap 1636, ang 1103, sad 1084).
- ``gender``: the letter before the turn index (``Ses01F_impro01_M000`` is spoken by the male actor); the
  letter in the dialog name is the actor who wore the motion-capture markers, not the speaker.
- ``style``: ``impro`` (improvised) or ``script`` (scripted), from the dialog name.
- ``valence``, ``arousal``, ``dominance``: the evaluators' mean of each turn, on the annotation's 1-5 scale.
- ``transcript``: the turn's line of its dialog's transcriptions file (``corpora/transcripts.py``).

``iemocap_prepare.py`` (at the repository's root, where SpeechBrain's recipes keep a preparation) prepares one
fold of it.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import os
import re
from collections import Counter

from corpora import CorpusError
from corpora.transcripts import normalize_transcript
from custom_modules.constants import TASK_LABELS

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


def check_corpus(data_folder, test_session):
    """The checks of the corpus that read no audio: a run makes them before anything expensive (loading the
    backbone, preparing the fold), so that a wrong ``--data_folder`` or ``--test_session`` stops it at once.

    The messages are ``find_root``'s and ``check_test_session``'s (a train script makes the same checks for any
    corpus: ``corpora.folds.check_run_corpus``).

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
        raise CorpusError(
            f"--data_folder {data_folder!r} does not exist or is not a folder. "
            "Pass the path of IEMOCAP_full_release (or of the folder that contains it)."
        )
    for candidate in (data_folder, os.path.join(data_folder, "IEMOCAP_full_release")):
        if all(os.path.isdir(_emo_eval_dir(candidate, s)) for s in SESSIONS):
            return os.path.abspath(candidate)
    missing = [s for s in SESSIONS if not os.path.isdir(_emo_eval_dir(data_folder, s))]
    raise CorpusError(
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
        raise CorpusError(f"test_session must be one of 1, 2, 3, 4, 5 (got {test_session!r}).")
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
        raise CorpusError(
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
                    raise CorpusError(f"{path}: utterance {utt_id} does not belong to Session{session}/{dialog}.")
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
        raise CorpusError(f"No neu/hap/exc/ang/sad utterance found under {root}: are the EmoEvaluation files empty?")
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
                raise CorpusError(
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
        raise CorpusError(f"Cannot read {path}: {error}. Restore this file from the original release.") from error
