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

import torch
from speechbrain.dataio import audio_io
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.encoder import CTCTextEncoder
from speechbrain.decoders import ctc_greedy_decode
from speechbrain.inference.interfaces import Pretrained

from custom_modules.constants import BLANK_INDEX, CTC_VOCAB_SIZE
from custom_modules.ctc_units import decode_units, tokenizer_size
from custom_modules.errors import RecipeInputError
from custom_modules.streaming import BatchedPredictions, UnusableAudioError, labelled_predictions

# The emotion head's prediction name (predict_batch); an auxiliary label's is its task name (gender, style, ...).
EMOTION_PREDICTION = "emotion"


def prediction_name(task):
    """The name of a head's prediction in ``predict_batch``: ``emotion`` for ``emo``, else the task's own name."""
    return EMOTION_PREDICTION if task == "emo" else task


class AudioInputError(RecipeInputError, UnusableAudioError):
    """An audio file that cannot be classified; the message names the file and the reason."""


class EmotionRecognizer(BatchedPredictions, Pretrained):
    """Emotion (IEMOCAP's neu, hap, ang, sad, or the classes of the corpus the model was trained on), the auxiliary
    labels the model has (IEMOCAP: gender and speaking style) and the dimensions it predicts (arousal, valence,
    dominance) from speech, plus a transcript when the model has an ASR head.

    The hyperparams file (written by ``recipes/export.py``) defines ``encoder`` and ``heads`` modules, the
    ``label_encoder`` (emotion), a ``<task>_encoder`` per auxiliary label (``gender_encoder``, ``style_encoder``)
    and the ``tokenizer`` (SpeechBrain's ``CTCTextEncoder`` for characters, a
    ``sentencepiece.SentencePieceProcessor`` for BPE pieces), ``sample_rate`` and ``min_samples`` (the CNN's
    receptive field).
    """

    MODULES_NEEDED = ["encoder", "heads"]
    HPARAMS_NEEDED = ["label_encoder", "tokenizer", "sample_rate", "min_samples"]
    audio_error = AudioInputError

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
        encoders = {prediction_name(task): self.task_encoder(task) for task in self.label_tasks}
        return {name: [encoder.decode_ndim(i) for i in range(len(encoder))] for name, encoder in encoders.items()}

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
        probabilities = {prediction_name(task): outputs[task].exp() for task in self.label_tasks}
        results = labelled_predictions(probabilities, self.label_sets)
        for task in self.dimensions:
            for result, value in zip(results, outputs[task].tolist()):
                result[task] = value
        if "asr" in outputs:
            hypotheses = ctc_greedy_decode(outputs["asr"], outputs["frame_lens"], blank_id=BLANK_INDEX)
            for result, hypothesis in zip(results, hypotheses):
                result["transcript"] = decode_units(self.hparams.tokenizer, hypothesis).strip()
        return results

    @property
    def sample_rate(self):
        """The model's sample rate: every file is resampled to it."""
        return self.hparams.sample_rate

    @property
    def min_samples(self):
        """The encoder's receptive field in samples: shorter audio cannot be encoded."""
        return self.hparams.min_samples

    def _audio_info(self, path):
        return audio_io.info(path)

    def _load_audio(self, path):
        return self.load_audio(path)

    def _pad(self, signals):
        return PaddedBatch([{"sig": signal} for signal in signals]).sig

    def _timeline_outputs(self, wavs, wav_lens):
        outputs = self._run_heads(wavs, wav_lens)
        return {
            EMOTION_PREDICTION: outputs["emo"].exp().cpu(),
            **{task: outputs[task].cpu() for task in self.dimensions},
        }

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
