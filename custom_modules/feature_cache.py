"""Exact caching of a frozen CNN feature encoder's output, per utterance.

The paper keeps wav2vec 2.0's CNN feature encoder frozen in both stages, so it computes the same features for an
utterance in every epoch: a share of every training step that ``recipes/benchmark.py`` measures (README, "Speed
and memory"). ``CNNFeatureCache`` computes them once per utterance and hands them back afterwards.

Exact: an utterance's features are computed from its own samples, without padding, the first time it is seen;
later batches get those values at the same positions. The frames after an utterance's end, which depend on
the padding, are zero; the Hugging Face model zeroes them anyway once it has the attention mask (SpeechBrain's
lobes always pass it), and pooling and CTC never read them. For a CNN with layer normalisation (XLS-R, HuBERT
and WavLM large, the tiny test backbone) the result equals the uncached encoder's; wav2vec2-base's
group-normalised first layer normalises over the whole padded length, so there the cached (unpadded) features
are what the utterance gives alone, which batched computation only approximates.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

from contextlib import contextmanager

import torch


def cnn_output_frames(config, n_samples):
    """Frames the CNN feature encoder computes from ``n_samples`` samples (its kernel and stride arithmetic).

    Arguments
    ---------
    config : transformers.PretrainedConfig
        With ``conv_kernel`` and ``conv_stride``.
    n_samples : int or torch.Tensor

    Returns
    -------
    int or torch.Tensor
        At least 1 (as the HF model's attention mask counts).

    Example
    -------
    >>> from transformers import Wav2Vec2Config
    >>> cnn_output_frames(Wav2Vec2Config(), 16000)  # 400-sample receptive field, 320-sample hop
    49
    """
    frames = n_samples
    for kernel, stride in zip(config.conv_kernel, config.conv_stride):
        frames = (frames - kernel) // stride + 1
    return frames.clamp(min=1) if torch.is_tensor(frames) else max(frames, 1)


class CNNFeatureCache:
    """Remembers a frozen feature encoder's output per utterance, so that later epochs skip the CNN.

    It wraps the ``forward`` of the Hugging Face model's ``feature_extractor`` on that instance only: parameter
    names, checkpoints and exports are unchanged. The cache is used only inside ``utterances(ids, lengths)``;
    any other call (inference, callers without utterance ids) runs the CNN as before. Features are kept in
    CPU memory, about 100 kB per second of audio for a 512-channel CNN (XLS-R: about 2.5 GB for all of
    IEMOCAP's 4-class utterances).

    Arguments
    ---------
    hf_model : transformers.PreTrainedModel
        A wav2vec2-style model (``feature_extractor``, ``config.conv_kernel``, ``config.conv_stride``) whose
        feature encoder is frozen.

    Example
    -------
    >>> from transformers import Wav2Vec2Config, Wav2Vec2Model
    >>> config = Wav2Vec2Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8,
    ...     conv_dim=(8, 8), conv_kernel=(10, 3), conv_stride=(5, 2), feat_extract_norm="layer")
    >>> model = Wav2Vec2Model(config).eval()
    >>> model.feature_extractor._freeze_parameters()
    >>> cache = CNNFeatureCache(model)
    >>> wavs = torch.randn(2, 800)
    >>> with cache.utterances(["a", "b"], [800, 500]):
    ...     first = model.feature_extractor(wavs)
    >>> sorted(cache.features), tuple(cache.features["b"].shape)
    (['a', 'b'], (8, 49))
    >>> with cache.utterances(["b"], [500]):  # from the cache: the CNN does not run
    ...     again = model.feature_extractor(wavs[1:, :500])
    >>> torch.equal(again[0], first[1, :, :49])
    True
    """

    def __init__(self, hf_model):
        feature_extractor = hf_model.feature_extractor
        if any(parameter.requires_grad for parameter in feature_extractor.parameters()):
            raise ValueError("The CNN feature encoder trains: its output changes every step and cannot be cached.")
        self.config = hf_model.config
        self.features = {}
        self._batch = None
        self._compute = feature_extractor.forward
        # An instance attribute shadows the class's forward; nn.Module.__call__ then runs the cached version.
        feature_extractor.forward = self._forward

    @contextmanager
    def utterances(self, ids, n_samples):
        """Within this context, row ``i`` of the feature encoder's input is utterance ``ids[i]`` with
        ``n_samples[i]`` true samples (the rest of the row is padding)."""
        self._batch = (list(ids), [int(n) for n in n_samples])
        try:
            yield self
        finally:
            self._batch = None

    def _forward(self, input_values):
        if self._batch is None:
            return self._compute(input_values)
        ids, n_samples = self._batch
        if len(ids) != input_values.shape[0]:
            raise ValueError(f"{len(ids)} utterance ids for a batch of {input_values.shape[0]} waveforms.")
        rows = [self._features(input_values, row, utt_id, n) for row, (utt_id, n) in enumerate(zip(ids, n_samples))]
        batch = rows[0].new_zeros(len(rows), rows[0].shape[0], cnn_output_frames(self.config, input_values.shape[1]))
        for row, features in enumerate(rows):
            batch[row, :, : features.shape[1]] = features
        return batch.to(input_values.device)

    def _features(self, input_values, row, utt_id, n_samples):
        features = self.features.get(utt_id)
        if features is None or features.shape[1] != cnn_output_frames(self.config, n_samples):
            with torch.no_grad():
                features = self._compute(input_values[row : row + 1, :n_samples])[0].cpu()
            self.features[utt_id] = features
        return features
