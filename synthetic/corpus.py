"""Generates a small synthetic corpus in the exact folder layout and file formats of ``IEMOCAP_full_release``.

Tests and the demo run the whole recipe (preparation, both training stages, export, inference) offline on a
couple of CPU cores, where the real IEMOCAP is not available. Random noise would only check the plumbing, so the
generated audio carries structure that a model can learn, and a test can check that the recipe learns it:

- **content**: each utterance speaks its transcript letter by letter. Every letter a-z and the apostrophe has its
  own stable sound (vowels and sonorants are voiced with letter-specific formants; consonants are bursts and
  fricatives with letter-specific noise spectra), and words are separated by short pauses. Speech runs at about
  16 letters per second at most, so a CTC head at 50 frames per second can align it.
- **emotion** by prosody: pitch level and range, tempo, loudness and voice quality differ per label (neu: mid
  pitch, narrow range, mid tempo and loudness; hap/exc: high, wide, fast and loud; ang: raised pitch, loudest,
  fast, tense bright voice; sad: low, flat, slow, quiet and breathy), with per-utterance variation.
- **gender** by voice: each session has one woman (f0 about 210-250 Hz, formants 22-28 % higher) and one man
  (f0 about 90-120 Hz); each of the ten speakers keeps the same voice throughout.
- **style** by dialog type: improvised dialogs have jittery timing and pitch over a hiss floor; scripted ones a
  steady delivery over a faint mains hum, as if recorded with a different setup.

The layout is that of the real release, quirks included, so that the preparation code is tested against what it
meets on the real data:

- ``SessionN/dialog/EmoEvaluation/<dialog>.txt``: a ``%`` header, then one block per turn (time range, utterance
  id, label, mean valence/activation/dominance) with categorical (``C-E1:``) and attribute (``A-E1:``) evaluator
  lines. Beside them, ``Categorical/``, ``Attribute/`` and ``Self-evaluation/`` subfolders with per-evaluator files
  of other formats, and an AppleDouble ``._<dialog>.txt`` file that is not UTF-8.
- ``SessionN/dialog/transcriptions/<dialog>.txt``: ``<utt_id> [start-end]: Text.`` lines, some with ``[LAUGHTER]``,
  ``[BREATHING]`` or ``[GARBAGE]`` tags, plus ``..._FXX0``-style lines that are not annotated turns and speaker-only
  lines such as ``M: [BREATHING]``.
- ``SessionN/sentences/wav/<dialog>/<utt_id>.wav``: 16 kHz mono 16-bit PCM, one per annotated turn (including the
  turns labelled outside the four classes).
- Dialog ids ``Ses01F_impro01`` and ``Ses01M_script01_2``, one letter-suffixed improvised dialog (``Ses03M_impro02a``
  with the default sizes); turn ids end with the *speaker's* gender and that speaker's turn index
  (``Ses01F_impro01_M003`` is the man's fourth turn in a dialog named after the woman).
- Labels neu/hap/exc/ang/sad in about the IEMOCAP proportions of the four merged classes, and about 20 % of turns
  labelled fru/sur/fea/dis/oth/xxx. Scripted dialogs speak the same script in every session.

Everything is drawn from ``numpy.random.default_rng`` streams keyed by the seed and the item (speaker, script,
session, dialog, turn): the same seed gives byte-identical files.

Command line::

    python -m synthetic.corpus --out_dir /tmp/IEMOCAP_full_release --seed 0

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import argparse
import os
import time
from collections import Counter

import numpy as np
import soundfile
from scipy.signal import lfilter

from custom_modules.constants import SAMPLE_RATE

SESSIONS = (1, 2, 3, 4, 5)
GENDERS = ("F", "M")
MERGED_CLASS = {"neu": "neu", "hap": "hap", "exc": "hap", "ang": "ang", "sad": "sad"}
# Raw label probabilities: the four merged classes in IEMOCAP's proportions (neu 31 %, hap+exc 30 % with exc the
# larger part, ang 20 %, sad 19 %) over 80 % of the turns; the labels the recipe drops over the other 20 %.
LABEL_PROBABILITIES = {
    "neu": 0.248,
    "hap": 0.088,
    "exc": 0.152,
    "ang": 0.160,
    "sad": 0.152,
    "fru": 0.080,
    "xxx": 0.080,
    "sur": 0.020,
    "fea": 0.010,
    "oth": 0.006,
    "dis": 0.004,
}
# Category names written by the evaluators in the EmoEvaluation blocks.
CATEGORY_NAMES = {
    "neu": "Neutral",
    "hap": "Happiness",
    "exc": "Excited",
    "ang": "Anger",
    "sad": "Sadness",
    "fru": "Frustration",
    "sur": "Surprise",
    "fea": "Fear",
    "dis": "Disgust",
    "oth": "Other",
}
# Typical (valence, activation, dominance) on IEMOCAP's 1-5 scales; evaluators scatter around these.
VAD_MEANS = {
    "neu": (3.0, 2.3, 2.6),
    "hap": (4.0, 3.2, 3.0),
    "exc": (3.9, 3.7, 3.3),
    "ang": (1.8, 3.9, 3.9),
    "sad": (2.0, 2.1, 2.2),
    "fru": (2.0, 3.2, 3.2),
    "sur": (3.3, 3.7, 2.9),
    "fea": (2.0, 3.5, 2.0),
    "dis": (1.8, 3.0, 3.3),
    "oth": (3.0, 2.8, 2.8),
    "xxx": (2.7, 2.8, 2.8),
}
# How each dimension follows the utterance's prosody (in standard deviations of its spread, PROSODY_SPREAD, around
# the label's prosody; tempo is a factor on durations, so slower speech lowers activation): wider intonation
# sounds more positive, louder, faster and higher speech more activated, louder speech more dominant.
VAD_CUES = {
    "valence": {"range": 0.25},
    "activation": {"level": 0.25, "tempo": -0.15, "f0": 0.1},
    "dominance": {"level": 0.25},
}
_SPREAD_OF = {"f0": "pitch", "range": "range", "tempo": "tempo", "level": "level"}
# Prosody per raw label. pitch: factor on the speaker's f0; range: intonation excursion in semitones; tempo:
# factor on letter durations; level: peak amplitude of the file; tilt: glottal low-pass pole (lower = tenser,
# brighter voice); breath: aspiration noise relative to the voiced source.
EMOTION_PROSODY = {
    "neu": {"pitch": 1.00, "range": 1.5, "tempo": 1.00, "level": 0.40, "tilt": 0.930, "breath": 0.06},
    "hap": {"pitch": 1.25, "range": 5.0, "tempo": 0.86, "level": 0.65, "tilt": 0.910, "breath": 0.05},
    "exc": {"pitch": 1.30, "range": 6.0, "tempo": 0.84, "level": 0.72, "tilt": 0.900, "breath": 0.05},
    "ang": {"pitch": 1.15, "range": 3.0, "tempo": 0.87, "level": 0.85, "tilt": 0.820, "breath": 0.02},
    "sad": {"pitch": 0.88, "range": 0.6, "tempo": 1.25, "level": 0.20, "tilt": 0.970, "breath": 0.35},
    "fru": {"pitch": 1.05, "range": 2.5, "tempo": 0.95, "level": 0.60, "tilt": 0.870, "breath": 0.05},
    "sur": {"pitch": 1.35, "range": 7.0, "tempo": 0.95, "level": 0.60, "tilt": 0.900, "breath": 0.08},
    "fea": {"pitch": 1.30, "range": 2.0, "tempo": 0.85, "level": 0.35, "tilt": 0.950, "breath": 0.25},
    "dis": {"pitch": 0.90, "range": 1.5, "tempo": 1.15, "level": 0.45, "tilt": 0.900, "breath": 0.10},
    "oth": {"pitch": 1.00, "range": 2.0, "tempo": 1.00, "level": 0.45, "tilt": 0.930, "breath": 0.08},
    # RAVDESS's calm: neutral's pitch, lower and flatter, slower, soft and relaxed (not IEMOCAP's).
    "cal": {"pitch": 0.95, "range": 1.0, "tempo": 1.12, "level": 0.30, "tilt": 0.960, "breath": 0.12},
}
# Per-utterance spread (standard deviation, in log units for the factors) around the label's prosody.
PROSODY_SPREAD = {"pitch": 0.05, "range": 0.20, "tempo": 0.06, "level": 0.12, "tilt": 0.008, "breath": 0.30}
# Delivery per dialog type. pitch_jitter: slow f0 wander (semitones); period_jitter: fast relative f0 noise;
# timing_jitter: relative spread of letter durations; hiss and hum: recording channel (peak amplitudes).
STYLE_DELIVERY = {
    "impro": {"pitch_jitter": 0.8, "period_jitter": 0.025, "timing_jitter": 0.15, "hiss": 0.004, "hum": 0.0},
    "script": {"pitch_jitter": 0.15, "period_jitter": 0.004, "timing_jitter": 0.04, "hiss": 0.0005, "hum": 0.006},
}
MAINS_HZ = 60.0
# Common English words; together they use every letter a-z and the apostrophe.
VOCABULARY = (
    "i",
    "you",
    "we",
    "they",
    "it",
    "that",
    "this",
    "what",
    "yes",
    "no",
    "okay",
    "yeah",
    "well",
    "really",
    "just",
    "know",
    "think",
    "want",
    "need",
    "like",
    "go",
    "going",
    "come",
    "home",
    "time",
    "now",
    "here",
    "there",
    "right",
    "good",
    "great",
    "bad",
    "sorry",
    "please",
    "thank",
    "tell",
    "me",
    "about",
    "why",
    "how",
    "can't",
    "don't",
    "i'm",
    "it's",
    "that's",
    "never",
    "always",
    "again",
    "maybe",
    "quite",
    "next",
    "zero",
    "lazy",
    "job",
    "fix",
    "very",
    "much",
    "work",
    "money",
    "leave",
    "love",
    "people",
    "world",
    "question",
)
INTERJECTIONS = ("yes", "no", "okay", "yeah", "well")
QUESTION_WORDS = ("what", "why", "how")
# Non-speech tags of the real transcripts; they are rendered as non-letter sounds.
TAGS = ("[LAUGHTER]", "[BREATHING]", "[GARBAGE]")

# How each symbol sounds: a list of parts (kind, share of the letter's duration, parameters).
#   voiced: glottal source through formants (F1, F2, F3) in Hz at a relative amplitude;
#   noise: white noise through a resonance (centre, bandwidth) in Hz, plus an optional voice bar;
#   burst: a decaying noise burst (centre, bandwidth), plus an optional voice bar;
#   gap: silence (a closure).
# Formants of voiced parts are scaled by the speaker's vocal tract; noise spectra are not.
LETTER_SOUNDS = {
    # Vowels and sonorants, spread over the (F1, F2) plane; nasals and glides quieter than vowels.
    "i": [("voiced", 1.0, {"formants": (280, 2400, 3100), "amp": 0.9})],
    "y": [("voiced", 1.0, {"formants": (400, 2050, 2700), "amp": 0.8})],
    "e": [("voiced", 1.0, {"formants": (560, 1800, 2500), "amp": 1.0})],
    "a": [("voiced", 1.0, {"formants": (800, 1250, 2500), "amp": 1.0})],
    "o": [("voiced", 1.0, {"formants": (580, 880, 2400), "amp": 1.0})],
    "u": [("voiced", 1.0, {"formants": (330, 760, 2250), "amp": 0.9})],
    "w": [("voiced", 1.0, {"formants": (250, 550, 2200), "amp": 0.6})],
    "l": [("voiced", 1.0, {"formants": (400, 1300, 2900), "amp": 0.6})],
    "r": [("voiced", 1.0, {"formants": (480, 1150, 1600), "amp": 0.7})],
    "m": [("voiced", 1.0, {"formants": (250, 1050, 2200), "amp": 0.35})],
    "n": [("voiced", 1.0, {"formants": (250, 1700, 2600), "amp": 0.35})],
    # Fricatives, spread over the noise spectrum; v, z and j carry a voice bar.
    "h": [("noise", 1.0, {"band": (1000, 1200), "amp": 0.2, "voicing": 0.0})],
    "v": [("noise", 1.0, {"band": (1800, 1500), "amp": 0.15, "voicing": 0.5})],
    "f": [("noise", 1.0, {"band": (4000, 6000), "amp": 0.18, "voicing": 0.0})],
    "z": [("noise", 1.0, {"band": (5200, 1000), "amp": 0.35, "voicing": 0.35})],
    "s": [("noise", 1.0, {"band": (6800, 1000), "amp": 0.5, "voicing": 0.0})],
    # Stops: a closure (silent, or the voice bar for b, d, g), then a burst.
    "p": [("gap", 0.5, {}), ("burst", 0.5, {"band": (600, 500), "amp": 0.5, "voicing": 0.0})],
    "k": [("gap", 0.5, {}), ("burst", 0.5, {"band": (1800, 600), "amp": 0.6, "voicing": 0.0})],
    "t": [("gap", 0.5, {}), ("burst", 0.5, {"band": (4500, 1200), "amp": 0.6, "voicing": 0.0})],
    "b": [("burst", 1.0, {"band": (500, 400), "amp": 0.4, "voicing": 0.3})],
    "g": [("burst", 1.0, {"band": (1400, 500), "amp": 0.45, "voicing": 0.3})],
    "d": [("burst", 1.0, {"band": (3500, 1000), "amp": 0.45, "voicing": 0.3})],
    # The apostrophe is a glottal stop: a closure and a weak broadband release.
    "'": [("gap", 0.6, {}), ("burst", 0.4, {"band": (1200, 3000), "amp": 0.3, "voicing": 0.0})],
    # Two-part letters: a burst followed by a fricative or a glide.
    "c": [
        ("burst", 0.4, {"band": (2500, 500), "amp": 0.5, "voicing": 0.0}),
        ("noise", 0.6, {"band": (2500, 500), "amp": 0.4, "voicing": 0.0}),
    ],
    "j": [
        ("burst", 0.4, {"band": (3200, 600), "amp": 0.4, "voicing": 0.3}),
        ("noise", 0.6, {"band": (3200, 600), "amp": 0.3, "voicing": 0.3}),
    ],
    "x": [
        ("burst", 0.4, {"band": (1800, 600), "amp": 0.5, "voicing": 0.0}),
        ("noise", 0.6, {"band": (6800, 1000), "amp": 0.45, "voicing": 0.0}),
    ],
    "q": [
        ("burst", 0.4, {"band": (1000, 400), "amp": 0.5, "voicing": 0.0}),
        ("voiced", 0.6, {"formants": (250, 550, 2200), "amp": 0.6}),
    ],
}
VOWEL_SECONDS = 0.090
CONSONANT_SECONDS = 0.075
# No letter is shorter than this: with the tempo and jitter factors, speech stays at about 16 letters per
# second or slower, which leaves a CTC head at 50 frames per second at least 3 frames per letter.
MIN_LETTER_SECONDS = 0.056
WORD_PAUSE_SECONDS = 0.06
EDGE_SILENCE_SECONDS = 0.1
MIN_UTTERANCE_SECONDS = 0.8
RAMP_SECONDS = 0.004

EMO_EVALUATION_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]"
# The start of an AppleDouble resource file (magic 0x00051607, "Mac OS X"), with bytes that are not UTF-8.
APPLE_DOUBLE_BYTES = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \x00\x02\x00\x00\x00\t\xff\xfe\x80\xc3("

# Keys of the independent random streams (the first number after the seed).
_SPEAKER, _SCRIPT, _LABELS, _DIALOG, _UTTERANCE = range(5)


def generate_corpus(
    out_dir,
    seed=0,
    turns_per_dialog=12,
    impro_dialogs=2,
    script_dialogs=2,
    min_words=1,
    max_words=4,
    sample_rate=SAMPLE_RATE,
):
    """Writes a synthetic corpus in the layout and formats of ``IEMOCAP_full_release`` and returns its truth.

    Each of the five sessions gets ``impro_dialogs`` improvised and ``script_dialogs`` scripted dialogs of
    ``turns_per_dialog`` annotated turns between its two speakers (one woman, one man). Every session has at
    least one turn of each merged class (neu, hap or exc, ang, sad); hap is guaranteed in odd and exc in even
    sessions, so both raw labels appear.

    Arguments
    ---------
    out_dir : str
        Plays the role of the ``IEMOCAP_full_release`` folder: ``Session1`` ... ``Session5`` are created in it.
        It must not hold any ``SessionN`` folder yet (nothing is overwritten or mixed with an older corpus).
    seed : int
        Seed of every random choice; the same seed gives byte-identical files.
    turns_per_dialog : int
        Annotated turns per dialog.
    impro_dialogs : int
        Improvised dialogs per session (1 to 9).
    script_dialogs : int
        Scripted dialogs per session (0 to 27); the same scripts are spoken in every session.
    min_words : int
        Fewest words of a sentence.
    max_words : int
        Most words of a sentence.
    sample_rate : int
        Of the wav files (the real release is 16 kHz).

    Returns
    -------
    dict
        ``{utt_id: {"label", "gender", "style", "session", "transcript", "words", "duration", "wav"}}`` for every
        annotated turn: the raw label as written in EmoEvaluation, the speaker's gender (F or M), ``impro`` or
        ``script``, the session (int), the transcript as written, the spoken words (lower case a-z, apostrophe
        and single spaces; empty for a turn that is only a tag such as ``[LAUGHTER]``), the duration in seconds
        and the absolute wav path.

    Example
    -------
    >>> import tempfile
    >>> out_dir = tempfile.mkdtemp()
    >>> truth = generate_corpus(out_dir, seed=0, turns_per_dialog=4, impro_dialogs=1, script_dialogs=1)
    >>> len(truth), sorted(os.listdir(out_dir))
    (40, ['Session1', 'Session2', 'Session3', 'Session4', 'Session5'])
    >>> entry = truth["Ses01F_impro01_F000"]
    >>> entry["gender"], entry["style"], entry["session"], os.path.isfile(entry["wav"])
    ('F', 'impro', 1, True)
    """
    _check_arguments(out_dir, turns_per_dialog, impro_dialogs, script_dialogs, min_words, max_words, sample_rate)
    voices = {
        (session, gender): speaker_voice(gender, _rng(seed, _SPEAKER, session, index))
        for session in SESSIONS
        for index, gender in enumerate(GENDERS)
    }
    dialogs = _dialog_plan(impro_dialogs, script_dialogs)
    scripts = {
        script: _draw_script(_rng(seed, _SCRIPT, *script), turns_per_dialog, min_words, max_words)
        for style, script in dialogs
        if style == "script"
    }
    truth = {}
    for session in SESSIONS:
        labels = _session_labels(_rng(seed, _LABELS, session), session, len(dialogs) * turns_per_dialog)
        for index, (style, number) in enumerate(dialogs):
            dialog = _dialog_name(session, index, style, number, impro_dialogs)
            dialog_labels = labels[index * turns_per_dialog : (index + 1) * turns_per_dialog]
            plan_rng = _rng(seed, _DIALOG, session, index, 0)
            turns = _plan_turns(plan_rng, dialog, style, dialog_labels, scripts.get(number), min_words, max_words)
            utterance_rngs = [_rng(seed, _UTTERANCE, session, index, turn) for turn in range(len(turns))]
            layout_rng = _rng(seed, _DIALOG, session, index, 1)
            truth.update(
                _write_dialog(out_dir, session, dialog, style, turns, voices, layout_rng, utterance_rngs, sample_rate)
            )
    return truth


def _rng(seed, kind, *indices):
    # One stream per item, keyed by the seed, the kind of item and its indices (SeedSequence mixes the whole
    # key): an item's draws do not depend on what else is generated or in which order.
    return np.random.default_rng([seed, kind, *indices])


def speaker_voice(gender, rng):
    """Draws the stable voice of one speaker.

    Arguments
    ---------
    gender : str
        ``F`` or ``M``.
    rng : numpy.random.Generator
        The speaker's own random stream.

    Returns
    -------
    dict
        ``f0`` (Hz), ``formant_scale`` (vocal tract), ``tempo``, ``tilt`` and ``breath`` (offsets on the
        emotion's voice quality).

    Example
    -------
    >>> voice = speaker_voice("F", np.random.default_rng(0))
    >>> 210 <= voice["f0"] <= 250, 1.22 <= voice["formant_scale"] <= 1.28
    (True, True)
    """
    if gender not in GENDERS:
        raise ValueError(f"gender must be 'F' or 'M', got {gender!r}.")
    female = gender == "F"
    return {
        # f0 ranges that stay apart under every emotion's pitch factor (0.88-1.3), so that gender is learnable
        # by a small randomly initialised encoder in a few epochs, as it is by real models on real speech.
        "f0": rng.uniform(210.0, 250.0) if female else rng.uniform(90.0, 120.0),
        # Women's shorter vocal tracts raise all formants, here by 22-28 % (a clear timbre difference).
        "formant_scale": rng.uniform(1.22, 1.28) if female else rng.uniform(0.97, 1.03),
        "tempo": rng.uniform(0.95, 1.05),
        "tilt": rng.uniform(-0.008, 0.008),
        "breath": rng.uniform(0.8, 1.25),
    }


def synthesize_utterance(tokens, label, voice, style, rng, sample_rate=SAMPLE_RATE):
    """Renders spoken words and non-speech tags with the prosody of an emotion, a voice and a dialog style.

    Arguments
    ---------
    tokens : list of str
        Lower-case words (a-z and apostrophe) and tags from ``TAGS``, in speaking order.
    label : str
        Raw IEMOCAP label; ``xxx`` (no agreement) must be resolved by the caller to a label it sounds like.
    voice : dict
        From ``speaker_voice``.
    style : str
        ``impro`` or ``script``.
    rng : numpy.random.Generator
        The utterance's own random stream.
    sample_rate : int
        Hz.

    Returns
    -------
    numpy.ndarray
        float64 samples, peak below full scale.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> voice = speaker_voice("M", rng)
    >>> wav = synthesize_utterance(["yes", "[LAUGHTER]"], "hap", voice, "impro", rng)
    >>> len(wav) >= 0.8 * SAMPLE_RATE, float(np.abs(wav).max()) < 1.0
    (True, True)
    """
    return render_utterance(tokens, label, voice, style, rng, sample_rate)[0]


def render_utterance(tokens, label, voice, style, rng, sample_rate=SAMPLE_RATE):
    """``synthesize_utterance``, also returning the prosody the utterance was drawn with (``audible_vad`` reads
    it).

    Returns
    -------
    wav : numpy.ndarray
    prosody : dict
        ``f0``, ``range``, ``tempo``, ``level``, ``tilt``, ``breath`` of this utterance.
    """
    if not tokens:
        raise ValueError("Nothing to say: pass at least one word or tag.")
    if label not in EMOTION_PROSODY:
        raise ValueError(f"No prosody for label {label!r}: use one of {', '.join(EMOTION_PROSODY)}.")
    prosody = _utterance_prosody(EMOTION_PROSODY[label], voice, rng)
    delivery = STYLE_DELIVERY[style]
    events, word_spans, n_samples = _timeline(tokens, prosody, delivery, rng, sample_rate)
    f0 = _pitch_contour(n_samples, word_spans, prosody, delivery, rng, sample_rate)
    source = _glottal_source(f0, prosody, rng, sample_rate)
    speech = np.zeros(n_samples)
    for start, length, kind, params in events:
        part = source[start : start + length]
        speech[start : start + length] += _render_part(kind, params, part, voice, rng, sample_rate)
    speech *= prosody["level"] / np.abs(speech).max()
    return speech + _channel_noise(n_samples, delivery, rng, sample_rate), prosody


def _check_arguments(out_dir, turns_per_dialog, impro_dialogs, script_dialogs, min_words, max_words, sample_rate):
    existing = [f"Session{s}" for s in SESSIONS if os.path.exists(os.path.join(out_dir, f"Session{s}"))]
    if existing:
        raise FileExistsError(
            f"{out_dir!r} already holds {', '.join(existing)}: generate into a new or empty folder "
            "(this function never overwrites a corpus, which could be the real IEMOCAP)."
        )
    if not 1 <= impro_dialogs <= 9:
        raise ValueError(f"impro_dialogs must be 1 to 9 (ids are impro01 ... impro09), got {impro_dialogs}.")
    if not 0 <= script_dialogs <= 27:
        raise ValueError(f"script_dialogs must be 0 to 27 (script01_1 ... script09_3), got {script_dialogs}.")
    merged_classes = len(set(MERGED_CLASS.values()))
    if turns_per_dialog < 1 or (impro_dialogs + script_dialogs) * turns_per_dialog < merged_classes:
        raise ValueError(
            f"Each session needs at least {merged_classes} turns to hold every merged class, and each dialog "
            f"one turn: raise turns_per_dialog (got {turns_per_dialog} in {impro_dialogs + script_dialogs} dialogs)."
        )
    if not 1 <= min_words <= max_words:
        raise ValueError(f"Need 1 <= min_words <= max_words, got {min_words} and {max_words}.")
    if sample_rate < 8000:
        # Below 8 kHz most fricatives and bursts (up to 6.8 kHz, lowered to 0.45 x the rate) would merge.
        raise ValueError(f"sample_rate must be at least 8000 Hz for the letter sounds, got {sample_rate}.")


def _dialog_plan(impro_dialogs, script_dialogs):
    """Returns ``[(style, number)]``: ``number`` is k for ``impro0k`` and (k, n) for ``script0k_n``."""
    impro = [("impro", k) for k in range(1, impro_dialogs + 1)]
    # The real release splits each script into parts: script01_1, script01_2, script01_3, script02_1, ...
    script = [("script", (j // 3 + 1, j % 3 + 1)) for j in range(script_dialogs)]
    return impro + script


def _dialog_name(session, index, style, number, impro_dialogs):
    # The letter is the actor who wore the motion-capture markers, alternating between dialogs; it is not the
    # speaker of a turn.
    actor = GENDERS[(session + index + 1) % 2]
    if style == "script":
        return f"Ses0{session}{actor}_script0{number[0]}_{number[1]}"
    # Real ids include letter-suffixed takes such as Ses03M_impro05a: the last improvised dialog of session 3.
    suffix = "a" if session == 3 and number == impro_dialogs else ""
    return f"Ses0{session}{actor}_impro0{number}{suffix}"


def _session_labels(rng, session, n_turns):
    """Raw labels of a session's turns, in dialog order, holding every merged class at least once."""
    guaranteed = ["neu", "hap" if session % 2 else "exc", "ang", "sad"]
    names = list(LABEL_PROBABILITIES)
    drawn = rng.choice(names, size=n_turns - len(guaranteed), p=list(LABEL_PROBABILITIES.values()))
    labels = guaranteed + [str(label) for label in drawn]
    rng.shuffle(labels)
    return labels


def _draw_sentence(rng, min_words, max_words, exclaim_probability):
    """Returns ``(words, text)``: the spoken words and the transcript as written, capitals and punctuation."""
    words = [str(w) for w in rng.choice(VOCABULARY, size=int(rng.integers(min_words, max_words + 1)))]
    shown = [w.replace("i'", "I'") if w.startswith("i'") else ("I" if w == "i" else w) for w in words]
    shown[0] = shown[0][0].upper() + shown[0][1:]
    if len(words) > 1 and words[0] in INTERJECTIONS and rng.random() < 0.6:
        shown[0] += ","
    if words[0] in QUESTION_WORDS:
        end = "?"
    else:
        end = "!" if rng.random() < exclaim_probability else "."
    return words, " ".join(shown) + end


def _draw_script(rng, turns_per_dialog, min_words, max_words):
    return [_draw_sentence(rng, min_words, max_words, exclaim_probability=0.2) for _ in range(turns_per_dialog)]


def _plan_turns(rng, dialog, style, labels, script, min_words, max_words):
    """Decides speaker, words, tags and transcript of every turn of a dialog (no audio, no times yet)."""
    speaker = GENDERS[int(rng.integers(2))]
    turn_counts = Counter()
    turns = []
    for index, label in enumerate(labels):
        if index and rng.random() < 0.8:
            speaker = "M" if speaker == "F" else "F"
        if style == "script":
            words, text = script[index]
        else:
            exclaim = 0.5 if MERGED_CLASS.get(label) in ("hap", "ang") else 0.05
            words, text = _draw_sentence(rng, min_words, max_words, exclaim)
        tokens = list(words)
        if style == "impro" and label in ("xxx", "oth", "fru") and rng.random() < 0.25:
            # Some real turns are nothing but a tag: nothing to transcribe, and never one of the four classes.
            tag = TAGS[int(rng.integers(len(TAGS)))]
            tokens, words, text = [tag], [], tag
        else:
            tag = _inline_tag(rng, label)
            if tag is not None:
                position = int(rng.integers(len(words) + 1))
                tokens.insert(position, tag)
                shown = text.split(" ")
                shown.insert(position, tag)
                text = " ".join(shown)
        utt_id = f"{dialog}_{speaker}{turn_counts[speaker]:03d}"
        turn_counts[speaker] += 1
        turns.append(
            {
                "utt_id": utt_id,
                "speaker": speaker,
                "label": label,
                "tokens": tokens,
                "words": " ".join(words),
                "text": text,
            }
        )
    return turns


def _inline_tag(rng, label):
    """A tag inside a spoken turn, more often where it fits the emotion (laughing when happy, sighs when sad)."""
    merged = MERGED_CLASS.get(label)
    if merged == "hap" and rng.random() < 0.2:
        return "[LAUGHTER]"
    if merged == "sad" and rng.random() < 0.15:
        return "[BREATHING]"
    if rng.random() < 0.04:
        return TAGS[int(rng.integers(len(TAGS)))]
    return None


def _write_dialog(out_dir, session, dialog, style, turns, voices, rng, utterance_rngs, sample_rate):
    """Renders and writes one dialog's wavs, EmoEvaluation, side annotations and transcriptions.

    ``rng`` draws the layout (times, evaluators, extra lines); each turn's audio has its own stream in
    ``utterance_rngs``. Returns the ground truth of the dialog's annotated turns.
    """
    truth = {}
    session_dir = os.path.join(out_dir, f"Session{session}")
    wav_dir = os.path.join(session_dir, "sentences", "wav", dialog)
    os.makedirs(wav_dir)
    clock = rng.uniform(2.0, 8.0)
    transcript_lines, blocks = [], []
    extra_after = int(rng.integers(len(turns)))
    speaker_only_after = int(rng.integers(len(turns)))
    for index, (turn, utt_rng) in enumerate(zip(turns, utterance_rngs)):
        # xxx means the evaluators did not agree: the turn sounds like one of the four classes.
        sounds_like = turn["label"] if turn["label"] != "xxx" else str(utt_rng.choice(["neu", "hap", "ang", "sad"]))
        voice = voices[(session, turn["speaker"])]
        wav, prosody = render_utterance(turn["tokens"], sounds_like, voice, style, utt_rng, sample_rate)
        wav_path = os.path.abspath(os.path.join(wav_dir, f"{turn['utt_id']}.wav"))
        soundfile.write(wav_path, wav, sample_rate, subtype="PCM_16")
        duration = len(wav) / sample_rate
        start, end = clock, clock + duration
        clock = end + rng.uniform(0.2, 1.5)
        transcript_lines.append(f"{turn['utt_id']} [{start:08.4f}-{end:08.4f}]: {turn['text']}")
        blocks.append(_emo_evaluation_block(rng, turn, start, end, audible_vad(sounds_like, prosody, voice)))
        truth[turn["utt_id"]] = {
            "label": turn["label"],
            "gender": turn["speaker"],
            "style": style,
            "session": session,
            "transcript": turn["text"],
            "words": turn["words"],
            "duration": duration,
            "wav": wav_path,
        }
        if index == extra_after:
            # Real transcriptions hold turns that were never annotated nor cut into wavs, with XX ids.
            gender = GENDERS[int(rng.integers(2))]
            extra_start = end + 0.1
            extra_end = extra_start + rng.uniform(0.3, 0.8)
            _, text = _draw_sentence(rng, 1, 2, exclaim_probability=0.0)
            transcript_lines.append(f"{dialog}_{gender}XX0 [{extra_start:08.4f}-{extra_end:08.4f}]: {text}")
            clock = extra_end + rng.uniform(0.2, 1.0)
        if index == speaker_only_after:
            other = "M" if turn["speaker"] == "F" else "F"
            transcript_lines.append(f"{other}: {rng.choice(['[BREATHING]', 'Yeah.', 'Okay.', '[LAUGHTER]'])}")
    _write_emo_evaluation(session_dir, dialog, blocks, turns)
    transcription_dir = os.path.join(session_dir, "dialog", "transcriptions")
    os.makedirs(transcription_dir, exist_ok=True)
    _write_text(os.path.join(transcription_dir, f"{dialog}.txt"), "".join(line + "\n" for line in transcript_lines))
    return truth


def _emo_evaluation_block(rng, turn, start, end, vad_heard):
    """One EmoEvaluation block: the consensus line, then categorical and attribute lines per evaluator (each
    evaluator's valence, activation and dominance scatter around ``vad_heard``)."""
    label, speaker = turn["label"], turn["speaker"]
    categories = _evaluator_categories(rng, label)
    evaluators = sorted(int(e) for e in rng.choice([1, 2, 3, 4], size=3, replace=False))
    attribute_evaluators = evaluators[:2]
    vad_scores = [_vad_score(rng, vad_heard) for _ in range(len(attribute_evaluators) + 1)]
    mean = np.mean(vad_scores[:-1], axis=0)
    lines = [f"[{start:.4f} - {end:.4f}]\t{turn['utt_id']}\t{label}\t[{mean[0]:.4f}, {mean[1]:.4f}, {mean[2]:.4f}]"]
    # The last categorical and attribute lines are the speaker's own evaluation (C-F1 / A-M1 ...).
    raters = [f"E{e}" for e in evaluators] + [f"{speaker}1"]
    for rater, category in zip(raters, categories):
        lines.append(f"C-{rater}:\t{category};\t()")
    for rater, (v, a, d) in zip([f"E{e}" for e in attribute_evaluators] + [f"{speaker}1"], vad_scores):
        lines.append(f"A-{rater}:\tval {v}; act {a}; dom  {d};\t()")
    return "\n".join(lines)


def _evaluator_categories(rng, label):
    """Four category strings (three evaluators, then the speaker) whose majority gives ``label``."""
    others = [c for name, c in CATEGORY_NAMES.items() if name != label]
    if label == "xxx":
        # No majority: three different categories.
        return [str(c) for c in rng.choice(others, size=4, replace=False)]
    category = CATEGORY_NAMES[label]
    categories = [category, category, category if rng.random() < 0.6 else str(rng.choice(others))]
    if rng.random() < 0.2:
        # Evaluators may give two categories for one turn.
        categories[0] = f"{category}; {rng.choice(others)}"
    speaker_view = category if rng.random() < 0.5 else str(rng.choice(others))
    return categories + [speaker_view]


def _vad_score(rng, vad_heard):
    return tuple(int(np.clip(np.rint(mean + rng.normal(0.0, 0.6)), 1, 5)) for mean in vad_heard)


def audible_vad(label, prosody, voice):
    """The valence, activation and dominance an evaluator hears in an utterance: its label's typical triple
    (``VAD_MEANS``), moved by how the utterance's own prosody departs from its label's (``VAD_CUES``).

    The dimensions are then carried by the audio within a class too (a louder, faster angry turn is more
    activated than a quieter one), as real ratings follow prosody, and a regression head has something to learn
    beyond the class; the prosody is read from the draw that rendered the audio, so no random stream changes.

    Arguments
    ---------
    label : str
        The label the utterance sounds like.
    prosody : dict
        From ``render_utterance``.
    voice : dict
        From ``speaker_voice``.

    Returns
    -------
    tuple of float
        ``(valence, activation, dominance)``, not yet rounded or clipped.

    Example
    -------
    >>> voice = speaker_voice("F", np.random.default_rng(0))
    >>> typical = _utterance_prosody(EMOTION_PROSODY["ang"], voice, np.random.default_rng(1))
    >>> louder = {**typical, "level": typical["level"] * 1.2}
    >>> [round(b - a, 3) for a, b in zip(audible_vad("ang", typical, voice), audible_vad("ang", louder, voice))]
    [0.0, 0.456, 0.456]
    """
    base = EMOTION_PROSODY[label]
    typical = {"f0": voice["f0"] * base["pitch"], "range": base["range"], "tempo": base["tempo"] * voice["tempo"]}
    typical["level"] = base["level"]
    departure = {cue: np.log(prosody[cue] / typical[cue]) / PROSODY_SPREAD[_SPREAD_OF[cue]] for cue in typical}
    return tuple(
        mean + sum(weight * departure[cue] for cue, weight in VAD_CUES[dimension].items())
        for mean, dimension in zip(VAD_MEANS[label], ("valence", "activation", "dominance"))
    )


def _write_emo_evaluation(session_dir, dialog, blocks, turns):
    emo_dir = os.path.join(session_dir, "dialog", "EmoEvaluation")
    for sub in ("Categorical", "Attribute", "Self-evaluation"):
        os.makedirs(os.path.join(emo_dir, sub), exist_ok=True)
    emo_evaluation = EMO_EVALUATION_HEADER + "\n\n" + "".join(block + "\n\n" for block in blocks)
    _write_text(os.path.join(emo_dir, f"{dialog}.txt"), emo_evaluation)
    # Per-evaluator files in other formats: a parser must read only the top-level <dialog>.txt files.
    categorical = "".join(f"{t['utt_id']} :{CATEGORY_NAMES.get(t['label'], 'Other')}; ()\n" for t in turns)
    _write_text(os.path.join(emo_dir, "Categorical", f"{dialog}_e2_cat.txt"), categorical)
    attribute = "".join(f"{t['utt_id']} :act 3; val 3; dom  3; ()\n" for t in turns)
    _write_text(os.path.join(emo_dir, "Attribute", f"{dialog}_e2_atr.txt"), attribute)
    self_evaluation = "".join(f"{t['utt_id']}\t{t['speaker']}\t{t['label']}\n" for t in turns)
    _write_text(os.path.join(emo_dir, "Self-evaluation", f"{dialog}_self.txt"), self_evaluation)
    # Copies made on a Mac carry AppleDouble "._" files; one per session is enough to test that they are skipped.
    if not any(name.startswith("._") for name in os.listdir(emo_dir)):
        with open(os.path.join(emo_dir, f"._{dialog}.txt"), "wb") as junk:
            junk.write(APPLE_DOUBLE_BYTES)


def _write_text(path, text):
    # Explicit newline: the files are byte-identical on every platform.
    with open(path, "w", encoding="ascii", newline="\n") as out:
        out.write(text)


def _utterance_prosody(base, voice, rng):
    """The label's prosody with the speaker's voice and a random per-utterance spread."""
    spread = PROSODY_SPREAD
    return {
        "f0": voice["f0"] * base["pitch"] * np.exp(rng.normal(0.0, spread["pitch"])),
        "range": base["range"] * np.exp(rng.normal(0.0, spread["range"])),
        "tempo": base["tempo"] * voice["tempo"] * np.exp(rng.normal(0.0, spread["tempo"])),
        "level": min(0.9, base["level"] * np.exp(rng.normal(0.0, spread["level"]))),
        "tilt": float(np.clip(base["tilt"] + voice["tilt"] + rng.normal(0.0, spread["tilt"]), 0.75, 0.985)),
        "breath": base["breath"] * voice["breath"] * np.exp(rng.normal(0.0, spread["breath"])),
    }


def _timeline(tokens, prosody, delivery, rng, sample_rate):
    """Places every sound part on the time axis.

    Returns the parts ``(start, length, kind, params)`` in samples, the ``(start, end)`` span of each word (for
    the intonation) and the total length, silences at both ends included.
    """
    tempo, jitter = prosody["tempo"], delivery["timing_jitter"]
    events, word_spans = [], []
    cursor = EDGE_SILENCE_SECONDS * rng.uniform(0.8, 1.2)
    for position, token in enumerate(tokens):
        if position:
            cursor += WORD_PAUSE_SECONDS * tempo * np.exp(rng.normal(0.0, 2 * jitter))
        if token in TAGS:
            seconds = {"[LAUGHTER]": 0.6, "[BREATHING]": 0.4, "[GARBAGE]": 0.35}[token] * rng.uniform(0.8, 1.2)
            events.append((cursor, seconds, token, {}))
            cursor += seconds
            continue
        word_start = cursor
        for letter in token:
            if letter not in LETTER_SOUNDS:
                raise ValueError(f"Cannot speak {letter!r} in {token!r}: words use only a-z and the apostrophe.")
            base = VOWEL_SECONDS if letter in "aeiouy" else CONSONANT_SECONDS
            seconds = max(MIN_LETTER_SECONDS, base * tempo * np.exp(rng.normal(0.0, jitter)))
            for kind, share, params in LETTER_SOUNDS[letter]:
                events.append((cursor, seconds * share, kind, params))
                cursor += seconds * share
        word_spans.append((word_start, cursor))
    trailing = EDGE_SILENCE_SECONDS * rng.uniform(0.8, 1.2)
    # Very short turns get more silence around them, as the real segmentation leaves.
    padding = max(0.0, MIN_UTTERANCE_SECONDS - cursor - trailing)
    shift = padding / 2
    n_samples = int(round((cursor + trailing + padding) * sample_rate))

    def to_samples(seconds):
        return int(round((seconds + shift) * sample_rate))

    sample_events = []
    for start, seconds, kind, params in events:
        first, last = to_samples(start), to_samples(start + seconds)
        sample_events.append((first, last - first, kind, params))
    sample_spans = [(to_samples(start), to_samples(end)) for start, end in word_spans]
    return sample_events, sample_spans, n_samples


def _pitch_contour(n_samples, word_spans, prosody, delivery, rng, sample_rate):
    """f0 in Hz per sample: a declination line, an accent per word, slow wander and fast period jitter."""
    position = np.arange(n_samples)
    semitones = -0.3 * prosody["range"] * position / n_samples
    for start, end in word_spans:
        length = max(end - start, 1)
        inside = (position >= start) & (position < end)
        accent = prosody["range"] * rng.uniform(0.4, 1.0)
        semitones[inside] += accent * np.sin(np.pi * (position[inside] - start) / length)
    semitones += _wander(n_samples, 0.05, delivery["pitch_jitter"], rng, sample_rate)
    relative_jitter = _wander(n_samples, 0.005, delivery["period_jitter"], rng, sample_rate)
    return prosody["f0"] * 2.0 ** (semitones / 12.0) * (1.0 + relative_jitter)


def _wander(n_samples, step_seconds, scale, rng, sample_rate):
    """Gaussian values every ``step_seconds``, linearly interpolated to every sample."""
    step = int(step_seconds * sample_rate)
    knots = rng.normal(0.0, scale, size=n_samples // step + 2)
    return np.interp(np.arange(n_samples), np.arange(len(knots)) * step, knots)


def _glottal_source(f0, prosody, rng, sample_rate):
    """An impulse per glottal period, shaped by a two-pole low-pass (the voice quality) and lip radiation."""
    phase = np.cumsum(f0) / sample_rate
    pulses = np.diff(np.floor(phase), prepend=0.0)
    pole = prosody["tilt"]
    voiced = lfilter([1.0], [1.0, -2.0 * pole, pole * pole], pulses)
    voiced = np.diff(voiced, prepend=0.0)
    voiced /= _rms(voiced)
    return voiced + prosody["breath"] * rng.standard_normal(len(f0))


def _resonances(frequencies_and_bandwidths, sample_rate):
    """Denominator of a cascade of two-pole resonators at the given (frequency, bandwidth) pairs in Hz."""
    denominator = np.array([1.0])
    for frequency, bandwidth in frequencies_and_bandwidths:
        frequency = min(frequency, 0.45 * sample_rate)
        radius = np.exp(-np.pi * bandwidth / sample_rate)
        pair = [1.0, -2.0 * radius * np.cos(2.0 * np.pi * frequency / sample_rate), radius * radius]
        denominator = np.convolve(denominator, pair)
    return denominator


def _render_part(kind, params, source, voice, rng, sample_rate):
    """Samples of one sound part, with short ramps so that parts join without clicks."""
    length = len(source)
    if kind == "gap" or length == 0:
        return np.zeros(length)
    if kind == "voiced":
        formants = [f * voice["formant_scale"] for f in params["formants"]]
        denominator = _resonances(zip(formants, (80.0, 110.0, 160.0)), sample_rate)
        sound = params["amp"] * _unit_rms(lfilter([1.0], denominator, source))
    elif kind in ("noise", "burst"):
        noise = _unit_rms(lfilter([1.0], _resonances([params["band"]], sample_rate), rng.standard_normal(length)))
        if kind == "burst":
            noise *= np.exp(-np.arange(length) / (0.012 * sample_rate))
        sound = params["amp"] * noise
        if params["voicing"]:
            # The voice bar: the glottal source heard through the closed vocal tract, low frequencies only.
            voice_bar = lfilter([1.0], _resonances([(180.0, 120.0)], sample_rate), source)
            sound = sound + params["voicing"] * _unit_rms(voice_bar)
    elif kind == "[LAUGHTER]":
        # Breathy voiced "ha" pulses at about five per second.
        breathy = lfilter([1.0], _resonances([(700.0, 150.0), (1250.0, 200.0)], sample_rate), source)
        breathy = _unit_rms(breathy) + 0.8 * rng.standard_normal(length)
        sound = 0.8 * breathy * 0.5 * (1.0 - np.cos(2.0 * np.pi * 5.0 * np.arange(length) / sample_rate))
    elif kind == "[BREATHING]":
        air = lfilter([1.0], _resonances([(600.0, 1000.0)], sample_rate), rng.standard_normal(length))
        sound = 0.25 * _unit_rms(air) * np.hanning(length)
    elif kind == "[GARBAGE]":
        mumble = lfilter([1.0], _resonances([(450.0, 150.0), (1000.0, 250.0)], sample_rate), source)
        sound = 0.35 * _unit_rms(mumble) * (0.6 + 0.4 * np.sin(2.0 * np.pi * 4.0 * np.arange(length) / sample_rate))
    else:
        raise ValueError(f"Unknown sound part {kind!r}.")
    ramp = min(int(RAMP_SECONDS * sample_rate), length // 2)
    if ramp:
        window = np.linspace(0.0, 1.0, ramp, endpoint=False)
        sound[:ramp] *= window
        sound[length - ramp :] *= window[::-1]
    return sound


def _channel_noise(n_samples, delivery, rng, sample_rate):
    """The recording channel of the dialog type: a hiss floor and, for scripted dialogs, a mains hum."""
    hiss = delivery["hiss"] * np.clip(rng.standard_normal(n_samples) / 3.0, -1.0, 1.0)
    if not delivery["hum"]:
        return hiss
    t = np.arange(n_samples) / sample_rate
    phase = rng.uniform(0.0, 2.0 * np.pi)
    hum = np.sin(2.0 * np.pi * MAINS_HZ * t + phase) + 0.5 * np.sin(4.0 * np.pi * MAINS_HZ * t + 2.0 * phase)
    return hiss + delivery["hum"] / 1.5 * hum


def _rms(x):
    return float(np.sqrt(np.mean(x * x))) + 1e-12


def _unit_rms(x):
    return x / _rms(x)


def summarize(truth):
    """Counts of a generated corpus: utterances per raw label, per session, and total duration.

    Arguments
    ---------
    truth : dict
        From ``generate_corpus``.

    Returns
    -------
    dict
        ``labels`` (raw label -> count), ``sessions`` (session -> count), ``utterances`` and ``hours``.

    Example
    -------
    >>> summarize({"a": {"label": "neu", "session": 1, "duration": 1.8}})["labels"]
    {'neu': 1}
    """
    return {
        "labels": dict(sorted(Counter(entry["label"] for entry in truth.values()).items())),
        "sessions": dict(sorted(Counter(entry["session"] for entry in truth.values()).items())),
        "utterances": len(truth),
        "hours": sum(entry["duration"] for entry in truth.values()) / 3600.0,
    }


def main(argv=None):
    """Command line: generates a corpus and prints a short summary.

    Arguments
    ---------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out_dir", required=True, help="the IEMOCAP_full_release-like folder to create")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--turns_per_dialog", type=int, default=12)
    parser.add_argument("--impro_dialogs", type=int, default=2)
    parser.add_argument("--script_dialogs", type=int, default=2)
    args = parser.parse_args(argv)
    began = time.perf_counter()
    truth = generate_corpus(
        args.out_dir,
        seed=args.seed,
        turns_per_dialog=args.turns_per_dialog,
        impro_dialogs=args.impro_dialogs,
        script_dialogs=args.script_dialogs,
    )
    elapsed = time.perf_counter() - began
    summary = summarize(truth)
    print(
        f"Wrote {summary['utterances']} annotated utterances ({summary['hours'] * 60:.1f} min) to "
        f"{os.path.abspath(args.out_dir)} in {elapsed:.1f} s."
    )
    print("Per raw label: " + ", ".join(f"{label} {n}" for label, n in summary["labels"].items()))
    print("Per session:   " + ", ".join(f"Session{s} {n}" for s, n in summary["sessions"].items()))


if __name__ == "__main__":
    main()
