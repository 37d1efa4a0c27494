"""``OnnxEmotionRecognizer``: an exported model run by ONNX Runtime, without torch, torchaudio, SpeechBrain or
transformers; ``EmotionRecognizer``'s twin, with the same methods and results.

``recipes/export.py --onnx`` writes ``model.onnx`` (and with ``--quantize int8`` ``model.int8.onnx``) into the
exported folder, with this module as ``onnx_interface.py`` beside it (it carries its own code, as
``custom_interface.py`` does: ``recipes/hub/inference_bundle.py``). It needs ``onnxruntime``, ``numpy``,
``soundfile`` and ``scipy`` (resampling) only::

    import importlib.util
    spec = importlib.util.spec_from_file_location("onnx_interface", "exported/fold1/onnx_interface.py")
    onnx_interface = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(onnx_interface)
    model = onnx_interface.OnnxEmotionRecognizer("exported/fold1")            # or precision="int8"
    out_prob, score, index, text_lab = model.classify_file("speech.wav")       # numpy arrays, a list of labels

The graph takes ``waveforms`` (float32 ``[batch, samples]`` at 16 kHz, zero-padded) and ``lengths`` (int64
``[batch]``: each waveform's own samples); the normalisation of each waveform and the padding masks are inside it.
Its outputs and the labels of each are named in the file's metadata (``METADATA_KEY``), which this class reads.

Where this backend differs from PyTorch's: audio at another rate than 16 kHz is resampled with
``scipy.signal.resample_poly`` (a polyphase filter) rather than torchaudio's sinc interpolation, so such files get
close but not equal probabilities; ``log_probs=True`` gives the logarithm of the probabilities the graph computes.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import json
import math
import os
from types import SimpleNamespace

import numpy as np
import onnxruntime
import soundfile
from scipy.signal import resample_poly

from custom_modules.streaming import BatchedPredictions, UnusableAudioError, labelled_predictions

# The ONNX files of an exported folder, by precision.
ONNX_FILES = {"fp32": "model.onnx", "int8": "model.int8.onnx"}
# The metadata entry of those files that describes the model (sample rate, labels, CTC units).
METADATA_KEY = "ser_two_stage_adapters"
INPUT_NAMES = ("waveforms", "lengths")


class AudioInputError(UnusableAudioError):
    """An audio file that cannot be classified; the message names the file and the reason."""


class OnnxEmotionRecognizer(BatchedPredictions):
    """Emotion (and gender, style, a transcript, as far as the model has those heads) from speech, with an ONNX
    file of an exported model folder.

    Arguments
    ---------
    source : str
        An exported model folder, or an ``.onnx`` file written by ``recipes/export.py``.
    precision : str
        ``fp32`` (``model.onnx``) or ``int8`` (``model.int8.onnx``); ignored when ``source`` is a file.
    threads : int, optional
        ONNX Runtime's intra-op threads (default: its own choice, one per core).
    """

    audio_error = AudioInputError

    def __init__(self, source, precision="fp32", threads=None):
        if precision not in ONNX_FILES:
            raise ValueError(f"precision must be one of {', '.join(ONNX_FILES)}, got {precision!r}.")
        path = source if str(source).endswith(".onnx") else os.path.join(source, ONNX_FILES[precision])
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"{path} does not exist: export the model with recipes/export.py --onnx"
                + (" --quantize int8." if precision == "int8" else ".")
            )
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        # ONNX Runtime's threads busy-wait between operators by default: CPU time taken from whatever else runs,
        # for no gain in speed here (README, "ONNX and int8": 2 threads, int8, 7% more CPU time, the same wall time).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = path
        self.session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        description = json.loads(self.session.get_modelmeta().custom_metadata_map[METADATA_KEY])
        self.sample_rate = description["sample_rate"]
        self.min_samples = description["min_samples"]
        self._labels = description["labels"]
        # The dimension tasks (arousal, valence, dominance) the model predicts, each an output of its own.
        self.dimensions = list(description.get("dimensions", []))
        self._ctc = description["ctc"]
        self.output_names = [output.name for output in self.session.get_outputs()]

    @property
    def label_sets(self):
        """The labels of each prediction the model makes, in class index order (``emotion``, then each auxiliary
        label the model has: IEMOCAP's ``gender`` and ``style``, or a corpus's own)."""
        return {name: list(labels) for name, labels in self._labels.items()}

    @property
    def has_transcript(self):
        """Whether the model has an ASR head (``predict_batch`` then gives a ``transcript``)."""
        return self._ctc is not None

    def run(self, wavs, wav_lens=None):
        """Every output of the graph for a batch.

        Arguments
        ---------
        wavs : numpy.ndarray
            ``[batch, samples]`` (or ``[samples]``) at ``sample_rate``.
        wav_lens : numpy.ndarray, optional
            Relative lengths ``[batch]``, SpeechBrain's convention (None: all full length).

        Returns
        -------
        dict
            Output name -> array (``emotion_probs``, ``embedding``, ...).
        """
        wavs = np.asarray(wavs, dtype=np.float32)
        if wavs.ndim == 1:
            wavs = wavs[np.newaxis]
        wav_lens = np.ones(wavs.shape[0]) if wav_lens is None else np.asarray(wav_lens, dtype=np.float64)
        # As SpeechBrain counts an utterance's samples in a padded batch (custom_modules.encoder.true_sample_counts).
        lengths = np.round(wav_lens * wavs.shape[1]).astype(np.int64)
        outputs = self.session.run(None, dict(zip(INPUT_NAMES, (wavs, lengths))))
        return dict(zip(self.output_names, outputs))

    def encode_batch(self, wavs, wav_lens=None):
        """Utterance embeddings ``[batch, embedding_dim]``: the emotion classifier's input."""
        return self.run(wavs, wav_lens)["embedding"]

    def classify_batch(self, wavs, wav_lens=None, log_probs=False):
        """Emotion of each waveform, as ``EmotionRecognizer.classify_batch`` gives it, as numpy arrays.

        Returns
        -------
        out_prob : numpy.ndarray
            Class probabilities ``[batch, classes]`` (their logarithms with ``log_probs``).
        score : numpy.ndarray
            The best class's probability (or log-probability) ``[batch]``.
        index : numpy.ndarray
            The best class's index ``[batch]``.
        text_lab : list of str
            The best class's label.
        """
        out_prob = self.run(wavs, wav_lens)["emotion_probs"]
        if log_probs:
            out_prob = np.log(out_prob)
        index = out_prob.argmax(axis=-1)
        labels = self._labels["emotion"]
        return out_prob, out_prob.max(axis=-1), index, [labels[i] for i in index]

    def classify_file(self, path, log_probs=False):
        """Emotion of one audio file, ``classify_batch``'s outputs for a batch of one."""
        wav = self.load_checked_audio(path)
        return self.classify_batch(wav[np.newaxis], np.ones(1), log_probs=log_probs)

    def predict_batch(self, wavs, wav_lens=None):
        """Every prediction of the model for a batch: per utterance, ``emotion`` and ``emotion_probs`` (label ->
        probability), each auxiliary label the model has with its probabilities, each dimension it predicts
        (``arousal``, ``valence``, ``dominance``) and ``transcript`` when it has an ASR head."""
        outputs = self.run(wavs, wav_lens)
        results = labelled_predictions({name: outputs[f"{name}_probs"] for name in self._labels}, self._labels)
        for task in self.dimensions:
            for result, value in zip(results, outputs[task].tolist()):
                result[task] = value
        if self.has_transcript:
            transcripts = ctc_greedy_transcripts(outputs["ctc_log_probs"], outputs["ctc_frame_lengths"], **self._ctc)
            for result, transcript in zip(results, transcripts):
                result["transcript"] = transcript
        return results

    def _audio_info(self, path):
        info = soundfile.info(path)
        return SimpleNamespace(sample_rate=info.samplerate, frames=info.frames, duration=info.duration)

    def _load_audio(self, path):
        signal, rate = soundfile.read(path, dtype="float32", always_2d=True)
        return self._to_model_input(signal, rate)

    def _read_segment(self, path, file_rate, start_s, end_s):
        """Samples from ``start_s`` to ``end_s`` of a file, down-mixed and resampled (only that part is read)."""
        start = round(start_s * file_rate)
        try:
            signal, rate = soundfile.read(
                path, start=start, stop=round(end_s * file_rate), dtype="float32", always_2d=True
            )
        except (RuntimeError, soundfile.SoundFileError) as error:
            raise AudioInputError(f"{path}: cannot read audio at {start_s:g} s ({error}).") from error
        return self._to_model_input(signal, rate)

    def _to_model_input(self, signal, rate):
        """``[samples, channels]`` at ``rate`` -> mono at ``sample_rate`` (channels averaged, as SpeechBrain's
        ``AudioNormalizer`` does)."""
        mono = signal.mean(axis=1, dtype=np.float32)
        if rate != self.sample_rate:
            common = math.gcd(int(rate), int(self.sample_rate))
            mono = resample_poly(mono, self.sample_rate // common, int(rate) // common).astype(np.float32)
        return mono

    def _pad(self, signals):
        """Zero-padded ``[batch, longest]`` and relative lengths, as SpeechBrain's ``PaddedBatch`` gives them."""
        longest = max(len(signal) for signal in signals)
        wavs = np.zeros((len(signals), longest), dtype=np.float32)
        for row, signal in zip(wavs, signals):
            row[: len(signal)] = signal
        return wavs, np.array([len(signal) / longest for signal in signals])

    def _timeline_outputs(self, wavs, wav_lens):
        outputs = self.run(wavs, wav_lens)
        return {"emotion": outputs["emotion_probs"], **{task: outputs[task] for task in self.dimensions}}


def ctc_greedy_transcripts(log_probs, frame_lengths, units, blank_index, word_boundary=None):
    """Best-path CTC decoding: per utterance, the most likely unit of each of its frames, repeats merged, blanks
    removed, units joined (SpeechBrain's ``ctc_greedy_decode``, written with numpy: this module runs without torch).

    Arguments
    ---------
    log_probs : numpy.ndarray
        ``[batch, frames, units]``.
    frame_lengths : numpy.ndarray
        Each utterance's own frames ``[batch]``.
    units : list of str
        The text of each unit.
    blank_index : int
    word_boundary : str, optional
        The mark SentencePiece pieces carry for a space (``ctc_units: bpe``); None for characters.

    Returns
    -------
    list of str

    Example
    -------
    >>> frames = np.log(np.eye(4)[[1, 1, 0, 1, 2, 3, 3]])[np.newaxis]  # "a a <blank> a b c c"
    >>> ctc_greedy_transcripts(frames, np.array([7]), ["", "a", "b", "c"], blank_index=0)
    ['aabc']
    """
    transcripts = []
    for row, length in zip(log_probs, frame_lengths):
        best = row[: int(length)].argmax(axis=-1)
        merged = best[np.concatenate([[True], best[1:] != best[:-1]])] if len(best) else best
        text = "".join(units[unit] for unit in merged if unit != blank_index)
        transcripts.append((text.replace(word_boundary, " ") if word_boundary else text).strip())
    return transcripts
