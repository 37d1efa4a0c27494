"""Inference: ``EmotionRecognizer``, a SpeechBrain ``Pretrained`` interface for an exported model folder.

Loads like SpeechBrain's ``emotion-recognition-wav2vec2-IEMOCAP``, offline::

    from speechbrain.inference.interfaces import foreign_class
    model = foreign_class(source="path/to/exported_model", pymodule_file="custom_interface.py",
                          classname="EmotionRecognizer")
    out_prob, score, index, text_lab = model.classify_file("speech.wav")

Audio of any sample rate is resampled to the model's and multi-channel audio is averaged to mono
(SpeechBrain's ``AudioNormalizer``). Files that cannot be used (unreadable, empty, shorter than the CNN's
receptive field) raise ``AudioInputError`` naming the file; ``predict_files`` returns the other files' results
and that file's error.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import os

import torch
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.decoders import ctc_greedy_decode
from speechbrain.inference.interfaces import Pretrained

from custom_modules.constants import BLANK_INDEX, CTC_VOCAB_SIZE, TASK_LABELS
from custom_modules.errors import RecipeInputError


class AudioInputError(RecipeInputError, ValueError):
    """An audio file that cannot be classified; the message names the file and the reason."""


class EmotionRecognizer(Pretrained):
    """Emotion (neu, hap, ang, sad), gender and speaking style from speech, plus a transcript when the model
    has an ASR head.

    The hyperparams file (written by ``recipes/export.py``) defines ``encoder`` and ``heads`` modules, the
    ``label_encoder`` (emotion), ``gender_encoder``, ``style_encoder`` and ``tokenizer`` encoders,
    ``sample_rate`` and ``min_samples`` (the CNN's receptive field).
    """

    MODULES_NEEDED = ["encoder", "heads"]
    HPARAMS_NEEDED = ["label_encoder", "gender_encoder", "style_encoder", "tokenizer", "sample_rate", "min_samples"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, task in (("label_encoder", "emo"), ("gender_encoder", "gender"), ("style_encoder", "style")):
            getattr(self.hparams, name).expect_len(len(TASK_LABELS[task]))
        self.hparams.tokenizer.expect_len(CTC_VOCAB_SIZE)

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

    def classify_batch(self, wavs, wav_lens=None):
        """Emotion of each waveform, as SpeechBrain's classifiers return it.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, samples]`` at ``sample_rate``.
        wav_lens : torch.Tensor
            Relative lengths ``[batch]``.

        Returns
        -------
        out_prob : torch.Tensor
            Log posteriors ``[batch, 4]``.
        score : torch.Tensor
            Log posterior of the best class ``[batch]``.
        index : torch.Tensor
            Best class index ``[batch]``.
        text_lab : list of str
            Best class label (neu, hap, ang, sad).
        """
        return self._classification(self._run_heads(wavs, wav_lens))

    def classify_file(self, path):
        """Emotion of one audio file, same outputs as ``classify_batch`` for a batch of one."""
        wav = self.load_checked_audio(path)
        return self.classify_batch(wav.unsqueeze(0), torch.ones(1))

    def predict_batch(self, wavs, wav_lens=None):
        """Every prediction of the model for a batch.

        Returns
        -------
        list of dict
            Per utterance: ``emotion`` and ``emotion_probs`` (label -> probability), ``gender`` and ``style``
            with their probabilities when the model has those heads, and ``transcript`` when it has an ASR head.
        """
        outputs = self._run_heads(wavs, wav_lens)
        results = [{} for _ in range(outputs["emo"].shape[0])]
        encoders = {"emo": self.hparams.label_encoder}
        encoders.update({t: getattr(self.hparams, f"{t}_encoder") for t in ("gender", "style") if t in outputs})
        for task, encoder in encoders.items():
            name = "emotion" if task == "emo" else task
            probs = outputs[task].exp()
            for result, row in zip(results, probs):
                result[name] = encoder.decode_ndim(int(row.argmax()))
                result[f"{name}_probs"] = {encoder.decode_ndim(i): float(p) for i, p in enumerate(row)}
        if "asr" in outputs:
            hypotheses = ctc_greedy_decode(outputs["asr"], outputs["frame_lens"], blank_id=BLANK_INDEX)
            for result, hypothesis in zip(results, hypotheses):
                result["transcript"] = "".join(self.hparams.tokenizer.decode_ndim(hypothesis)).strip()
        return results

    def predict_files(self, paths, batch_size=8):
        """``predict_batch`` for audio files; a file that cannot be used gets an ``error`` entry instead.

        Arguments
        ---------
        paths : list of str
        batch_size : int

        Returns
        -------
        list of dict
            One per path, in order, each with ``file`` and either the predictions or ``error``.
        """
        results = [{"file": str(path)} for path in paths]
        loaded = []
        for index, path in enumerate(paths):
            try:
                loaded.append({"index": index, "sig": self.load_checked_audio(path)})
            except AudioInputError as error:
                results[index]["error"] = str(error)
        # Similar lengths together keep padding (and its effect on batched numerics) small.
        loaded.sort(key=lambda item: item["sig"].shape[0])
        for start in range(0, len(loaded), batch_size):
            batch = PaddedBatch(loaded[start : start + batch_size])
            wavs, wav_lens = batch.sig
            for index, prediction in zip(batch.index, self.predict_batch(wavs, wav_lens)):
                results[index].update(prediction)
        return results

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
            raise AudioInputError(
                f"{path}: {signal.shape[0]} samples at {self.hparams.sample_rate} Hz is shorter than the encoder's "
                f"receptive field ({self.hparams.min_samples} samples)."
            )
        return signal

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

    def _classification(self, outputs):
        out_prob = outputs["emo"]
        score, index = torch.max(out_prob, dim=-1)
        text_lab = self.hparams.label_encoder.decode_torch(index)
        return out_prob, score, index, text_lab
