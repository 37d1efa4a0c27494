"""Reads CREMA-D (Cao et al. 2014) from its release layout, as cloned from
https://github.com/CheyneyComputerScience/CREMA-D (with git-lfs) or unpacked from a copy of it.

What the reader uses of the release:

- ``AudioWAV/<actor>_<sentence>_<EMO>_<level>.wav``: 16 kHz mono 16-bit; actors 1001-1091; one of twelve
  sentences (three-letter code); emotion ANG, DIS, FEA, HAP, NEU or SAD; level LO, MD or HI on the sentence
  ``IEO`` and XX (unspecified) otherwise. The utterance id is the file stem.
- ``VideoDemographics.csv``: ``ActorID,Age,Sex,Race,Ethnicity``, Sex ``Male``/``Female`` (the gender label).
- the sentence texts of the release's README (the transcripts).

Two quirks of copies in circulation: one file was released as ``1040_ITH_SAD_X.wav`` (issue #6 of the
repository; renamed ``..._XX`` in October 2022, but older copies keep it), read here as level XX; and a clone
without git-lfs holds pointer text files in place of the wavs, which the audio checks reject, not this reader.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import csv
import os
import re
from collections import Counter

from corpora import CorpusError
from corpora.release import find_release_root
from corpora.transcripts import normalize_transcript

NAME = "crema_d"
TITLE = "CREMA-D"
# Classifier order: IEMOCAP's four first, so that a model's first four classes mean the same on every corpus.
EMOTIONS = ("neu", "hap", "ang", "sad", "fea", "dis")
AUX_LABELS = {"gender": ("F", "M"), "level": ("LO", "MD", "HI", "XX")}
NEEDS_RESAMPLING = False
# The emotion counts of the release as downloaded (7,442 clips): a complete copy gives them.
FULL_RELEASE_COUNTS = {"neu": 1087, "hap": 1271, "ang": 1271, "sad": 1271, "fea": 1271, "dis": 1271}

WAV_FOLDER = "AudioWAV"
DEMOGRAPHICS_FILE = "VideoDemographics.csv"
EMOTION_CODES = {"NEU": "neu", "HAP": "hap", "ANG": "ang", "SAD": "sad", "FEA": "fea", "DIS": "dis"}
SEX_TO_GENDER = {"Female": "F", "Male": "M"}
# The twelve sentences, as the release's README spells them.
SENTENCES = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}
# Only IEO was recorded at three levels; every other sentence is unspecified (XX).
LEVELS_OF_IEO = ("LO", "MD", "HI")
FILE_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")
# Released misnamed (CREMA-D issue #6): its stem and the level it stands for.
KNOWN_MISNAMED = {"1040_ITH_SAD_X": "XX"}


def find_root(data_folder):
    """Returns the absolute CREMA-D folder, given it or the folder that contains it.

    Arguments
    ---------
    data_folder : str
        The folder the user passed.

    Returns
    -------
    str
        The folder holding ``AudioWAV/`` and ``VideoDemographics.csv``.

    Example
    -------
    >>> find_root("/no/such/folder")
    Traceback (most recent call last):
    ...
    corpora.CorpusError: --data_folder '/no/such/folder' does not exist or is not a folder: pass the CREMA-D folder ...
    """
    expected = f"pass the CREMA-D folder that contains {WAV_FOLDER}/ and {DEMOGRAPHICS_FILE}"

    def is_root(folder):
        if not os.path.isdir(os.path.join(folder, WAV_FOLDER)):
            return False
        if not os.path.isfile(os.path.join(folder, DEMOGRAPHICS_FILE)):
            raise CorpusError(f"{folder!r} holds {WAV_FOLDER}/ but no {DEMOGRAPHICS_FILE}: {expected}.")
        return True

    root = find_release_root(data_folder, ("CREMA-D",), is_root, expected)
    if root is None:
        raise CorpusError(f"{data_folder!r} holds no {WAV_FOLDER}/ folder: {expected}.")
    return root


def collect_utterances(root):
    """Reads every wav of ``AudioWAV/`` with its labels, speaker, gender and transcript.

    Arguments
    ---------
    root : str
        From ``find_root``.

    Returns
    -------
    utterances : dict
        ``{utt_id: {"wav", "emo", "speaker", "gender", "transcript", "level", "sentence"}}``; ``speaker`` is
        the actor id (``"1001"``), ``sentence`` its three-letter code.
    dropped : Counter
        Nothing is left out of CREMA-D (every file carries one of the six emotions): always empty.
    """
    genders = read_demographics(os.path.join(root, DEMOGRAPHICS_FILE))
    wav_folder = os.path.join(root, WAV_FOLDER)
    utterances = {}
    for name in sorted(os.listdir(wav_folder)):
        # AppleDouble "._*" files and other hidden files are not recordings.
        if name.startswith(".") or not name.endswith(".wav"):
            continue
        path = os.path.join(wav_folder, name)
        entry = parse_file_name(name[: -len(".wav")], path)
        if entry["speaker"] not in genders:
            raise CorpusError(
                f"{path}: actor {entry['speaker']} is missing from {os.path.join(root, DEMOGRAPHICS_FILE)}."
            )
        utterances[name[: -len(".wav")]] = {"wav": os.path.abspath(path), **entry, "gender": genders[entry["speaker"]]}
    if not utterances:
        raise CorpusError(f"{wav_folder} holds no .wav file: is this copy of CREMA-D complete?")
    return utterances, Counter()


def parse_file_name(stem, path):
    """Reads actor, sentence, emotion and level from a CREMA-D file stem.

    Arguments
    ---------
    stem : str
        e.g. ``1001_IEO_ANG_HI``.
    path : str
        The file, named in errors.

    Returns
    -------
    dict
        ``emo``, ``speaker``, ``transcript``, ``level`` and ``sentence``.

    Example
    -------
    >>> entry = parse_file_name("1001_IEO_ANG_HI", "1001_IEO_ANG_HI.wav")
    >>> entry["emo"], entry["speaker"], entry["level"], entry["transcript"]
    ('ang', '1001', 'HI', "it's eleven o'clock")
    >>> parse_file_name("1001_IEO_JOY_HI", "a/1001_IEO_JOY_HI.wav")
    Traceback (most recent call last):
    ...
    corpora.CorpusError: a/1001_IEO_JOY_HI.wav: unknown emotion code 'JOY' (expected one of NEU, HAP, ...).
    """
    if stem in KNOWN_MISNAMED:
        stem = f"{stem.rsplit('_', 1)[0]}_{KNOWN_MISNAMED[stem]}"
    match = FILE_NAME.match(stem)
    if not match:
        raise CorpusError(f"{path}: the name does not follow CREMA-D's <actor>_<sentence>_<EMO>_<level>.wav pattern.")
    actor, sentence, emotion, level = match.groups()
    if sentence not in SENTENCES:
        raise CorpusError(f"{path}: unknown sentence code {sentence!r} (expected one of {', '.join(SENTENCES)}).")
    if emotion not in EMOTION_CODES:
        raise CorpusError(f"{path}: unknown emotion code {emotion!r} (expected one of {', '.join(EMOTION_CODES)}).")
    if level not in AUX_LABELS["level"]:
        raise CorpusError(f"{path}: unknown level {level!r} (expected one of {', '.join(AUX_LABELS['level'])}).")
    return {
        "emo": EMOTION_CODES[emotion],
        "speaker": actor,
        "transcript": normalize_transcript(SENTENCES[sentence]),
        "level": level,
        "sentence": sentence,
    }


def read_demographics(path):
    """Returns ``{actor_id: "F" or "M"}`` from ``VideoDemographics.csv``.

    Arguments
    ---------
    path : str

    Returns
    -------
    dict
    """
    with open(path, newline="", encoding="utf-8-sig") as table:
        reader = csv.DictReader(table)
        missing = [column for column in ("ActorID", "Sex") if column not in (reader.fieldnames or ())]
        if missing:
            raise CorpusError(
                f"{path}: no column {', '.join(missing)} in its header {reader.fieldnames} "
                "(expected ActorID,Age,Sex,Race,Ethnicity)."
            )
        genders = {}
        for line, row in enumerate(reader, start=2):
            sex = (row["Sex"] or "").strip()
            if sex not in SEX_TO_GENDER:
                raise CorpusError(f"{path}, line {line}: Sex {sex!r} is neither 'Female' nor 'Male'.")
            genders[(row["ActorID"] or "").strip()] = SEX_TO_GENDER[sex]
    return genders
