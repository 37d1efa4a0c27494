"""Generates a small synthetic corpus in the exact layout and file formats of the CREMA-D release.

- ``AudioWAV/<actor>_<sentence>_<EMO>_<level>.wav``: 16 kHz mono 16-bit; actors from 1001; the release's
  twelve sentences spoken letter by letter (``synthetic.corpus``'s sounds); the six emotions by prosody
  (``synthetic.corpus.EMOTION_PROSODY``); gender by voice; the levels LO, MD and HI of sentence IEO by loudness
  (XX, the unspecified level of every other sentence and of neutral IEO, at MD's).
- ``VideoDemographics.csv`` (``ActorID,Age,Sex,Race,Ethnicity``) and ``SentenceFilenames.csv``
  (``Stimulus_Number,Filename``), quoted as the release quotes them. Odd actors are male, even ones female.

Each actor speaks ``clips_per_actor`` clips: clip k says sentence k (mod 12) with emotions rotating over clips
and actors, so that every emotion, every sentence and, over the actors, every level occurs.

Command line::

    python -m synthetic.crema_d --out_dir /tmp/CREMA-D --seed 0

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import csv
import os

from corpora.crema_d import DEMOGRAPHICS_FILE, EMOTION_CODES, LEVELS_OF_IEO, SENTENCES, WAV_FOLDER
from custom_modules.constants import SAMPLE_RATE
from synthetic.acted import command_line, refuse_existing, speak, stream, write_wav
from synthetic.corpus import speaker_voice

FIRST_ACTOR = 1001
SENTENCE_FILE = "SentenceFilenames.csv"
# Loudness of each level relative to the emotion's own (XX: unspecified, spoken as medium).
LEVEL_GAIN = {"LO": 0.35, "MD": 0.65, "XX": 0.65, "HI": 1.0}
RACES = ("African American", "Asian", "Caucasian", "Unknown")
ETHNICITIES = ("Hispanic", "Not Hispanic")
_VOICE, _CLIP, _DEMOGRAPHICS = range(3)
_CORPUS = 11


def generate_crema_d(out_dir, seed=0, actors=10, clips_per_actor=12, sample_rate=SAMPLE_RATE):
    """Writes a synthetic CREMA-D and returns its truth.

    Arguments
    ---------
    out_dir : str
        Plays the role of the CREMA-D folder; must not hold ``AudioWAV`` yet.
    seed : int
        The same seed gives byte-identical files.
    actors : int
        Actors 1001, 1002 ...: 1 to 91 (odd ones male).
    clips_per_actor : int
        1 to 72 (each sentence with each emotion once at most).
    sample_rate : int
        Of the wavs (the release is 16 kHz).

    Returns
    -------
    dict
        ``{utt_id: {"wav", "emo", "speaker", "gender", "level", "sentence", "duration"}}``.

    Example
    -------
    >>> import tempfile
    >>> truth = generate_crema_d(tempfile.mkdtemp(), actors=2, clips_per_actor=2)
    >>> sorted(truth)
    ['1001_IEO_NEU_XX', '1001_TIE_HAP_XX', '1002_IEO_HAP_MD', '1002_TIE_ANG_XX']
    """
    if not 1 <= actors <= 91 or not 1 <= clips_per_actor <= 72:
        raise ValueError(f"actors must be 1 to 91 and clips_per_actor 1 to 72 (got {actors}, {clips_per_actor}).")
    refuse_existing(out_dir, WAV_FOLDER, DEMOGRAPHICS_FILE)
    sentences, emotions = list(SENTENCES), list(EMOTION_CODES)
    truth, demographics = {}, []
    for index in range(actors):
        actor = str(FIRST_ACTOR + index)
        gender = "M" if int(actor) % 2 else "F"
        voice = speaker_voice(gender, stream(seed, _CORPUS, _VOICE, index))
        for clip in range(clips_per_actor):
            sentence = sentences[clip % len(sentences)]
            # The shift by clip // 12 gives a sentence another emotion on each round through the twelve.
            emotion = emotions[(clip + index + clip // len(sentences)) % len(emotions)]
            label = EMOTION_CODES[emotion]
            level = "XX"
            if sentence == "IEO" and label != "neu":
                level = LEVELS_OF_IEO[(index + clip // len(sentences)) % len(LEVELS_OF_IEO)]
            utt_id = f"{actor}_{sentence}_{emotion}_{level}"
            rng = stream(seed, _CORPUS, _CLIP, index, clip)
            samples = speak(SENTENCES[sentence], label, voice, rng, LEVEL_GAIN[level], sample_rate=sample_rate)
            wav = os.path.abspath(os.path.join(out_dir, WAV_FOLDER, f"{utt_id}.wav"))
            duration = write_wav(wav, samples, sample_rate)
            truth[utt_id] = {
                "wav": wav,
                "emo": label,
                "speaker": actor,
                "gender": gender,
                "level": level,
                "sentence": sentence,
                "duration": duration,
            }
        rng = stream(seed, _CORPUS, _DEMOGRAPHICS, index)
        sex = "Male" if gender == "M" else "Female"
        demographics.append([int(actor), int(rng.integers(20, 75)), sex, rng.choice(RACES), rng.choice(ETHNICITIES)])
    _write_csv(os.path.join(out_dir, DEMOGRAPHICS_FILE), ["ActorID", "Age", "Sex", "Race", "Ethnicity"], demographics)
    stimuli = [[number, utt_id] for number, utt_id in enumerate(truth, start=1)]
    _write_csv(os.path.join(out_dir, SENTENCE_FILE), ["Stimulus_Number", "Filename"], stimuli)
    return truth


def _write_csv(path, header, rows):
    # The release quotes every text and no number ("ActorID","Age",... then 1001,51,"Male",...), LF line ends.
    with open(path, "w", newline="", encoding="ascii") as table:
        writer = csv.writer(table, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([[str(cell) if isinstance(cell, str) else cell for cell in row] for row in rows])


# Command line: generates a corpus and prints a short summary.
main = command_line(
    __doc__.split("\n\n")[0], "the CREMA-D-like folder to create", generate_crema_d, actors=10, clips_per_actor=12
)


if __name__ == "__main__":
    main()
