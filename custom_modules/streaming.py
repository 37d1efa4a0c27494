"""Inference over many files and over long recordings with bounded memory: how files are grouped into batches
and how a recording is cut into windows.

- ``duration_batches``: files sorted by duration and grouped greedily so that a batch's padded length (files x
  longest) stays under a cap in seconds; similar lengths together also keep padding (wasted compute) small.
- ``sliding_windows``: equal windows over a recording, the last one ending at its end.

``BatchedPredictions`` is what an exported model's two backends (``EmotionRecognizer``, PyTorch, and
``OnnxEmotionRecognizer``, ONNX Runtime) do alike on top of their own forward pass: checking audio files, and
streaming files (``iter_predictions``) and windows of a recording (``emotion_timeline``) through it. Its
``iter_predictions`` applies ``duration_batches`` to one window of the input list at a time (``sort_window``
files), so its results come out in input order while only one batch of audio and one window of durations is
held. This module imports nothing but the standard library (the ONNX backend runs without torch).

SpeechBrain's ``DynamicBatchSampler`` is built for shuffled training epochs: it needs
every length before the first batch and groups lengths into quantile buckets, so the first result would wait
for every file's header and results could only be put back in input order at the end.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import itertools
import os


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


class UnusableAudioError(ValueError):
    """An audio file that cannot be classified; the message names the file and the reason. Each backend raises
    its own subclass (``AudioInputError``)."""


def labelled_predictions(probabilities, label_sets):
    """Per utterance, each prediction's label and every label's probability.

    Arguments
    ---------
    probabilities : dict
        Prediction name -> ``[batch, classes]`` probabilities (a tensor, an array or nested lists).
    label_sets : dict
        Prediction name -> labels in class index order.

    Returns
    -------
    list of dict
        ``{name: best label, f"{name}_probs": {label: probability}}`` per utterance (ties: the first label).

    Example
    -------
    >>> labelled_predictions({"emotion": [[0.25, 0.75]]}, {"emotion": ["neu", "sad"]})
    [{'emotion': 'sad', 'emotion_probs': {'neu': 0.25, 'sad': 0.75}}]
    """
    results = []
    for name, labels in label_sets.items():
        for index, row in enumerate(probabilities[name]):
            values = [float(p) for p in row]
            if index == len(results):
                results.append({})
            results[index][name] = labels[values.index(max(values))]
            results[index][f"{name}_probs"] = dict(zip(labels, values))
    return results


class BatchedPredictions:
    """Audio checks, streamed predictions over many files and the emotion over time in long recordings, for a
    backend that provides its forward pass and its audio reading.

    A backend defines ``sample_rate`` and ``min_samples`` (the encoder's receptive field), ``label_sets``,
    ``predict_batch(wavs, wav_lens)`` (a list of ``labelled_predictions``-style results), ``audio_error`` (its
    ``UnusableAudioError`` subclass) and: ``_audio_info(path)`` (an object with ``sample_rate``, ``frames`` and
    ``duration``), ``_load_audio(path)`` (the samples at ``sample_rate``, mono), ``_read_segment(path, file_rate,
    start_s, end_s)``, ``_pad(signals)`` (a padded batch and relative lengths) and ``_timeline_outputs(wavs,
    wav_lens)`` (``[batch, emotions]``).
    """

    audio_error = UnusableAudioError
    # The way out for a file longer than max_batch_seconds, as the caller spells it (classify.py: its options).
    too_long_fix = "follow it through time with emotion_timeline, or raise max_batch_seconds"

    def iter_predictions(self, paths, batch_size=16, max_batch_seconds=60.0, sort_window=1024, progress=False):
        """``predict_batch`` for any number of audio files, streamed: yields one result per path, in input order.

        The paths are taken ``sort_window`` at a time; their durations come from the file headers, and they are
        batched by duration (``duration_batches``: at most ``batch_size`` files and ``max_batch_seconds`` of
        padded audio per batch). A file's audio is read when its batch runs, so memory holds one batch of audio
        and one window of results, whatever the number of files. A result is yielded as soon as it and every
        earlier one are done.

        Arguments
        ---------
        paths : iterable of str
            Audio files (read lazily: a generator works).
        batch_size : int
            At most this many files per forward pass.
        max_batch_seconds : float
            At most this many seconds of padded audio (files x longest) per forward pass. A longer file is
            reported as an error: follow it through time with ``emotion_timeline``, or raise the cap.
        sort_window : int
            Files sorted by duration together (larger: less padding, later first results).
        progress : bool
            Show a progress bar (tqdm, on stderr).

        Yields
        ------
        dict
            ``file`` and either the predictions (``predict_batch``) or ``error``.
        """
        if batch_size < 1 or max_batch_seconds <= 0 or sort_window < 1:
            raise ValueError("batch_size and sort_window must be at least 1 and max_batch_seconds positive.")
        total = len(paths) if hasattr(paths, "__len__") else None
        with _progress_bar(total, progress) as bar:
            for window in chunks(enumerate(paths), sort_window):
                yield from self._predict_window(window, batch_size, max_batch_seconds, bar)

    def predict_files(self, paths, batch_size=16, max_batch_seconds=60.0, progress=False):
        """``iter_predictions`` as a list: one result per path, in order, each with ``file`` and either the
        predictions or ``error``."""
        return list(self.iter_predictions(paths, batch_size, max_batch_seconds, progress=progress))

    def emotion_timeline(self, path, window_s=3.0, hop_s=1.0, batch_size=16):
        """The emotion over time in a recording of any length: each window of ``window_s`` seconds, every
        ``hop_s`` seconds, classified as a clip (``sliding_windows``). Only the windows of one batch are read at a
        time (from the file, by position), so memory does not grow with the length.

        This is the simple windowed form, not SpeechBrain's emotion-diarization model: windows are classified
        independently, and a window that spans a change gets a mixture.

        Arguments
        ---------
        path : str
            Audio file.
        window_s, hop_s : float
            Window length and step, in seconds.
        batch_size : int
            Windows per forward pass.

        Yields
        ------
        dict
            Per window, in time order: ``start_s``, ``end_s``, ``emotion`` and ``emotion_probs``, and each
            dimension the model predicts (``arousal``, ``valence``, ``dominance``).
        """
        info = self.checked_audio_info(path)
        if round(window_s * self.sample_rate) < self.min_samples:
            raise ValueError(
                f"window_s {window_s} is shorter than the encoder's receptive field "
                f"({self.min_samples / self.sample_rate} s)."
            )
        labels = {"emotion": self.label_sets["emotion"]}
        for windows in chunks(sliding_windows(info.duration, window_s, hop_s), batch_size):
            signals = [self._read_segment(path, info.sample_rate, start, end) for start, end in windows]
            outputs = self._timeline_outputs(*self._pad(signals))
            rows = labelled_predictions({"emotion": outputs.pop("emotion")}, labels)
            for index, ((start, end), row) in enumerate(zip(windows, rows)):
                yield {"start_s": start, "end_s": end, **row, **{task: float(v[index]) for task, v in outputs.items()}}

    def checked_audio_info(self, path):
        """The header of an audio file, after the checks that need no samples: raises ``audio_error`` naming a
        missing, unreadable or empty file, or one shorter than the encoder's receptive field.

        Arguments
        ---------
        path : str

        Returns
        -------
        object
            With ``sample_rate``, ``frames`` and ``duration`` (the backend's ``_audio_info``).
        """
        if not os.path.isfile(path):
            raise self.audio_error(f"{path}: no such file.")
        try:
            info = self._audio_info(str(path))
        except RuntimeError as error:
            raise self.audio_error(f"{path}: cannot read audio ({error.__cause__ or error}).") from error
        if info.frames == 0:
            raise self.audio_error(f"{path}: the file holds no audio samples.")
        samples = round(info.frames * self.sample_rate / info.sample_rate)
        if samples < self.min_samples:
            raise self.audio_error(self._too_short_message(path, samples))
        return info

    def load_checked_audio(self, path):
        """Loads, down-mixes and resamples a file; raises ``audio_error`` naming it if it cannot be used.

        Arguments
        ---------
        path : str

        Returns
        -------
        The samples ``[samples]`` at ``sample_rate`` (the backend's array type).
        """
        if not os.path.isfile(path):
            # SpeechBrain's load_audio would take a missing local path for a file on the Hugging Face hub.
            raise self.audio_error(f"{path}: no such file.")
        try:
            signal = self._load_audio(str(path))
        except Exception as error:  # soundfile and fetch raise several types for unreadable files
            raise self.audio_error(f"{path}: cannot read audio ({error}).") from error
        if len(signal) == 0:
            raise self.audio_error(f"{path}: the file holds no audio samples.")
        if len(signal) < self.min_samples:
            raise self.audio_error(self._too_short_message(path, len(signal)))
        return signal

    def _predict_window(self, window, batch_size, max_batch_seconds, bar):
        """Predictions for a list of ``(input index, path)``, yielded in input order as they are ready."""
        done, durations = {}, {}
        for index, path in window:
            try:
                durations[index] = self.checked_audio_info(path).duration
                if durations[index] > max_batch_seconds:
                    raise self.audio_error(
                        f"{path}: {durations[index]:.1f} s is longer than max_batch_seconds ({max_batch_seconds:g} "
                        f"s); {self.too_long_fix}."
                    )
            except UnusableAudioError as error:
                durations.pop(index, None)
                done[index] = {"file": str(path), "error": str(error)}
        paths = dict(window)
        next_index, end = window[0][0], window[-1][0] + 1
        for batch in duration_batches(durations, max_batch_seconds, batch_size):
            done.update(self._predict_file_batch([(index, paths[index]) for index in batch]))
            bar.update(len(batch))
            while next_index in done:
                yield done.pop(next_index)
                next_index += 1
        bar.update(len(window) - len(durations))
        for index in range(next_index, end):
            yield done.pop(index)

    def _predict_file_batch(self, items):
        """Reads and classifies one batch of ``(input index, path)``; returns ``{index: result}``. Its audio
        is freed when it returns."""
        results, loaded = {}, []
        for index, path in items:
            try:
                loaded.append((index, path, self.load_checked_audio(path)))
            except UnusableAudioError as error:
                results[index] = {"file": str(path), "error": str(error)}
        if loaded:
            predictions = self.predict_batch(*self._pad([signal for _, _, signal in loaded]))
            for (index, path, _), prediction in zip(loaded, predictions):
                results[index] = {"file": str(path), **prediction}
        return results

    def _too_short_message(self, path, samples):
        return (
            f"{path}: {samples} samples at {self.sample_rate} Hz is shorter than the encoder's receptive "
            f"field ({self.min_samples} samples)."
        )


class _NoProgressBar:
    """What ``iter_predictions`` needs of a tqdm bar, doing nothing: tqdm is imported only for a bar shown."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n=1):
        pass


def _progress_bar(total, shown):
    if not shown:
        return _NoProgressBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="file", dynamic_ncols=True)
