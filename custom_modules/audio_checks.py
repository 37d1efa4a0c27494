"""What makes an audio file unusable for training, checked the same way by preparation and by training.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import os

import numpy as np
import soundfile

from custom_modules.constants import SAMPLE_RATE

# A file whose samples never exceed this (in [-1, 1]) holds no speech: a zeroed or cut recording.
SILENCE_PEAK = 1e-4


def audio_problem(path, min_duration, sample_rate=SAMPLE_RATE):
    """Says what is wrong with an audio file for training, if anything.

    Arguments
    ---------
    path : str
    min_duration : float
        Seconds; shorter files cannot be encoded (wav2vec 2.0 needs at least its receptive field).
    sample_rate : int
        The rate the backbone expects.

    Returns
    -------
    reason : str or None
        None when the file is fine; otherwise starts with the kind of problem (``missing wav``,
        ``unreadable wav``, ``empty wav``, ``not mono``, ``wrong sample rate``, ``too short``,
        ``non-finite samples``, ``silent wav``).
    duration : float or None
        Seconds, when the file is fine.

    Example
    -------
    >>> audio_problem("/no/such/file.wav", 0.1)
    ('missing wav', None)
    """
    if not os.path.isfile(path):
        return "missing wav", None
    try:
        info = soundfile.info(path)
    except Exception as error:  # soundfile raises several types for corrupt headers
        return f"unreadable wav: {error}", None
    if info.frames == 0:
        return "empty wav", None
    if info.channels != 1:
        return f"not mono: {info.channels} channels", None
    if info.samplerate != sample_rate:
        return f"wrong sample rate: {info.samplerate} Hz instead of {sample_rate}", None
    duration = info.frames / info.samplerate
    if duration < min_duration:
        return f"too short: {duration:.3f} s < {min_duration} s", None
    # The samples too: a valid header can sit on truncated data, non-finite values or silence.
    try:
        samples, _ = soundfile.read(path, dtype="float32")
    except Exception as error:  # truncated or corrupt data after a valid header
        return f"unreadable wav: {error}", None
    if not np.isfinite(samples).all():
        return "non-finite samples (NaN or inf)", None
    if np.abs(samples).max() < SILENCE_PEAK:
        return "silent wav: every sample is (close to) zero", None
    return None, round(duration, 4)
