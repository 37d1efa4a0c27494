"""Every wav is read once: preparation and the check before training share what was read of each file
(``custom_modules.audio_checks.AudioChecks``), a later start reads nothing, and a file changed since is read
again and its new problem found. Reads are counted on soundfile itself (a spy that calls through)."""

import os
from collections import Counter

import numpy as np
import pytest
import soundfile

from custom_modules.data import dataio_prepare, leave_out_unusable
from iemocap_prepare import prepare_iemocap
from tests.conftest import TEST_SESSION


@pytest.fixture
def wav_reads(monkeypatch):
    """The paths soundfile.read is called with, in order."""
    reads = []
    real_read = soundfile.read

    def counting_read(path, *args, **kwargs):
        reads.append(os.path.realpath(path))
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(soundfile, "read", counting_read)
    return reads


def start(corpus, run_folder, cache_file, test_session=TEST_SESSION):
    """What a train script does at its start before the Brain: preparation, datasets, the check before training.

    Returns the datasets' manifest entries (all splits) and what was left out."""
    hparams = {
        "output_folder": str(run_folder),
        "manifest_folder": str(run_folder / "manifests"),
        "save_folder": str(run_folder / "save"),
        "min_duration": 0.1,
        "max_skipped_share": 0.05,
        "skip_bad_wavs": False,
        "audio_check_cache": str(cache_file),
    }
    os.makedirs(hparams["output_folder"], exist_ok=True)
    prepare_iemocap(corpus, hparams["manifest_folder"], test_session, audio_check_cache=str(cache_file))
    datasets, _, _ = dataio_prepare(hparams)
    entries = {utt: entry for dataset in datasets.values() for utt, entry in dataset.data.items()}
    _, left_out = leave_out_unusable(datasets, hparams)
    return entries, left_out


def test_a_wav_is_read_once_and_again_only_when_it_changed(corpus_copy, tmp_path, wav_reads):
    cache = tmp_path / "cache" / "audio_checks.json"
    entries, _ = start(corpus_copy, tmp_path / "run", cache)
    wavs = {os.path.realpath(entry["wav"]) for entry in entries.values()}
    assert Counter(wav_reads) == dict.fromkeys(wavs, 1), "the first start reads every wav once (preparation)"
    assert os.path.isfile(cache)

    wav_reads.clear()
    start(corpus_copy, tmp_path / "run", cache)  # a restart of the same run
    start(corpus_copy, tmp_path / "other_fold", cache, test_session=3)  # a new run on the same machine
    assert wav_reads == []

    # A training wav goes silent (same size), another is only touched: both are read again, nothing else.
    train_utts = sorted(u for u, e in entries.items() if e["session"] != int(TEST_SESSION))
    silenced, touched = (os.path.realpath(entries[u]["wav"]) for u in train_utts[:2])
    info = soundfile.info(silenced)
    soundfile.write(silenced, np.zeros(info.frames), info.samplerate, subtype=info.subtype)
    os.utime(touched)
    _, left_out = start(corpus_copy, tmp_path / "run", cache)
    assert sorted(wav_reads) == sorted([silenced, touched])
    split = "train" if train_utts[0] in left_out["train"] else "valid"
    assert left_out[split] == {train_utts[0]: "left out before training: silent wav: every sample is (close to) zero"}


def test_a_training_start_after_preparation_reads_no_wav(stage1_run):
    with open(os.path.join(stage1_run, "log.txt"), encoding="utf-8") as handle:
        checks = [line for line in handle if "Audio checks:" in line]
    # Preparation, then the check before training, which finds every wav remembered.
    assert len(checks) == 2 and checks[-1].rstrip().endswith(", 0 read."), checks
