"""Generates a small synthetic corpus in the exact layout and file formats of RAVDESS's speech release
(``Audio_Speech_Actors_01-24``).

- ``Actor_NN/03-01-EE-II-SS-RR-NN.wav``: 48 kHz mono 16-bit (rendered at 16 kHz and resampled, so the reader's
  resampling is exercised); all eight emotions by prosody (``synthetic.corpus.EMOTION_PROSODY``, calm included);
  normal and strong intensity by loudness (neutral only normal, as in the release); both statements and both
  repetitions spoken letter by letter; odd actors male, even ones female, by voice.

Each actor speaks ``clips_per_emotion`` files of each emotion, walking through that emotion's (intensity,
statement, repetition) combinations from an actor-dependent start, so that every combination occurs.

Command line::

    python -m synthetic.ravdess --out_dir /tmp/Audio_Speech_Actors_01-24 --seed 0

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import itertools
import os

from corpora.ravdess import ACTORS, AUDIO_ONLY, EMOTION_CODES, INTENSITY_CODES, REPETITIONS, SPEECH, STATEMENTS
from synthetic.acted import command_line, refuse_existing, speak, stream, write_wav
from synthetic.corpus import speaker_voice

RELEASE_SAMPLE_RATE = 48000
# Loudness of each intensity relative to the emotion's own.
INTENSITY_GAIN = {"01": 0.55, "02": 1.0}
_VOICE, _CLIP = range(2)
_CORPUS = 12


def generate_ravdess(out_dir, seed=0, actors=10, clips_per_emotion=1, sample_rate=RELEASE_SAMPLE_RATE):
    """Writes a synthetic RAVDESS speech release and returns its truth.

    Arguments
    ---------
    out_dir : str
        Plays the role of ``Audio_Speech_Actors_01-24``; must not hold any ``Actor_NN`` folder yet.
    seed : int
        The same seed gives byte-identical files.
    actors : int
        Actors 01 ... (1 to 24).
    clips_per_emotion : int
        Files per actor and emotion, 1 to 8 (neutral has 4 combinations at most).
    sample_rate : int
        Of the wavs (the release is 48 kHz).

    Returns
    -------
    dict
        ``{utt_id: {"wav", "emo", "speaker", "gender", "intensity", "statement", "repetition", "duration"}}``.

    Example
    -------
    >>> import tempfile
    >>> truth = generate_ravdess(tempfile.mkdtemp(), actors=1)
    >>> len(truth), truth["03-01-05-02-01-02-01"]["intensity"], sorted({e["emo"] for e in truth.values()})
    (8, 'strong', ['ang', 'cal', 'dis', 'fea', 'hap', 'neu', 'sad', 'sur'])
    """
    if not 1 <= actors <= len(ACTORS) or not 1 <= clips_per_emotion <= 8:
        raise ValueError(f"actors must be 1 to 24 and clips_per_emotion 1 to 8 (got {actors}, {clips_per_emotion}).")
    refuse_existing(out_dir, *ACTORS)
    truth = {}
    for number in range(1, actors + 1):
        actor = f"{number:02d}"
        gender = "M" if number % 2 else "F"
        voice = speaker_voice(gender, stream(seed, _CORPUS, _VOICE, number))
        for emotion_index, (emotion, label) in enumerate(EMOTION_CODES.items()):
            intensities = ["01"] if label == "neu" else list(INTENSITY_CODES)
            combinations = list(itertools.product(intensities, STATEMENTS, REPETITIONS))
            start = (number + emotion_index) % len(combinations)
            for clip in range(min(clips_per_emotion, len(combinations))):
                intensity, statement, repetition = combinations[(start + clip) % len(combinations)]
                utt_id = f"{AUDIO_ONLY}-{SPEECH}-{emotion}-{intensity}-{statement}-{repetition}-{actor}"
                rng = stream(seed, _CORPUS, _CLIP, number, emotion_index, clip)
                samples = speak(
                    STATEMENTS[statement], label, voice, rng, INTENSITY_GAIN[intensity], sample_rate=sample_rate
                )
                wav = os.path.abspath(os.path.join(out_dir, f"Actor_{actor}", f"{utt_id}.wav"))
                truth[utt_id] = {
                    "wav": wav,
                    "emo": label,
                    "speaker": f"Actor_{actor}",
                    "gender": gender,
                    "intensity": INTENSITY_CODES[intensity],
                    "statement": statement,
                    "repetition": repetition,
                    "duration": write_wav(wav, samples, sample_rate),
                }
    return truth


# Command line: generates a corpus and prints a short summary.
main = command_line(
    __doc__.split("\n\n")[0],
    "the Audio_Speech_Actors_01-24-like folder to create",
    generate_ravdess,
    actors=10,
    clips_per_emotion=1,
)


if __name__ == "__main__":
    main()
