"""Reads the speech part of RAVDESS (Livingstone and Russo 2018) from its release layout, as unzipped from
``Audio_Speech_Actors_01-24.zip`` (Zenodo record 1188976).

What the reader uses of the release:

- ``Actor_NN/MM-VV-EE-II-SS-RR-NN.wav``: modality MM (01 full audio-video, 02 video only, 03 audio only), vocal
  channel VV (01 speech, 02 song), emotion EE (01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful,
  07 disgust, 08 surprised), intensity II (01 normal, 02 strong; neutral has only normal), statement SS
  (01 "Kids are talking by the door", 02 "Dogs are sitting by the door"), repetition RR (01, 02) and actor NN
  (01-24; odd actors are male, even actors female). 48 kHz mono 16-bit: resampled to 16 kHz downstream.
- Only audio-only speech is read; song and video files (other releases unzipped into the same ``Actor_NN``
  folders) are left out and counted. The utterance id is the file stem.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import os
import re
from collections import Counter

from corpora import CorpusError
from corpora.release import find_release_root
from corpora.transcripts import normalize_transcript

NAME = "ravdess"
TITLE = "RAVDESS"
# Classifier order: IEMOCAP's four first, so that a model's first four classes mean the same on every corpus.
EMOTIONS = ("neu", "hap", "ang", "sad", "cal", "fea", "dis", "sur")
AUX_LABELS = {"gender": ("F", "M"), "intensity": ("normal", "strong")}
# The release is 48 kHz: its files are resampled to the recipe's 16 kHz, not rejected.
NEEDS_RESAMPLING = True
# The emotion counts of the release as downloaded (1,440 speech files): a complete copy gives them.
FULL_RELEASE_COUNTS = {"neu": 96, "hap": 192, "ang": 192, "sad": 192, "cal": 192, "fea": 192, "dis": 192, "sur": 192}

RELEASE_FOLDER = "Audio_Speech_Actors_01-24"
ACTORS = tuple(f"Actor_{number:02d}" for number in range(1, 25))
AUDIO_ONLY, SPEECH = "03", "01"
EMOTION_CODES = {"01": "neu", "02": "cal", "03": "hap", "04": "sad", "05": "ang", "06": "fea", "07": "dis", "08": "sur"}
INTENSITY_CODES = {"01": "normal", "02": "strong"}
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
REPETITIONS = ("01", "02")
# What the other modalities and the song channel are, in the counts of what was left out.
LEFT_OUT = {"01": "full-AV", "02": "video-only"}
FILE_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")


def find_root(data_folder):
    """Returns the absolute folder holding ``Actor_01`` ... ``Actor_24``, given it or its parent.

    Arguments
    ---------
    data_folder : str
        The folder the user passed: the unzipped ``Audio_Speech_Actors_01-24`` or the folder holding it.

    Returns
    -------
    str

    Example
    -------
    >>> find_root("/no/such/folder")
    Traceback (most recent call last):
    ...
    corpora.CorpusError: --data_folder '/no/such/folder' does not exist or is not a folder: pass the RAVDESS folder ...
    """
    expected = f"pass the RAVDESS folder that holds Actor_01 ... Actor_24 (or the {RELEASE_FOLDER} folder above it)"
    root = find_release_root(data_folder, (RELEASE_FOLDER,), _actor_folders, expected)
    if root is None:
        raise CorpusError(f"{data_folder!r} holds no Actor_NN folder: {expected}.")
    return root


def collect_utterances(root):
    """Reads every audio-only speech file of the ``Actor_NN`` folders with its labels, speaker and transcript.

    Arguments
    ---------
    root : str
        From ``find_root``.

    Returns
    -------
    utterances : dict
        ``{utt_id: {"wav", "emo", "speaker", "gender", "transcript", "intensity", "statement", "repetition"}}``;
        ``speaker`` is the folder name (``"Actor_01"``), ``statement`` and ``repetition`` the codes ``"01"``
        or ``"02"``.
    dropped : Counter
        ``full-AV``, ``video-only`` and ``song`` -> files left out.
    """
    utterances, dropped = {}, Counter()
    for actor in _actor_folders(root):
        folder = os.path.join(root, actor)
        for name in sorted(os.listdir(folder)):
            stem, extension = os.path.splitext(name)
            # AppleDouble "._*" files and other hidden files are not recordings.
            if name.startswith(".") or not os.path.isfile(os.path.join(folder, name)):
                continue
            path = os.path.join(folder, name)
            entry = parse_file_name(stem, path, actor)
            if entry is None or extension != ".wav":
                dropped[_left_out_kind(stem, extension)] += 1
                continue
            utterances[stem] = {"wav": os.path.abspath(path), **entry}
    if not utterances:
        raise CorpusError(f"No audio-only speech file (03-01-*.wav) found under {root}: is the speech release there?")
    return utterances, dropped


def parse_file_name(stem, path, actor_folder):
    """Reads the labels of a RAVDESS file stem; ``None`` for a file that is not audio-only speech.

    Arguments
    ---------
    stem : str
        e.g. ``03-01-05-02-01-01-01``.
    path : str
        The file, named in errors.
    actor_folder : str
        The ``Actor_NN`` folder it was found in; the actor of the name must match it.

    Returns
    -------
    dict or None
        ``emo``, ``speaker``, ``gender``, ``transcript``, ``intensity``, ``statement`` and ``repetition``.

    Example
    -------
    >>> entry = parse_file_name("03-01-05-02-01-01-01", "Actor_01/03-01-05-02-01-01-01.wav", "Actor_01")
    >>> entry["emo"], entry["gender"], entry["intensity"], entry["transcript"]
    ('ang', 'M', 'strong', 'kids are talking by the door')
    >>> parse_file_name("03-02-05-02-01-01-01", "Actor_01/03-02-05-02-01-01-01.wav", "Actor_01") is None
    True
    >>> parse_file_name("03-01-05-02-01-01-02", "Actor_01/03-01-05-02-01-01-02.wav", "Actor_01")
    Traceback (most recent call last):
    ...
    corpora.CorpusError: Actor_01/03-01-05-02-01-01-02.wav: the name says actor 02 but the file is in Actor_01.
    """
    match = FILE_NAME.match(stem)
    if not match:
        raise CorpusError(f"{path}: the name does not follow RAVDESS's MM-VV-EE-II-SS-RR-NN pattern.")
    modality, channel, emotion, intensity, statement, repetition, actor = match.groups()
    if f"Actor_{actor}" != actor_folder:
        raise CorpusError(f"{path}: the name says actor {actor} but the file is in {actor_folder}.")
    if modality != AUDIO_ONLY or channel != SPEECH:
        return None
    for code, known, what in (
        (emotion, EMOTION_CODES, "emotion"),
        (intensity, INTENSITY_CODES, "intensity"),
        (statement, STATEMENTS, "statement"),
        (repetition, REPETITIONS, "repetition"),
    ):
        if code not in known:
            raise CorpusError(f"{path}: unknown {what} code {code!r} (expected one of {', '.join(known)}).")
    if EMOTION_CODES[emotion] == "neu" and INTENSITY_CODES[intensity] != "normal":
        raise CorpusError(f"{path}: neutral has only normal intensity (01) in RAVDESS, the name says {intensity}.")
    return {
        "emo": EMOTION_CODES[emotion],
        "speaker": actor_folder,
        "gender": "M" if int(actor) % 2 else "F",
        "transcript": normalize_transcript(STATEMENTS[statement]),
        "intensity": INTENSITY_CODES[intensity],
        "statement": statement,
        "repetition": repetition,
    }


def _actor_folders(folder):
    return [name for name in ACTORS if os.path.isdir(os.path.join(folder, name))]


def _left_out_kind(stem, extension):
    modality, channel = stem.split("-")[:2]
    if modality in LEFT_OUT:
        return LEFT_OUT[modality]
    if channel != SPEECH:
        return "song"
    return f"not a wav ({extension or 'no extension'})"
