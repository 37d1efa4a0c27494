"""SSLEncoder: what trains in each mode, adapter insertion, and loading a stage-1 encoder bit for bit."""

import copy
import re

import numpy as np
import pytest
import torch

from custom_modules.encoder import SSLEncoder

ADAPTER_SETTINGS = {"lora_rank": 4, "lora_alpha": 8, "bottleneck_dim": 8}


def perturbed(encoder):
    """Moves every parameter away from its initial value, as training would."""
    with torch.no_grad():
        for parameter in encoder.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.01)
    return encoder


def test_adapter_mode_trains_exactly_lora_and_bottleneck_parameters(tiny_lobe):
    encoder = SSLEncoder(tiny_lobe(), finetune="adapters", **ADAPTER_SETTINGS)
    layers = encoder.adapted_model.model.config.num_hidden_layers
    expected = set()
    for layer in range(layers):
        prefix = f"adapted_model.model.encoder.layers.{layer}"
        for proj in "qkv":
            for part in ("adapter_down_proj", "adapter_up_proj"):
                expected.add(f"{prefix}.attention.{proj}_proj.{part}.weight")
        for part in ("adapter_down_proj", "adapter_up_proj"):
            for kind in ("weight", "bias"):
                expected.add(f"{prefix}.feed_forward.output_dense.{part}.{kind}")
    assert set(encoder.trainable_parameter_names()) == expected


def test_full_mode_trains_everything_but_the_feature_encoder(tiny_lobe):
    encoder = SSLEncoder(tiny_lobe(), finetune="full")
    frozen = {name for name, p in encoder.named_parameters() if not p.requires_grad}
    assert frozen, "the CNN feature encoder must be frozen"
    assert all(re.search(r"\.feature_extractor\.|masked_spec_embed", name) for name in frozen)
    assert any("feature_projection" in name for name in encoder.trainable_parameter_names())


def test_frozen_feature_encoder_output_needs_no_backward(tiny_lobe):
    # HF's feature encoder marks its output as requiring grad in training mode unless _freeze_parameters()
    # was called; backward would then run through the whole CNN for nothing.
    encoder = SSLEncoder(tiny_lobe(), finetune="full").train()
    cnn_output = encoder.adapted_model.model.feature_extractor(torch.randn(2, 4000))
    assert not cnn_output.requires_grad


def test_frozen_mode_has_no_trainable_parameter(tiny_lobe):
    assert SSLEncoder(tiny_lobe(), finetune="frozen").trainable_parameter_names() == []


def test_freshly_inserted_adapters_leave_encoder_output_unchanged(tiny_lobe):
    encoder = SSLEncoder(tiny_lobe(), finetune="adapters", manual_adapter_insertion=True, **ADAPTER_SETTINGS).eval()
    wavs, lens = torch.randn(2, 8000), torch.tensor([1.0, 0.6])
    before, _ = encoder(wavs, lens)
    encoder.insert_adapters()
    assert encoder.trainable_parameter_names()
    assert torch.equal(encoder(wavs, lens)[0], before)


def test_stage1_encoder_loads_bit_identical_under_the_adapters(tiny_lobe, tmp_path):
    stage1 = perturbed(SSLEncoder(tiny_lobe(), finetune="full"))
    path = tmp_path / "encoder.ckpt"
    stage1.saver(path)
    stage2 = SSLEncoder(
        tiny_lobe(), finetune="adapters", manual_adapter_insertion=True, save_frozen=False, **ADAPTER_SETTINGS
    )
    stage2.parameter_transfer(path)
    stage2.insert_adapters()

    stage2_state = stage2.state_dict()
    for name, value in stage1.state_dict().items():
        # LoRA and the bottleneck adapters wrap the original layer under pretrained_module / pretrained_linear.
        candidates = [name] + [
            re.sub(r"(\.[qkv]_proj)\.", r"\1.pretrained_module.", name),
            re.sub(r"(\.output_dense)\.", r"\1.pretrained_linear.", name),
        ]
        match = next(c for c in candidates if c in stage2_state)
        assert torch.equal(stage2_state[match], value), name


def test_stage1_encoder_of_another_shape_is_rejected_with_the_fix(tiny_lobe, tmp_path):
    stage1 = SSLEncoder(tiny_lobe(), finetune="full")
    state = stage1.state_dict()
    name = next(k for k in state if k.endswith("q_proj.weight"))
    state[name] = torch.zeros(state[name].shape[0] + 1, state[name].shape[1])
    torch.save(state, tmp_path / "encoder.ckpt")
    stage2 = SSLEncoder(tiny_lobe(), finetune="adapters", manual_adapter_insertion=True, **ADAPTER_SETTINGS)
    with pytest.raises(RuntimeError, match="same wav2vec2_hub architecture"):
        stage2.parameter_transfer(tmp_path / "encoder.ckpt")


def test_stage1_adapters_are_loaded_and_keep_training(tiny_lobe, tmp_path):
    # Table 2 setting 1: stage 1 already trained adapters; stage 2 continues them instead of nesting new ones.
    stage1 = perturbed(SSLEncoder(tiny_lobe(), finetune="adapters", **ADAPTER_SETTINGS))
    stage1.saver(tmp_path / "encoder.ckpt")
    stage2 = SSLEncoder(tiny_lobe(), finetune="adapters", manual_adapter_insertion=True, **ADAPTER_SETTINGS)
    stage2.parameter_transfer(tmp_path / "encoder.ckpt")
    stage2.insert_adapters()
    assert stage2.state_dict().keys() == stage1.state_dict().keys()
    assert all(torch.equal(stage2.state_dict()[k], v) for k, v in stage1.state_dict().items())
    assert set(stage2.trainable_parameter_names()) == set(stage1.trainable_parameter_names())


def test_checkpoint_without_frozen_part_holds_only_trainable_parameters(tiny_lobe, tmp_path):
    encoder = SSLEncoder(tiny_lobe(), finetune="adapters", save_frozen=False, **ADAPTER_SETTINGS)
    encoder.saver(tmp_path / "encoder.ckpt")
    saved = torch.load(tmp_path / "encoder.ckpt", weights_only=True)
    assert set(saved) == set(encoder.trainable_parameter_names())
    fresh = SSLEncoder(tiny_lobe(), finetune="adapters", save_frozen=False, **ADAPTER_SETTINGS)
    fresh.loader(tmp_path / "encoder.ckpt", end_of_epoch=True)
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in saved.items())


def test_checkpoint_missing_trainable_parameters_is_refused(tiny_lobe, tmp_path):
    encoder = SSLEncoder(tiny_lobe(), finetune="adapters", save_frozen=False, **ADAPTER_SETTINGS)
    torch.save({}, tmp_path / "encoder.ckpt")
    with pytest.raises(RuntimeError, match="does not fit this encoder"):
        encoder.loader(tmp_path / "encoder.ckpt", end_of_epoch=True)


@pytest.mark.parametrize("setting", ["lora_targets", "bottleneck_targets"])
def test_adapter_targets_that_match_no_layer_raise(tiny_lobe, setting):
    with pytest.raises(ValueError, match="matches no layer"):
        SSLEncoder(tiny_lobe(), finetune="adapters", **{setting: ["model.no.such.layer"]}, **ADAPTER_SETTINGS)


def test_unknown_finetune_mode_raises(tiny_lobe):
    with pytest.raises(ValueError, match="finetune must be one of"):
        SSLEncoder(tiny_lobe(), finetune="partial")


def _masked_mean_loss(encoder, wavs, lens, ids):
    feats, frame_lens = encoder(wavs, lens, utterance_ids=ids)
    mask = (torch.arange(feats.shape[1]) < torch.round(frame_lens * feats.shape[1]).unsqueeze(1)).unsqueeze(2)
    return feats, (feats * mask).sum() / mask.sum()


def test_cnn_feature_cache_gives_the_uncached_encoder_and_gradients_and_skips_the_cnn_once_seen(tiny_lobe):
    plain = SSLEncoder(tiny_lobe(), finetune="full").eval()
    cached = SSLEncoder(tiny_lobe(), finetune="full", cache_cnn_features=True).eval()
    cnn_calls = []
    cached.adapted_model.model.feature_extractor.conv_layers[0].register_forward_hook(lambda *_: cnn_calls.append(1))
    generator = torch.Generator().manual_seed(0)
    waveforms = {name: torch.randn(n, generator=generator) for name, n in (("a", 8000), ("b", 5000), ("c", 3200))}

    def padded(names):
        longest = max(waveforms[name].numel() for name in names)
        wavs = torch.stack(
            [torch.nn.functional.pad(waveforms[name], (0, longest - waveforms[name].numel())) for name in names]
        )
        return wavs, torch.tensor([waveforms[name].numel() / longest for name in names])

    for names in (["a", "b", "c"], ["c", "b"], ["b", "a"]):  # first sight, then from the cache in other batches
        calls_before = len(cnn_calls)
        wavs, lens = padded(names)
        plain.zero_grad()
        cached.zero_grad()
        expected, expected_loss = _masked_mean_loss(plain, wavs, lens, names)
        got, loss = _masked_mean_loss(cached, wavs, lens, names)
        expected_loss.backward()
        loss.backward()
        frames = torch.round(plain(wavs, lens)[1] * expected.shape[1])
        for row, n in enumerate(frames.long().tolist()):
            assert torch.allclose(got[row, :n], expected[row, :n], atol=1e-5), names[row]
        for (name, p), q in zip(plain.named_parameters(), cached.parameters()):
            if p.grad is not None:
                assert torch.allclose(q.grad, p.grad, atol=1e-5), name
        assert len(cnn_calls) - calls_before == (3 if names == ["a", "b", "c"] else 0)
    assert sorted(cached.cnn_feature_cache.features) == ["a", "b", "c"]
    # Without utterance ids (inference) the CNN runs as usual.
    calls_before = len(cnn_calls)
    assert torch.allclose(cached(*padded(["a"]))[0], plain(*padded(["a"]))[0], atol=1e-5)
    assert len(cnn_calls) == calls_before + 1


def test_spec_augment_masks_in_training_after_the_cnn_feature_cache_and_never_in_inference(tiny_lobe):
    masked = SSLEncoder(tiny_lobe(), finetune="full").train()
    cached = SSLEncoder(tiny_lobe(), finetune="full", cache_cnn_features=True).train()
    unmasked = SSLEncoder(tiny_lobe(), finetune="full", spec_augment=False).train()
    assert masked.adapted_model.model.config.mask_time_prob > 0, "the tiny backbone masks as the hub checkpoints do"
    assert masked.settings()["spec_augment"] is True and unmasked.settings()["spec_augment"] is False
    assert masked.adapted_model.model.masked_spec_embed.requires_grad
    assert not unmasked.adapted_model.model.masked_spec_embed.requires_grad, "unused without time masks"
    wavs, lens = torch.randn(2, 24000, generator=torch.Generator().manual_seed(0)), torch.tensor([1.0, 0.6])

    def encode(encoder, ids=None):
        np.random.seed(0)  # Hugging Face draws the masks with NumPy; dropout draws from torch
        torch.manual_seed(0)
        return encoder(wavs, lens, utterance_ids=ids)[0]

    expected = encode(masked)
    encode(cached, ["a", "b"])  # first sight fills the cache
    assert sorted(cached.cnn_feature_cache.features) == ["a", "b"]
    assert torch.allclose(encode(cached, ["a", "b"]), expected, atol=1e-5), "cached CNN, same masks, same output"
    assert not torch.allclose(encode(unmasked), expected, atol=1e-3), "masking changes the frames"
    for encoder in (masked, unmasked):
        encoder.eval()
    assert torch.equal(encode(masked), encode(unmasked)), "no masking at inference"


def test_cnn_feature_cache_refuses_a_training_feature_encoder(tiny_lobe):
    with pytest.raises(ValueError, match="cache_cnn_features needs freeze_feature_encoder"):
        SSLEncoder(tiny_lobe(), finetune="full", freeze_feature_encoder=False, cache_cnn_features=True)


# ---- Every backbone family README names ------------------------------------------------------------------------
# WavLM's attention reads q_proj.weight / .bias directly instead of calling q_proj: an adapter that only changes
# forward() is bypassed (or crashes) there, so each family is checked on a tiny random model of its own.
FAMILIES = ("wav2vec2", "hubert", "wavlm", "data2vec-audio")
LORA_LAYER = re.compile(r"\.attention\.[qkv]_proj$")


@pytest.fixture(scope="module", params=FAMILIES)
def family_lobe(request, tmp_path_factory):
    """A factory of fresh lobes loaded from a tiny random backbone of each family in turn."""
    from speechbrain.integrations.huggingface import Wav2Vec2

    from synthetic.backbones import build_backbone

    folder = tmp_path_factory.mktemp(f"backbone_{request.param}")
    build_backbone(str(folder / "tiny"), "tiny", family=request.param)

    def make():
        lobe = Wav2Vec2(str(folder / "tiny"), save_path=str(folder / "hf_cache"))
        assert lobe.model.config.model_type == request.param
        return lobe

    return make


def _waveforms():
    generator = torch.Generator().manual_seed(1)
    return torch.randn(2, 8000, generator=generator), torch.tensor([1.0, 0.6])


@pytest.mark.parametrize("finetune", ["full", "adapters", "frozen"])
def test_every_finetune_mode_trains_on_every_backbone_family(family_lobe, finetune):
    encoder = SSLEncoder(family_lobe(), finetune=finetune, cache_cnn_features=True, **ADAPTER_SETTINGS).train()
    wavs, lens = _waveforms()
    feats, _ = encoder(wavs, lens, utterance_ids=["a", "b"])
    trainable = {name: p for name, p in encoder.named_parameters() if p.requires_grad}
    if finetune == "frozen":
        assert not trainable and not feats.requires_grad
        return
    feats.pow(2).mean().backward()
    assert all(p.grad is not None for p in trainable.values()), [n for n, p in trainable.items() if p.grad is None]
    if finetune == "adapters":
        adapted = {name.split(".adapter_")[0].split(".")[-1] for name in trainable}
        assert adapted == {"q_proj", "k_proj", "v_proj", "output_dense"}


def test_lora_changes_the_attention_of_every_backbone_family(family_lobe):
    encoder = SSLEncoder(family_lobe(), finetune="adapters", manual_adapter_insertion=True, **ADAPTER_SETTINGS).eval()
    reference = copy.deepcopy(encoder)  # the same backbone, LoRA merged by hand below
    encoder.insert_adapters()
    wavs, lens = _waveforms()
    with torch.no_grad():
        unadapted, _ = encoder(wavs, lens)
    loras = {n: m for n, m in encoder.adapted_model.named_modules() if LORA_LAYER.search(n)}
    assert len(loras) == 3 * encoder.adapted_model.model.config.num_hidden_layers
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, lora in loras.items():
            lora.adapter_up_proj.weight.copy_(torch.randn(lora.adapter_up_proj.weight.shape, generator=generator) * 0.1)
            merged = lora.scaling * lora.adapter_up_proj.weight @ lora.adapter_down_proj.weight
            reference.adapted_model.get_submodule(name).weight.add_(merged)
    adapted, _ = encoder(wavs, lens)
    assert not torch.allclose(adapted, unadapted, atol=1e-4), "LoRA is bypassed: the output did not change"
    assert torch.allclose(adapted, reference(wavs, lens)[0], atol=1e-5), "LoRA's update is not W + scaling B A"
    adapted.pow(2).mean().backward()
    for name, lora in loras.items():
        for factor in (lora.adapter_down_proj, lora.adapter_up_proj):
            assert factor.weight.grad is not None and factor.weight.grad.abs().sum() > 0, name


def test_stage1_encoder_of_every_backbone_family_loads_bit_identical_under_the_adapters(family_lobe, tmp_path):
    stage1 = perturbed(SSLEncoder(family_lobe(), finetune="full"))
    stage1.saver(tmp_path / "encoder.ckpt")
    stage2 = SSLEncoder(
        family_lobe(), finetune="adapters", manual_adapter_insertion=True, save_frozen=False, **ADAPTER_SETTINGS
    )
    stage2.parameter_transfer(tmp_path / "encoder.ckpt")
    stage2.insert_adapters()
    stage2_state = stage2.state_dict()
    for name, value in stage1.state_dict().items():
        candidates = [
            name,
            re.sub(r"(\.[qkv]_proj)\.", r"\1.pretrained_module.", name),
            re.sub(r"(\.output_dense)\.", r"\1.pretrained_linear.", name),
        ]
        match = next(c for c in candidates if c in stage2_state)
        assert torch.equal(stage2_state[match], value), name
    stage1.eval(), stage2.eval()
    wavs, lens = _waveforms()
    assert torch.equal(stage2(wavs, lens)[0], stage1(wavs, lens)[0]), (
        "fresh adapters must leave the stage-1 encoder as it was"
    )


def test_folded_lora_encoder_computes_the_adapted_encoder_and_reloads_as_lora_folded(family_lobe, tmp_path):
    """Folding LoRA into q/k/v (what export does) keeps every family's output and leaves no LoRA module; an
    encoder built with ``lora_folded: True`` (the exported yaml) takes the folded weights strictly."""
    adapted = perturbed(SSLEncoder(family_lobe(), finetune="adapters", **ADAPTER_SETTINGS)).eval()
    wavs, lens = _waveforms()
    with torch.no_grad():
        expected, _ = adapted(wavs, lens)
        assert adapted.fold_lora() == 3 * adapted.adapted_model.model.config.num_hidden_layers
        folded, _ = adapted(wavs, lens)
    assert adapted.lora_folded and adapted.settings()["lora_folded"]
    assert (folded - expected).abs().max() < 1e-5
    state = adapted.state_dict()
    assert not any("pretrained_module" in key or "attention" in key and "adapter_" in key for key in state)
    assert any(re.search(r"attention\.q_proj\.weight$", key) for key in state)
    torch.save(state, tmp_path / "encoder.ckpt")

    rebuilt = SSLEncoder(family_lobe(), finetune="adapters", lora_folded=True, **ADAPTER_SETTINGS).eval()
    assert not any(type(m).__name__ == "MergedWeightLoRA" for m in rebuilt.modules())
    rebuilt.parameter_transfer(tmp_path / "encoder.ckpt")
    with torch.no_grad():
        assert torch.equal(rebuilt(wavs, lens)[0], folded)


@pytest.mark.parametrize("finetune", ["full", "adapters"])
def test_gradient_checkpointing_gives_the_gradients_of_the_unchecked_encoder(tiny_lobe, finetune):
    # Stage 1 (everything but the CNN trains) and stage 2 (adapters behind a frozen encoder), in training mode with
    # the backbone's dropout on: the recomputation must draw the same dropout as the forward.
    settings = ADAPTER_SETTINGS if finetune == "adapters" else {}
    unchecked = perturbed(SSLEncoder(tiny_lobe(), finetune=finetune, **settings))
    checked = SSLEncoder(tiny_lobe(), finetune=finetune, gradient_checkpointing=True, **settings)
    checked.load_state_dict(unchecked.state_dict())
    wavs, lens = torch.randn(2, 12000), torch.tensor([1.0, 0.7])
    gradients, layer_runs = {}, {}
    for name, encoder in (("unchecked", unchecked), ("checked", checked)):
        hf_layers = encoder.adapted_model.model.encoder.layers
        runs = []
        hook = hf_layers[0].feed_forward.intermediate_dense.register_forward_hook(lambda *_, runs=runs: runs.append(1))
        encoder.train()
        torch.manual_seed(0)
        np.random.seed(0)  # SpecAugment's masks (Hugging Face draws them with NumPy): the same in both
        feats, frame_lens = encoder(wavs, lens)
        (feats.pow(2).mean() + feats[:, 0].sum()).backward()
        hook.remove()
        gradients[name] = {n: p.grad for n, p in encoder.named_parameters() if p.requires_grad}
        layer_runs[name] = len(runs)
    assert layer_runs == {"unchecked": 1, "checked": 2}, "a checked layer runs again in the backward pass"
    assert gradients["checked"].keys() == gradients["unchecked"].keys()
    for name, gradient in gradients["unchecked"].items():
        assert gradient is not None and gradient.abs().sum() > 0, name
        torch.testing.assert_close(gradients["checked"][name], gradient, rtol=1e-6, atol=1e-9, msg=name)


def test_waveform_normalisation_is_the_hugging_face_feature_extractors_also_for_quiet_audio():
    from transformers import Wav2Vec2FeatureExtractor

    from custom_modules.encoder import normalize_waveforms

    extractor = Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True)
    rng = np.random.default_rng(0)
    quiet, loud = (scale * rng.standard_normal(n).astype(np.float32) for scale, n in ((3e-4, 8000), (0.3, 12000)))
    expected = extractor([quiet, loud], sampling_rate=16000, padding=True, return_tensors="pt").input_values
    padded = torch.zeros(2, 12000)
    padded[0, :8000], padded[1] = torch.from_numpy(quiet), torch.from_numpy(loud)
    got = normalize_waveforms(padded, torch.tensor([8000 / 12000, 1.0]))
    assert torch.allclose(got, expected, atol=1e-4), "the same input as a Hugging Face pipeline feeds the model"
