"""An exported model's whole inference graph as ONNX (``model.onnx``) and its int8 form (``model.int8.onnx``), for
``recipes/export.py --onnx [--quantize int8]``.

The graph goes from a 16 kHz mono waveform batch and its lengths to every head's output: the per-utterance
normalisation and the padding masks are inside it, so batch and time are dynamic and a file's result does not
depend on the batch it is in. It is traced from the exported folder's own PyTorch modules (those
``EmotionRecognizer`` runs) with ``torch.onnx.export`` (TorchScript exporter: no extra dependency, and the graph
it gives runs in ONNX Runtime with every axis dynamic once the masks below are traceable), then checked
against PyTorch on another batch before it is kept. Inputs and outputs (``graph_outputs``):

- ``waveforms`` float32 ``[batch, samples]`` (zero-padded), ``lengths`` int64 ``[batch]`` (samples of each);
- ``embedding`` ``[batch, dim]`` (the emotion classifier's input), ``<task>_probs`` ``[batch, classes]`` per
  utterance task (emotion, then gender and style as the model has them), and for a model with an ASR head
  ``ctc_log_probs`` ``[batch, frames, units]`` and ``ctc_frame_lengths`` int64 ``[batch]``.

The file's metadata (``METADATA_KEY``) holds the sample rate, the receptive field, the labels of each output in
class order and the CTC units, so the file alone is enough to use it (``custom_modules/onnx_interface.py``).

int8 (``quantize_int8``): ONNX Runtime's dynamic quantization of the weights of the matrix products (signed) and
of the convolutions but the first (unsigned), per output channel, activations quantized per batch as it runs;
the first convolution (on the waveform), normalisations, softmax and the rest stay float32 (``INT8_FORMS`` says
why; figures in the README, "ONNX and int8").

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import json
import os
import sys
from contextlib import contextmanager

import numpy as np
import onnx
import torch
from speechbrain.integrations.huggingface import wav2vec2 as speechbrain_wav2vec2

from custom_modules.constants import BLANK_INDEX
from custom_modules.encoder import length_mask, true_sample_counts
from custom_modules.errors import RecipeInputError
from custom_modules.interface import prediction_name
from custom_modules.onnx_interface import INPUT_NAMES, METADATA_KEY, ONNX_FILES, OnnxEmotionRecognizer

# ONNX Runtime 1.18+ runs opset 17 with every operator the graph uses (LayerNormalization among them).
OPSET = 17
# Largest difference of any output between the graph and the PyTorch model on the check batch: float32 kernels
# summing in another order stay orders of magnitude below it.
PARITY_TOLERANCE = 1e-4
# Output names of the utterance heads: the prediction's name (EmotionRecognizer.label_sets) + this suffix.
PROBS_SUFFIX = "_probs"


class OnnxExportError(RecipeInputError):
    """The ONNX graph could not be written or does not compute what the PyTorch model computes."""


class InferenceGraph(torch.nn.Module):
    """The exported model from waveforms and sample counts to every head's output (``graph_outputs``).

    Arguments
    ---------
    encoder, heads : torch.nn.Module
        ``EmotionRecognizer``'s modules (``mods.encoder``, ``mods.heads``).
    prediction_names : dict
        Label task (``emo``, ``gender``, ``style``, a corpus's own) -> prediction name (``emotion``, ...), in
        output order.
    dimensions : list of str
        The dimension tasks (``arousal``, ``valence``, ``dominance``), each an output of its own after the labels'.
    """

    def __init__(self, encoder, heads, prediction_names, dimensions=()):
        super().__init__()
        self.encoder, self.heads, self.prediction_names = encoder, heads, dict(prediction_names)
        self.dimensions = list(dimensions)

    def forward(self, waveforms, lengths):
        """``graph_outputs`` for ``waveforms [batch, samples]`` and ``lengths [batch]`` (samples)."""
        outputs = self.heads(*self.encoder(waveforms, lengths.to(waveforms.dtype) / waveforms.shape[1]))
        results = [outputs["embedding"], *(outputs[task].exp() for task in self.prediction_names)]
        results += [outputs[task] for task in self.dimensions]
        if "asr" in outputs:
            frames = torch.round(outputs["frame_lens"] * outputs["asr"].shape[1]).to(torch.int64)
            results += [outputs["asr"], frames]
        return tuple(results)


def graph_outputs(recognizer):
    """The output names of a model's graph, in order.

    Arguments
    ---------
    recognizer : EmotionRecognizer

    Returns
    -------
    list of str
    """
    names = ["embedding", *(f"{name}{PROBS_SUFFIX}" for name in recognizer.label_sets), *recognizer.dimensions]
    return names + (["ctc_log_probs", "ctc_frame_lengths"] if recognizer.has_transcript else [])


@contextmanager
def traceable_lobe_padding_masks():
    """Within this context SpeechBrain's Wav2Vec2 lobe builds its attention mask as a function of its input's
    shape, so that a traced graph keeps batch and time dynamic.

    The lobe's ``make_padding_masks`` calls ``length_to_mask``, which reads the batch size with ``len()`` and the
    longest length with ``.item()``: traced, both become constants of the example batch. The replacement counts
    the same samples (``true_sample_counts``, as ``make_padding_masks`` rounds them) and gives an integer mask, as
    a Hugging Face feature extractor does: the model takes a cumulative sum of it, which ONNX has no boolean
    kernel for.
    """

    def make_padding_masks(src, wav_len=None, pad_idx=0):
        if wav_len is None:
            return None
        return length_mask(true_sample_counts(wav_len, src.shape[1]), src.shape[1]).long()

    original = speechbrain_wav2vec2.make_padding_masks
    speechbrain_wav2vec2.make_padding_masks = make_padding_masks
    try:
        yield
    finally:
        speechbrain_wav2vec2.make_padding_masks = original


def model_description(recognizer):
    """What the ONNX file's metadata says about the model (``METADATA_KEY``): what
    ``OnnxEmotionRecognizer`` needs besides the graph.

    Arguments
    ---------
    recognizer : EmotionRecognizer

    Returns
    -------
    dict
        ``sample_rate``, ``min_samples``, ``labels`` (prediction name -> labels in class order), ``inputs`` and
        ``outputs`` (names), ``ctc`` (``units``: each unit's text, ``blank_index``, ``word_boundary``; None
        without an ASR head).
    """
    ctc = None
    if recognizer.has_transcript:
        tokenizer = recognizer.hparams.tokenizer
        if hasattr(tokenizer, "ind2lab"):  # SpeechBrain's CTCTextEncoder: characters
            units = [tokenizer.ind2lab[index] for index in range(len(tokenizer))]
            boundary = None
        else:  # SentencePiece pieces, whose "▁" marks a space
            units = [tokenizer.id_to_piece(index) for index in range(tokenizer.vocab_size())]
            boundary = "\u2581"
        ctc = {"units": units, "blank_index": BLANK_INDEX, "word_boundary": boundary}
    return {
        "sample_rate": recognizer.sample_rate,
        "min_samples": recognizer.min_samples,
        "labels": recognizer.label_sets,
        "dimensions": recognizer.dimensions,
        "inputs": list(INPUT_NAMES),
        "outputs": graph_outputs(recognizer),
        "ctc": ctc,
    }


def check_batch(min_samples, sample_rate, sizes, seed):
    """Waveforms of the given durations (s; at least the receptive field), zero-padded, and their sample counts.

    Example
    -------
    >>> wavs, lengths = check_batch(400, 16000, [0.5, 0.25], seed=0)
    >>> tuple(wavs.shape), lengths.tolist(), float(wavs[1, 4000:].abs().max())
    ((2, 8000), [8000, 4000], 0.0)
    """
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([max(min_samples, round(seconds * sample_rate)) for seconds in sizes])
    wavs = 0.1 * torch.randn(len(sizes), int(lengths.max()), generator=generator)
    wavs = wavs * length_mask(lengths, wavs.shape[1])
    return wavs, lengths


def export_onnx(recognizer, path):
    """Traces ``recognizer``'s graph to ``path`` with its metadata, and checks it against PyTorch.

    Arguments
    ---------
    recognizer : EmotionRecognizer
        The exported folder, loaded (``recipes.inference.backends.load_model``).
    path : str
        The ``.onnx`` file to write.

    Returns
    -------
    float
        The largest difference of any output on the check batch.
    """
    names = {task: prediction_name(task) for task in recognizer.label_tasks}
    graph = InferenceGraph(recognizer.mods.encoder, recognizer.mods.heads, names, recognizer.dimensions).eval()
    outputs = graph_outputs(recognizer)
    dynamic_axes = {"waveforms": {0: "batch", 1: "samples"}, "lengths": {0: "batch"}}
    dynamic_axes.update({name: {0: "batch"} for name in outputs})
    if "ctc_log_probs" in dynamic_axes:
        dynamic_axes["ctc_log_probs"] = {0: "batch", 1: "frames"}
    # One utterance padded, so that the traced graph holds the masks' path.
    example = check_batch(recognizer.min_samples, recognizer.sample_rate, [1.0, 0.7], seed=0)
    with traceable_lobe_padding_masks(), torch.no_grad():
        torch.onnx.export(
            graph,
            example,
            path,
            input_names=list(INPUT_NAMES),
            output_names=outputs,
            dynamic_axes=dynamic_axes,
            opset_version=OPSET,
            dynamo=False,
        )
    model = onnx.load(path)
    onnx.helper.set_model_props(model, {METADATA_KEY: json.dumps(model_description(recognizer))})
    model.doc_string = "Speech emotion recognition (two-stage adapters recipe): see the model card, README.md."
    onnx.save(model, path)
    onnx.checker.check_model(path)
    return largest_difference(graph, OnnxEmotionRecognizer(path), recognizer)


def largest_difference(graph, onnx_model, recognizer):
    """The largest difference between the graph's outputs in PyTorch and in ONNX Runtime on a batch of three
    utterances of other lengths than the traced example's (the CTC frame counts must be equal)."""
    wavs, lengths = check_batch(recognizer.min_samples, recognizer.sample_rate, [1.3, 0.4, 0.9], seed=1)
    with torch.no_grad():
        expected = [output.numpy() for output in graph(wavs, lengths)]
    got = onnx_model.session.run(None, {"waveforms": wavs.numpy(), "lengths": lengths.numpy()})
    largest = 0.0
    for name, a, b in zip(onnx_model.output_names, got, expected):
        if a.shape != b.shape or (a.dtype.kind == "i" and not np.array_equal(a, b)):
            raise OnnxExportError(f"the ONNX graph's {name} differs from PyTorch's ({a.shape} vs {b.shape}).")
        largest = max(largest, float(np.abs(a - b).max()))
    if largest > PARITY_TOLERANCE:
        raise OnnxExportError(
            f"the ONNX graph differs from PyTorch by {largest:.2e} (tolerance {PARITY_TOLERANCE:g}): please report "
            "this."
        )
    return largest


# The int8 forms (README, "ONNX and int8"): per pass of ONNX Runtime's quantize_dynamic, the operator type it
# quantizes and whether its weights are signed or unsigned 8-bit. On a CPU with VNNI (AVX-512 VNNI, AVX-VNNI)
# matrix products of unsigned activations and signed weights are its native instruction, and ONNX Runtime's
# ConvInteger runs fast with unsigned weights only (with signed ones the CNN was slower than in float32):
# "int8" takes each one's fast form. On AVX2 without VNNI signed weights are slower; "int8_unsigned" is for those.
# --quantize offers the first two; benchmark.py --int8_variants times the others too (quantizing only MatMul).
INT8_FORMS = {
    "int8": (("MatMul", "int8"), ("Conv", "uint8")),
    "int8_unsigned": (("MatMul", "uint8"), ("Conv", "uint8")),
    "matmul_int8": (("MatMul", "int8"),),
    "matmul_uint8": (("MatMul", "uint8"),),
}
QUANTIZE_CHOICES = ("int8", "int8_unsigned")


def quantize_int8(fp32_path, int8_path, form="int8"):
    """``fp32_path``'s graph with the weights of its matrix products and convolutions in 8 bits (ONNX Runtime's
    ``quantize_dynamic``: weights per output channel, activations quantized per batch as it runs), metadata kept.
    The convolution on the waveform, the normalisations, softmax and everything else stay float32.

    Arguments
    ---------
    fp32_path, int8_path : str
    form : str
        One of ``INT8_FORMS``.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    weight_types = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}
    nodes = onnx.load(fp32_path, load_external_data=False).graph.node
    # The first convolution reads the waveform: in 8 bits the audio itself would be quantized, which costs much
    # accuracy (on the tests' model the emotion agreed with fp32 on 84% of the files) for a small share of the
    # CNN's work. Nodes are in topological order.
    waveform_conv = [next(node.name for node in nodes if node.op_type == "Conv")]
    source = fp32_path
    for operator, weights in INT8_FORMS[form]:
        quantize_dynamic(
            source,
            int8_path,
            op_types_to_quantize=[operator],
            per_channel=True,
            weight_type=weight_types[weights],
            nodes_to_exclude=waveform_conv,
        )
        source = int8_path
    model = onnx.load(int8_path)
    properties = {prop.key: prop.value for prop in onnx.load(fp32_path).metadata_props}
    description = json.loads(properties[METADATA_KEY])
    description["int8"] = {"form": form, "passes": [list(step) for step in INT8_FORMS[form]]}
    onnx.helper.set_model_props(model, {**properties, METADATA_KEY: json.dumps(description)})
    onnx.save(model, int8_path)


def add_onnx_files(model_folder, quantize=None):
    """Writes ``model.onnx`` (and with ``quantize``, ``model.int8.onnx``) into an exported model folder.

    Arguments
    ---------
    model_folder : str
        Written by ``recipes/export.py`` (``custom_interface.py``, ``hyperparams.yaml``, the checkpoints).
    quantize : str, optional
        One of ``QUANTIZE_CHOICES`` (``INT8_FORMS``), or None.

    Returns
    -------
    dict
        ``files`` (names written), ``description`` (``model_description``) and ``largest_difference``.
    """
    from recipes.inference.backends import load_model

    saved_path = list(sys.path)
    try:
        recognizer = load_model(model_folder, "cpu")
    finally:
        sys.path[:] = saved_path  # foreign_class puts the folder on sys.path
    fp32_path = os.path.join(model_folder, ONNX_FILES["fp32"])
    difference = export_onnx(recognizer, fp32_path)
    files = [ONNX_FILES["fp32"]]
    if quantize:
        quantize_int8(fp32_path, os.path.join(model_folder, ONNX_FILES["int8"]), quantize)
        files.append(ONNX_FILES["int8"])
    return {
        "files": files,
        "description": model_description(recognizer),
        "largest_difference": difference,
        "int8_form": quantize,
    }


def searchable_bytes(path):
    """An ONNX file's bytes without its tensors' data (names, graph, metadata), where a path of the machine that
    wrote it would be; random weights can spell a short path by chance (``export.check_no_machine_paths``)."""
    model = onnx.load(path, load_external_data=False)
    for tensor in model.graph.initializer:
        tensor.ClearField("raw_data")
    return model.SerializeToString()
