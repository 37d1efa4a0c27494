"""Inference over many files and over long recordings with bounded memory: how files are grouped into batches
and how a recording is cut into windows.

- ``duration_batches``: files sorted by duration and grouped greedily so that a batch's padded length (files x
  longest) stays under a cap in seconds; similar lengths together also keep padding (wasted compute) small.
- ``sliding_windows``: equal windows over a recording, the last one ending at its end.

``EmotionRecognizer.iter_predictions`` applies ``duration_batches`` to one window of the input list at a time
(``sort_window`` files), so its results come out in input order while only one batch of audio and one window
of durations is held. SpeechBrain's ``DynamicBatchSampler`` is built for shuffled training epochs: it needs
every length before the first batch and groups lengths into quantile buckets, so the first result would wait
for every file's header and results could only be put back in input order at the end.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import itertools


def duration_batches(durations, max_batch_seconds, max_batch_size):
    """Groups items by duration into batches whose padded length stays within ``max_batch_seconds``.

    Items are taken shortest first; a batch closes when one more item would make ``items x longest`` exceed
    the cap or the batch hold ``max_batch_size`` items. An item longer than the cap gets a batch of its own
    (callers refuse those before: ``EmotionRecognizer`` reports them as errors).

    Arguments
    ---------
    durations : dict
        Item key -> duration in seconds.
    max_batch_seconds : float
        Cap on ``len(batch) * max(duration in batch)``.
    max_batch_size : int
        Cap on the number of items in a batch.

    Returns
    -------
    list of list
        Keys of each batch, batches in increasing duration.

    Example
    -------
    >>> duration_batches({"a": 4.0, "b": 1.0, "c": 2.0, "d": 2.5, "e": 9.0}, max_batch_seconds=8, max_batch_size=3)
    [['b', 'c', 'd'], ['a'], ['e']]
    """
    batches, current = [], []
    for key in sorted(durations, key=lambda k: (durations[k], str(k))):
        # Shortest first, so the new item is the batch's longest.
        if current and (len(current) == max_batch_size or (len(current) + 1) * durations[key] > max_batch_seconds):
            batches.append(current)
            current = []
        current.append(key)
    if current:
        batches.append(current)
    return batches


def sliding_windows(duration_s, window_s, hop_s):
    """Start and end times (s) of windows of ``window_s`` every ``hop_s`` over a recording of ``duration_s``.

    Every window has the full length, so each is classified as a clip of the same duration; where the hops do
    not reach the end, one more window ends exactly at the end. A recording shorter than a window is one
    window.

    Arguments
    ---------
    duration_s, window_s, hop_s : float

    Yields
    ------
    tuple of float
        ``(start_s, end_s)``, in time order.

    Example
    -------
    >>> list(sliding_windows(7.5, window_s=3.0, hop_s=2.0))
    [(0.0, 3.0), (2.0, 5.0), (4.0, 7.0), (4.5, 7.5)]
    >>> list(sliding_windows(2.0, window_s=3.0, hop_s=1.0))
    [(0.0, 2.0)]
    """
    if window_s <= 0 or hop_s <= 0:
        raise ValueError(f"window_s and hop_s must be positive, got {window_s} and {hop_s}.")
    if duration_s <= window_s:
        yield (0.0, float(duration_s))
        return
    # Rounded to microseconds: repeated float additions would otherwise drift past the end.
    last_start = round(duration_s - window_s, 6)
    for step in itertools.count():
        start = round(step * hop_s, 6)
        if start > last_start:
            break
        yield (start, round(start + window_s, 6))
    if start - hop_s < last_start:
        yield (last_start, round(float(duration_s), 6))


def chunks(iterable, size):
    """Consecutive lists of at most ``size`` items of ``iterable`` (read lazily).

    Example
    -------
    >>> list(chunks(range(5), 2))
    [[0, 1], [2, 3], [4]]
    """
    iterator = iter(iterable)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
