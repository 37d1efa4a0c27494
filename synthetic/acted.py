"""What the generators of acted corpora share (``crema_d.py``, ``ravdess.py``, ``manifest_corpus.py``): a
written sentence spoken with an emotion's prosody and a speaker's voice, at a loudness, written as a 16-bit wav.

The voices and prosody are ``synthetic.corpus``'s (emotion by prosody, gender by voice, letters by their own
sounds), so that what a model learns on the IEMOCAP-format corpus it can learn on these.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import argparse
import os
import time

import numpy as np
import soundfile
from scipy.signal import resample_poly

from custom_modules.constants import SAMPLE_RATE
from synthetic.corpus import synthesize_utterance

# Peak of a file at full loudness (gain 1): headroom for the channel noise.
MAX_PEAK = 0.95


def stream(seed, corpus, *indices):
    """A random stream of its own for one item of one corpus (the same seed gives the same files).

    Arguments
    ---------
    seed : int
    corpus : int
        Which generator (keeps the corpora's streams apart).
    *indices : int
        The item (speaker, clip ...).

    Returns
    -------
    numpy.random.Generator

    Example
    -------
    >>> float(stream(0, 1, 2).random()) == float(stream(0, 1, 2).random())
    True
    """
    return np.random.default_rng([seed, corpus, *indices])


def speak(text, label, voice, rng, gain=1.0, style="script", sample_rate=SAMPLE_RATE):
    """Renders a written sentence with an emotion's prosody, a voice and a loudness.

    Arguments
    ---------
    text : str
        Words as written (punctuation is not spoken).
    label : str
        A label of ``synthetic.corpus.EMOTION_PROSODY`` (neu, hap, ang, sad, fea, dis, sur, cal ...).
    voice : dict
        From ``synthetic.corpus.speaker_voice``.
    rng : numpy.random.Generator
        The utterance's own stream.
    gain : float
        Loudness relative to the emotion's own (at most 1: the emotion's loudest).
    style : str
        ``script`` (steady, read delivery: acted corpora) or ``impro``.
    sample_rate : int
        Of the returned samples; rendered at 16 kHz and resampled when it differs.

    Returns
    -------
    numpy.ndarray
        float64 samples.

    Example
    -------
    >>> from synthetic.corpus import speaker_voice
    >>> rng = np.random.default_rng(0)
    >>> loud = speak("Don't forget a jacket.", "ang", speaker_voice("M", rng), rng, sample_rate=48000)
    >>> len(loud) > 48000, float(np.abs(loud).max()) < 1.0
    (True, True)
    """
    words = ["".join(c for c in word.lower() if c.isascii() and (c.isalpha() or c == "'")) for word in text.split()]
    samples = synthesize_utterance([word for word in words if word], label, voice, style, rng, SAMPLE_RATE)
    samples *= gain
    peak = np.abs(samples).max()
    if peak > MAX_PEAK:
        samples *= MAX_PEAK / peak
    if sample_rate != SAMPLE_RATE:
        divisor = np.gcd(sample_rate, SAMPLE_RATE)
        samples = resample_poly(samples, sample_rate // divisor, SAMPLE_RATE // divisor)
    return samples


def write_wav(path, samples, sample_rate):
    """Writes mono 16-bit PCM, creating the folder; returns the duration in seconds.

    Arguments
    ---------
    path : str
    samples : numpy.ndarray
    sample_rate : int

    Returns
    -------
    float
    """
    os.makedirs(os.path.dirname(path), exist_ok=True)
    soundfile.write(path, samples, sample_rate, subtype="PCM_16")
    return len(samples) / sample_rate


def refuse_existing(out_dir, *names):
    """Raises ``FileExistsError`` if ``out_dir`` already holds one of ``names`` (nothing is overwritten or mixed).

    Arguments
    ---------
    out_dir : str
    *names : str
        What the generator creates in it.
    """
    existing = [name for name in names if os.path.exists(os.path.join(out_dir, name))]
    if existing:
        raise FileExistsError(
            f"{out_dir!r} already holds {', '.join(existing)}: generate into a new or empty folder "
            "(an older corpus would be mixed with the new one)."
        )


def command_line(description, out_help, generate, **sizes):
    """Makes a generator's ``main``: ``--out_dir``, ``--seed`` and one option per size; prints a summary.

    Arguments
    ---------
    description : str
        What the generator writes.
    out_help : str
        What ``--out_dir`` plays the role of.
    generate : callable
        ``generate(out_dir, seed=..., **sizes)`` returning ``{utt_id: {..., "duration"}}``.
    **sizes : int
        The size options and their defaults.

    Returns
    -------
    callable
        ``main(argv=None)`` (``None``: ``sys.argv[1:]``).
    """

    def main(argv=None):
        parser = argparse.ArgumentParser(description=description)
        parser.add_argument("--out_dir", required=True, help=out_help)
        parser.add_argument("--seed", type=int, default=0)
        for name, default in sizes.items():
            parser.add_argument(f"--{name}", type=int, default=default)
        args = vars(parser.parse_args(argv))
        began = time.perf_counter()
        truth = generate(args.pop("out_dir"), **args)
        minutes = sum(entry["duration"] for entry in truth.values()) / 60
        print(f"Wrote {len(truth)} utterances ({minutes:.1f} min of audio) in {time.perf_counter() - began:.1f} s.")

    return main
