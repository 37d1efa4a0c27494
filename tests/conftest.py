"""Shared fixtures: a tiny random wav2vec 2.0 folder and a generated IEMOCAP-format corpus, built once."""

import pytest

from custom_modules.backbones import build_backbone


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory):
    """A local Hugging Face folder holding a randomly initialised 2-layer wav2vec 2.0."""
    return build_backbone(str(tmp_path_factory.mktemp("backbone") / "tiny"), "tiny", seed=0)


@pytest.fixture
def tiny_lobe(tiny_backbone, tmp_path):
    """Returns a factory of fresh SpeechBrain Wav2Vec2 lobes loaded from the tiny folder (the real code path)."""
    from speechbrain.integrations.huggingface import Wav2Vec2

    def make():
        return Wav2Vec2(tiny_backbone, save_path=str(tmp_path / "hf_cache"))

    return make


@pytest.fixture(scope="session")
def generated_corpus(tmp_path_factory):
    """A generated corpus in IEMOCAP_full_release layout: ``(parent folder, release folder, ground truth)``."""
    from custom_modules.synthetic_iemocap import generate_corpus

    parent = tmp_path_factory.mktemp("corpus")
    release = parent / "IEMOCAP_full_release"
    truth = generate_corpus(str(release), seed=0)
    return str(parent), str(release), truth


@pytest.fixture
def corpus_copy(generated_corpus, tmp_path):
    """A private, writable copy of the generated release folder, for tests that damage it."""
    import shutil

    copy = tmp_path / "IEMOCAP_full_release"
    shutil.copytree(generated_corpus[1], copy)
    return str(copy)
