"""Inference: ``EmotionRecognizer``, a SpeechBrain ``Pretrained`` interface for an exported model folder.

Loads like SpeechBrain's ``emotion-recognition-wav2vec2-IEMOCAP``, offline::

    from speechbrain.inference.interfaces import foreign_class
    model = foreign_class(source="path/to/exported_model", pymodule_file="custom_interface.py",
                          classname="EmotionRecognizer")
    out_prob, score, index, text_lab = model.classify_file("speech.wav")  # out_prob: probabilities

``classify_file`` / ``classify_batch`` return what SpeechBrain's emotion card returns: ``out_prob`` holds the
four class probabilities and ``score`` the best one (``log_probs=True`` gives log-probabilities instead).
``iter_predictions`` / ``predict_files`` stream any number of files (read as needed, batched by duration under a
cap on padded seconds, results in input order) and ``emotion_timeline`` follows the emotion through a recording
of any length in sliding windows; both keep memory bounded.

Audio of any sample rate is resampled to the model's and multi-channel audio is averaged to mono
(SpeechBrain's ``AudioNormalizer``). Files that cannot be used (unreadable, empty, shorter than the CNN's
receptive field) raise ``AudioInputError`` naming the file; ``predict_files`` returns the other files' results
and that file's error.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import os

import torch
from speechbrain.dataio import audio_io
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.encoder import CTCTextEncoder
from speechbrain.decoders import ctc_greedy_decode
from speechbrain.inference.interfaces import Pretrained
from tqdm.auto import tqdm

from custom_modules.constants import BLANK_INDEX, CTC_VOCAB_SIZE
from custom_modules.ctc_units import decode_units, tokenizer_size
from custom_modules.errors import RecipeInputError
from custom_modules.streaming import chunks, duration_batches, sliding_windows

# The emotion head's prediction name (predict_batch); an auxiliary label's is its task name (gender, style, ...).
EMOTION_PREDICTION = "emotion"


def prediction_name(task):
    """The name of a head's prediction in ``predict_batch``: ``emotion`` for ``emo``, else the task's own name."""
    return EMOTION_PREDICTION if task == "emo" else task


class AudioInputError(RecipeInputError, ValueError):
    """An audio file that cannot be classified; the message names the file and the reason."""


class EmotionRecognizer(Pretrained):
    """Emotion (IEMOCAP's neu, hap, ang, sad, or the classes of the corpus the model was trained on) and the
    auxiliary labels the model has (IEMOCAP: gender and speaking style) from speech, plus a transcript when the
    model has an ASR head.

    The hyperparams file (written by ``recipes/export.py``) defines ``encoder`` and ``heads`` modules, the
    ``label_encoder`` (emotion), a ``<task>_encoder`` per auxiliary label (``gender_encoder``, ``style_encoder``)
    and the ``tokenizer`` (SpeechBrain's ``CTCTextEncoder`` for characters, a
    ``sentencepiece.SentencePieceProcessor`` for BPE pieces), ``sample_rate`` and ``min_samples`` (the CNN's
    receptive field).
    """

    MODULES_NEEDED = ["encoder", "heads"]
    HPARAMS_NEEDED = ["label_encoder", "tokenizer", "sample_rate", "min_samples"]
    # The way out for a file longer than max_batch_seconds, as the caller spells it (classify.py: its options).
    too_long_fix = "follow it through time with emotion_timeline, or raise max_batch_seconds"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        n_classes = self.mods.heads.settings()["n_classes"]
        for task in self.label_tasks:
            self.task_encoder(task).expect_len(n_classes[task])
        tokenizer = self.hparams.tokenizer
        if isinstance(tokenizer, CTCTextEncoder):
            tokenizer.expect_len(CTC_VOCAB_SIZE)
        if self.has_transcript and tokenizer_size(tokenizer) != self.mods.heads.ctc_lin.w.out_features:
            raise ValueError(
                f"The tokenizer has {tokenizer_size(tokenizer)} units but the ASR head "
                f"{self.mods.heads.ctc_lin.w.out_features}: tokenizer.ckpt is not this model's."
            )

    def encode_batch(self, wavs, wav_lens=None):
        """Utterance embeddings: the emotion classifier's input (``concat(x_emo, x_gender, x_style)`` with
        feature fusion, else ``x_emo``).

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, samples]`` at ``sample_rate``.
        wav_lens : torch.Tensor
            Relative lengths ``[batch]`` (None: all full length).

        Returns
        -------
        torch.Tensor
            ``[batch, embedding_dim]``.
        """
        return self._run_heads(wavs, wav_lens)["embedding"]

    def classify_batch(self, wavs, wav_lens=None, log_probs=False):
        """Emotion of each waveform, as SpeechBrain's emotion card (``emotion-recognition-wav2vec2-IEMOCAP``)
        returns it: probabilities, so that code written for that card (``if score > 0.5``) keeps its meaning.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, samples]`` at ``sample_rate``.
        wav_lens : torch.Tensor
            Relative lengths ``[batch]``.
        log_probs : bool
            Return log-probabilities (the heads' log-softmax, exact also for tiny probabilities) instead.

        Returns
        -------
        out_prob : torch.Tensor
            Class probabilities ``[batch, classes]`` (they sum to 1), or their logarithms with ``log_probs``.
        score : torch.Tensor
            Probability (or log-probability) of the best class ``[batch]``.
        index : torch.Tensor
            Best class index ``[batch]``.
        text_lab : list of str
            Best class label (neu, hap, ang, sad).
        """
        log_posteriors = self._run_heads(wavs, wav_lens)["emo"]
        out_prob = log_posteriors if log_probs else log_posteriors.exp()
        score, index = torch.max(out_prob, dim=-1)
        text_lab = self.hparams.label_encoder.decode_torch(index)
        return out_prob, score, index, text_lab

    def classify_file(self, path, log_probs=False):
        """Emotion of one audio file, same outputs as ``classify_batch`` for a batch of one."""
        wav = self.load_checked_audio(path)
        return self.classify_batch(wav.unsqueeze(0), torch.ones(1), log_probs=log_probs)

    def task_encoder(self, task):
        """The label encoder of a head: ``label_encoder`` for emotion, ``<task>_encoder`` for an auxiliary label."""
        return self.hparams.label_encoder if task == "emo" else getattr(self.hparams, f"{task}_encoder")

    @property
    def label_tasks(self):
        """The heads that classify (emotion and the auxiliary labels), without the dimension tasks."""
        return [task for task in self.mods.heads.utterance_tasks if task not in self.dimensions]

    @property
    def dimensions(self):
        """The dimension tasks the model predicts (``arousal``, ``valence``, ``dominance``; a manifest's numeric
        columns), each a number on its annotation's scale (IEMOCAP: 1-5)."""
        return list(getattr(self.mods.heads, "dimension_tasks", []))

    @property
    def label_sets(self):
        """The labels of each prediction the model makes, in class index order: ``emotion`` and each auxiliary
        label the model has a head for (``predict_batch``'s names)."""
        return {
            prediction_name(task): [self.task_encoder(task).decode_ndim(i) for i in range(len(self.task_encoder(task)))]
            for task in self.label_tasks
        }

    @property
    def has_transcript(self):
        """Whether the model has an ASR head (``predict_batch`` then gives a ``transcript``)."""
        return self.mods.heads.ctc_lin is not None

    def predict_batch(self, wavs, wav_lens=None):
        """Every prediction of the model for a batch.

        Returns
        -------
        list of dict
            Per utterance: ``emotion`` and ``emotion_probs`` (label -> probability), each auxiliary label the
            model has (``gender``, ``style``, ...) with its probabilities, each dimension it predicts (``arousal``,
            ``valence``, ``dominance``: a float on the annotation's scale, IEMOCAP's 1-5), and ``transcript`` when
            it has an ASR head.
        """
        outputs = self._run_heads(wavs, wav_lens)
        results = [{} for _ in range(outputs["emo"].shape[0])]
        for task in self.dimensions:
            for result, value in zip(results, outputs[task]):
                result[task] = float(value)
        for task in self.label_tasks:
            encoder, name = self.task_encoder(task), prediction_name(task)
            probs = outputs[task].exp()
            for result, row in zip(results, probs):
                result[name] = encoder.decode_ndim(int(row.argmax()))
                result[f"{name}_probs"] = {encoder.decode_ndim(i): float(p) for i, p in enumerate(row)}
        if "asr" in outputs:
            hypotheses = ctc_greedy_decode(outputs["asr"], outputs["frame_lens"], blank_id=BLANK_INDEX)
            for result, hypothesis in zip(results, hypotheses):
                result["transcript"] = decode_units(self.hparams.tokenizer, hypothesis).strip()
        return results

    def iter_predictions(self, paths, batch_size=16, max_batch_seconds=60.0, sort_window=1024, progress=False):
        """``predict_batch`` for any number of audio files, streamed: yields one result per path, in input order.

        The paths are taken ``sort_window`` at a time; their durations come from the file headers, and they are
        batched by duration (``custom_modules.streaming.duration_batches``: at most ``batch_size`` files and
        ``max_batch_seconds`` of padded audio per batch). A file's audio is read when its batch runs, so memory
        holds one batch of audio and one window of results, whatever the number of files. A result is yielded
        as soon as it and every earlier one are done.

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
        with tqdm(total=total, unit="file", disable=not progress, dynamic_ncols=True) as bar:
            for window in chunks(enumerate(paths), sort_window):
                yield from self._predict_window(window, batch_size, max_batch_seconds, bar)

    def predict_files(self, paths, batch_size=16, max_batch_seconds=60.0, progress=False):
        """``iter_predictions`` as a list: one result per path, in order, each with ``file`` and either the
        predictions or ``error``."""
        return list(self.iter_predictions(paths, batch_size, max_batch_seconds, progress=progress))

    def emotion_timeline(self, path, window_s=3.0, hop_s=1.0, batch_size=16):
        """The emotion over time in a recording of any length: each window of ``window_s`` seconds, every
        ``hop_s`` seconds, classified as a clip (``custom_modules.streaming.sliding_windows``). Only the windows
        of one batch are read at a time (from the file, by position), so memory does not grow with the length.

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
        if round(window_s * self.hparams.sample_rate) < self.hparams.min_samples:
            raise ValueError(
                f"window_s {window_s} is shorter than the encoder's receptive field "
                f"({self.hparams.min_samples / self.hparams.sample_rate} s)."
            )
        labels = self.label_sets["emotion"]
        for windows in chunks(sliding_windows(info.duration, window_s, hop_s), batch_size):
            signals = [{"sig": self._read_segment(path, info.sample_rate, start, end)} for start, end in windows]
            wavs, wav_lens = PaddedBatch(signals).sig
            outputs = self._run_heads(wavs, wav_lens)
            probabilities = outputs["emo"].exp().cpu()
            for index, ((start, end), row) in enumerate(zip(windows, probabilities)):
                yield {
                    "start_s": start,
                    "end_s": end,
                    "emotion": labels[int(row.argmax())],
                    "emotion_probs": {label: float(p) for label, p in zip(labels, row)},
                    **{task: float(outputs[task][index]) for task in self.dimensions},
                }

    def checked_audio_info(self, path):
        """The header of an audio file (``speechbrain.dataio.audio_io.info``), after the checks that need no
        samples: raises ``AudioInputError`` naming a missing, unreadable or empty file, or one shorter than the
        encoder's receptive field.

        Arguments
        ---------
        path : str

        Returns
        -------
        speechbrain.dataio.audio_io.AudioInfo
            With ``sample_rate``, ``frames``, ``channels`` and ``duration``.
        """
        if not os.path.isfile(path):
            raise AudioInputError(f"{path}: no such file.")
        try:
            info = audio_io.info(str(path))
        except RuntimeError as error:
            raise AudioInputError(f"{path}: cannot read audio ({error.__cause__ or error}).") from error
        if info.frames == 0:
            raise AudioInputError(f"{path}: the file holds no audio samples.")
        samples = round(info.frames * self.hparams.sample_rate / info.sample_rate)
        if samples < self.hparams.min_samples:
            raise AudioInputError(self._too_short_message(path, samples))
        return info

    def _predict_window(self, window, batch_size, max_batch_seconds, bar):
        """Predictions for a list of ``(input index, path)``, yielded in input order as they are ready."""
        done, durations = {}, {}
        for index, path in window:
            try:
                durations[index] = self.checked_audio_info(path).duration
                if durations[index] > max_batch_seconds:
                    raise AudioInputError(
                        f"{path}: {durations[index]:.1f} s is longer than max_batch_seconds ({max_batch_seconds:g} "
                        f"s); {self.too_long_fix}."
                    )
            except AudioInputError as error:
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
        results, loaded, paths = {}, [], dict(items)
        for index, path in items:
            try:
                loaded.append({"index": index, "sig": self.load_checked_audio(path)})
            except AudioInputError as error:
                results[index] = {"file": str(path), "error": str(error)}
        if loaded:
            batch = PaddedBatch(loaded)
            wavs, wav_lens = batch.sig
            for index, prediction in zip(batch.index.tolist(), self.predict_batch(wavs, wav_lens)):
                results[index] = {"file": str(paths[index]), **prediction}
        return results

    def _read_segment(self, path, file_rate, start_s, end_s):
        """Samples from ``start_s`` to ``end_s`` of a file, down-mixed and resampled (only that part is read)."""
        offset = round(start_s * file_rate)
        try:
            signal, rate = audio_io.load(
                str(path), channels_first=False, frame_offset=offset, num_frames=round(end_s * file_rate) - offset
            )
        except RuntimeError as error:
            reason = error.__cause__ or error
            raise AudioInputError(f"{path}: cannot read audio at {start_s:g} s ({reason}).") from error
        return self.audio_normalizer(signal.to(self.device), rate)

    def load_checked_audio(self, path):
        """Loads, down-mixes and resamples a file; raises ``AudioInputError`` naming it if it cannot be used.

        Arguments
        ---------
        path : str

        Returns
        -------
        torch.Tensor
            ``[samples]`` at ``sample_rate``.
        """
        if not os.path.isfile(path):
            # load_audio would take a missing local path for a file on the Hugging Face hub and try to fetch it.
            raise AudioInputError(f"{path}: no such file.")
        try:
            signal = self.load_audio(str(path))
        except Exception as error:  # soundfile and fetch raise several types for unreadable files
            raise AudioInputError(f"{path}: cannot read audio ({error}).") from error
        if signal.numel() == 0:
            raise AudioInputError(f"{path}: the file holds no audio samples.")
        if signal.shape[0] < self.hparams.min_samples:
            raise AudioInputError(self._too_short_message(path, signal.shape[0]))
        return signal

    def _too_short_message(self, path, samples):
        return (
            f"{path}: {samples} samples at {self.hparams.sample_rate} Hz is shorter than the encoder's receptive "
            f"field ({self.hparams.min_samples} samples)."
        )

    def forward(self, wavs, wav_lens=None):
        """Runs the classification (``classify_batch``)."""
        return self.classify_batch(wavs, wav_lens)

    def _run_heads(self, wavs, wav_lens):
        if wavs.dim() == 1:
            wavs = wavs.unsqueeze(0)
        if wav_lens is None:
            wav_lens = torch.ones(wavs.shape[0])
        wavs, wav_lens = wavs.float().to(self.device), wav_lens.to(self.device)
        with torch.no_grad():
            return self.mods.heads(*self.mods.encoder(wavs, wav_lens))
