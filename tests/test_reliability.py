"""Reliability: killed runs resume exactly, same seed gives same metrics, DDP on CPU, bad data, safe loading."""

import json
import os
import pickle
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile
import torch
import yaml

from tests.conftest import REPO, run_recipe, stage1_command, stage2_command
from tests.test_stage1 import load_json, logged_epochs, read_epoch_metrics

EPOCHS = "3"
# Intra-epoch checkpoints every few steps, so a kill lands between checkpoints inside an epoch.
INTRA_EPOCH = ["--ckpt_interval_minutes", "0", "--ckpt_interval_steps", "5"]
COMPARED = ("WA", "UA", "per_class_recall", "confusion_matrix", "loss", "WER", "epoch")


@pytest.fixture(scope="module")
def uninterrupted(generated_corpus, tiny_backbone, tmp_path_factory):
    """A short stage-1 run that nothing disturbs: the reference for resumed and repeated runs."""
    output = str(tmp_path_factory.mktemp("uninterrupted") / "stage1")
    run_recipe(*stage1_command(generated_corpus[0], tiny_backbone, output, *INTRA_EPOCH, epochs=EPOCHS))
    return output


def kill_when(command, ready, timeout=600):
    """Starts ``python command`` and SIGKILLs it (and its children) as soon as ``ready()`` is true."""
    process = subprocess.Popen(
        [sys.executable, *command],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + timeout
    try:
        while not ready():
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.time() < deadline, "the run never reached the point where it should be killed"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def intra_epoch_checkpoint_after(output, epoch):
    """The newest complete intra-epoch checkpoint saved after the end of ``epoch`` (inside the next one), or None.

    An intra-epoch checkpoint of ``epoch`` itself can outlive the end-of-epoch one for a moment (it is deleted
    after the end-of-epoch checkpoint is saved): only a later one is what a resumed run loads first."""
    save = os.path.join(output, "save")
    metas = {}
    for name in os.listdir(save) if os.path.isdir(save) else []:
        meta = os.path.join(save, name, "CKPT.yaml")
        if name.startswith("CKPT") and os.path.isfile(meta) and os.path.isfile(os.path.join(save, name, "COMPLETE")):
            with open(meta, encoding="utf-8") as handle:
                metas[name] = yaml.safe_load(handle)
    ended = [m["unixtime"] for m in metas.values() if m.get("end-of-epoch") and m.get("epoch") == epoch]
    later = [
        (m["unixtime"], name)
        for name, m in metas.items()
        if m.get("brain_intra_epoch_ckpt") and ended and m["unixtime"] > max(ended)
    ]
    return max(later)[1] if later else None


def free_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def test_same_seed_gives_the_same_metrics(generated_corpus, tiny_backbone, uninterrupted, tmp_path):
    again = str(tmp_path / "stage1")
    run_recipe(*stage1_command(generated_corpus[0], tiny_backbone, again, *INTRA_EPOCH, epochs=EPOCHS))
    first, second = load_json(uninterrupted, "test_metrics.json"), load_json(again, "test_metrics.json")
    assert {k: first[k] for k in COMPARED} == {k: second[k] for k in COMPARED}
    assert load_json(uninterrupted, "test_predictions.json") == load_json(again, "test_predictions.json")


def test_run_without_the_cnn_feature_cache_ends_like_the_cached_default(
    generated_corpus, tiny_backbone, uninterrupted, tmp_path
):
    uncached = str(tmp_path / "stage1")
    options = [*INTRA_EPOCH, "--cache_cnn_features", "False"]
    run_recipe(*stage1_command(generated_corpus[0], tiny_backbone, uncached, *options, epochs=EPOCHS))
    reference, metrics = load_json(uninterrupted, "test_metrics.json"), load_json(uncached, "test_metrics.json")
    exact = ("WA", "UA", "confusion_matrix", "epoch")
    assert {k: metrics[k] for k in exact} == {k: reference[k] for k in exact}
    assert metrics["loss"] == pytest.approx(reference["loss"], rel=1e-4)
    log, reference_log = read_epoch_metrics(uncached), read_epoch_metrics(uninterrupted)
    assert [row[0] for row in log] == [row[0] for row in reference_log]
    for row, reference_row in zip(log, reference_log):
        # train loss, valid loss, valid UA of the same epoch
        assert row[1:] == pytest.approx(reference_row[1:], rel=1e-3), f"epoch {row[0]}"


def test_run_killed_mid_epoch_resumes_and_ends_like_an_uninterrupted_one(
    generated_corpus, tiny_backbone, uninterrupted, tmp_path
):
    output = str(tmp_path / "stage1")
    command = stage1_command(generated_corpus[0], tiny_backbone, output, *INTRA_EPOCH, epochs=EPOCHS)
    # Killed in epoch 2, after one of its intra-epoch checkpoints (epoch 1's are removed when it ends).
    kill_when(command, lambda: intra_epoch_checkpoint_after(output, 1))
    assert not os.path.exists(os.path.join(output, "test_metrics.json"))
    resumed = run_recipe(*command)
    log = resumed.stdout + resumed.stderr
    assert "Going into epoch 2" in log and "Going into epoch 1" not in log, "the run must resume inside epoch 2"
    assert logged_epochs(output) == [1, 2, 3], "no epoch lost or recorded twice"
    reference, metrics = load_json(uninterrupted, "test_metrics.json"), load_json(output, "test_metrics.json")
    assert {k: metrics[k] for k in COMPARED} == {k: reference[k] for k in COMPARED}


def test_checkpoint_interrupted_while_saving_is_not_resumed_from(
    generated_corpus, tiny_backbone, uninterrupted, tmp_path
):
    output = str(tmp_path / "stage1")
    shutil.copytree(uninterrupted, output)
    save = os.path.join(output, "save")
    latest = sorted(n for n in os.listdir(save) if n.startswith("CKPT"))[-1]
    broken = os.path.join(save, "CKPT+2099-01-01+00-00-00+00")
    shutil.copytree(os.path.join(save, latest), broken)
    os.remove(os.path.join(broken, "COMPLETE"))
    os.remove(os.path.join(broken, "encoder.ckpt"))  # as if killed before this file was written
    done = run_recipe(*stage1_command(generated_corpus[0], tiny_backbone, output, *INTRA_EPOCH, epochs=EPOCHS))
    assert "the run was stopped while saving it" in done.stdout + done.stderr
    assert not os.path.exists(broken)
    assert load_json(output, "test_metrics.json")["UA"] == load_json(uninterrupted, "test_metrics.json")["UA"]


def test_damaged_complete_checkpoint_is_named_set_aside_and_the_previous_one_resumed_from(
    generated_corpus, tiny_backbone, uninterrupted, tmp_path
):
    output = str(tmp_path / "stage1")
    command = stage1_command(generated_corpus[0], tiny_backbone, output, *INTRA_EPOCH, epochs=EPOCHS)
    kill_when(command, lambda: intra_epoch_checkpoint_after(output, 1))
    # The newest checkpoint (inside epoch 2) is complete, then its encoder file is damaged on disk.
    save = os.path.join(output, "save")
    newest = intra_epoch_checkpoint_after(output, 1)
    damaged = os.path.join(save, newest, "encoder.ckpt")
    with open(damaged, "r+b") as handle:
        handle.truncate(100)
    resumed = run_recipe(*command)
    log = resumed.stdout + resumed.stderr
    assert f"Cannot load {damaged}" in log and "the file is damaged" in log
    assert os.path.isfile(os.path.join(save, "damaged-" + newest, "encoder.ckpt")), "kept aside for inspection"
    assert "Going into epoch 2" in log and "Going into epoch 1" not in log, "resumed from the end of epoch 1"
    assert logged_epochs(output) == [1, 2, 3]
    reference, metrics = load_json(uninterrupted, "test_metrics.json"), load_json(output, "test_metrics.json")
    assert {k: metrics[k] for k in COMPARED} == {k: reference[k] for k in COMPARED}


def torchrun():
    """``python -m torch.distributed.run`` with two processes, on a port of its own."""
    return ["-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", free_port()]


DDP_ON_CPU = ["--distributed_backend", "gloo", "--device", "cpu"]


def test_both_stages_run_under_torchrun_on_cpu(generated_corpus, tiny_backbone, tmp_path):
    stage1, stage2 = str(tmp_path / "stage1"), str(tmp_path / "stage2")
    # About 20 s each here: a deadlock fails within minutes, not at the default 15.
    first = run_recipe(
        *torchrun(), *stage1_command(generated_corpus[0], tiny_backbone, stage1, *DDP_ON_CPU, epochs="2"), timeout=300
    )
    second = run_recipe(
        *torchrun(),
        *stage2_command(generated_corpus[0], tiny_backbone, stage1, stage2, *DDP_ON_CPU, epochs="2"),
        timeout=300,
    )
    n_test = len(load_json(os.path.join(stage1, "manifests"), "test.json"))
    for output, done in ((stage1, first), (stage2, second)):
        log = done.stdout + done.stderr
        assert log.count("IEMOCAP manifests written") + log.count("Skipping IEMOCAP preparation") == 1, "prepared once"
        assert logged_epochs(output) == [1, 2], "only the main process logs"
        metrics = load_json(output, "test_metrics.json")
        assert metrics["count"] == n_test, "test metrics cover the whole test set, not one process's shard"
        assert len(load_json(output, "test_predictions.json")) == n_test


def test_layerdrop_under_torchrun_does_not_hang(generated_corpus, tiny_backbone, tmp_path):
    """Each process skips its own random layers; DDP waiting for their gradients would hang at the first step."""
    backbone = _backbone_with_layerdrop(tiny_backbone, tmp_path, 0.5)
    output = str(tmp_path / "stage1")
    done = run_recipe(
        *torchrun(), *stage1_command(generated_corpus[0], backbone, output, *DDP_ON_CPU, epochs="1"), timeout=300
    )
    assert "LayerDrop 0.50 skips layers at random: DDP runs with find_unused_parameters" in done.stdout + done.stderr
    assert logged_epochs(output) == [1]
    assert load_json(output, "test_metrics.json")["count"] == len(
        load_json(os.path.join(output, "manifests"), "test.json")
    )


# The end of a DDP run as the train scripts end it: collectives on tensors Python holds, then the exit
LAST_COLLECTIVES_THEN_EXIT = """
import torch
from custom_modules.brain import leave_process_group
torch.distributed.init_process_group("gloo")
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(3, 2))
for _ in range(20):
    torch.distributed.broadcast(torch.ones(1000), 0)
    torch.distributed.barrier()
leave_process_group()
"""


def test_ddp_processes_exit_cleanly_after_their_last_collective(tmp_path):
    """Without the wait in leave_process_group, a gloo thread still dropping the last broadcast's tensors at exit
    aborted the process (SIGABRT) in 6 of 20 launches of this script, and this test failed 2 times in 3; five
    launches must all end with 0."""
    script = tmp_path / "last_collectives.py"
    script.write_text(LAST_COLLECTIVES_THEN_EXIT)
    for _ in range(5):
        done = subprocess.run(
            [sys.executable, *torchrun(), str(script)], cwd=REPO, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-3000:]


def _backbone_with_layerdrop(tiny_backbone, folder, layerdrop):
    backbone = folder / f"tiny_layerdrop_{layerdrop}"
    shutil.copytree(tiny_backbone, backbone)
    config = json.loads((backbone / "config.json").read_text())
    (backbone / "config.json").write_text(json.dumps({**config, "layerdrop": layerdrop}))
    return str(backbone)


@pytest.fixture
def torchrun_process(tmp_path, monkeypatch):
    """This process as the only member of a torchrun group (gloo): what DDP gets, without starting processes."""
    for name, value in (("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1")):
        monkeypatch.setenv(name, value)
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path}/store", rank=0, world_size=1)
    yield
    torch.distributed.destroy_process_group()


def _brain_from_the_command_line(backbone, folder, command_line=(), yaml_values=None):
    """The stage-1 Brain as train_stage1.py builds it from ``command_line``, with ``yaml_values`` as if written
    in the yaml file."""
    import speechbrain as sb
    import yaml
    from hyperpyyaml import load_hyperpyyaml

    from train_stage1 import Stage1Brain

    argv = [
        str(REPO / "hparams" / "stage1.yaml"),
        "--data_folder",
        str(folder),
        "--output_folder",
        str(folder),
        "--wav2vec2_hub",
        backbone,
        "--device",
        "cpu",
        "--distributed_backend",
        "gloo",
        *command_line,
    ]
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    with open(hparams_file, encoding="utf-8") as handle:
        hparams = load_hyperpyyaml(handle, {**yaml.safe_load(overrides), **(yaml_values or {})})
    return Stage1Brain(modules=hparams["modules"], opt_class=hparams["opt_class"], hparams=hparams, run_opts=run_opts)


def test_yaml_run_options_stay_in_force_under_torchrun_with_layerdrop(tiny_backbone, tmp_path, torchrun_process):
    # LayerDrop makes the recipe add find_unused_parameters; the yaml's other run options must survive that.
    backbone = _backbone_with_layerdrop(tiny_backbone, tmp_path, 0.1)
    yaml_values = {
        "max_grad_norm": 2.5,
        "skip_nonfinite_grads": True,
        "ckpt_interval_minutes": 15,
        "grad_accumulation_factor": 2,
    }
    brain = _brain_from_the_command_line(backbone, tmp_path, ["--nonfinite_patience", "9"], yaml_values)
    assert {key: getattr(brain, key) for key in yaml_values} == yaml_values
    assert brain.nonfinite_patience == 9, "a run option given on the command line still wins"
    assert brain.find_unused_parameters


@pytest.mark.parametrize("layerdrop", [0.0, 0.1])
def test_under_torchrun_only_an_encoder_that_skips_layers_looks_for_unused_parameters(
    tiny_backbone, generated_corpus, tmp_path, torchrun_process, layerdrop
):
    from iemocap_prepare import prepare_iemocap

    # Searching a module whose every parameter gets a gradient costs a graph traversal per step and makes PyTorch
    # warn that it found nothing: only LayerDrop's encoder can leave parameters without gradients.
    prepare_iemocap(generated_corpus[0], str(tmp_path / "manifests"), 1)  # the fold a run starts on
    brain = _brain_from_the_command_line(_backbone_with_layerdrop(tiny_backbone, tmp_path, layerdrop), tmp_path)
    brain.on_fit_start()  # wraps the modules in DDP
    wrapped = dict(brain.modules.items())
    assert all(isinstance(module, torch.nn.parallel.DistributedDataParallel) for module in wrapped.values())
    assert {name: module.find_unused_parameters for name, module in wrapped.items()} == {
        "encoder": layerdrop > 0,
        "heads": False,
    }


def _save_checkpoints_with_a_slow_marker(rank, folder, store, marker_delay):
    """One of two DDP processes saving three checkpoints, keeping the best; rank 0 writes its markers late."""
    import datetime
    import pathlib

    from custom_modules.checkpointing import InterruptSafeCheckpointer

    os.environ["RANK"] = str(rank)  # how SpeechBrain tells the main process
    # A deadlock surfaces as an error after this timeout instead of hanging the test.
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{store}", rank=rank, world_size=2, timeout=datetime.timedelta(seconds=20)
    )
    if rank == 0:  # a slow file system: the other process lists the checkpoints before the marker is there
        touch = pathlib.Path.touch
        pathlib.Path.touch = lambda path, *args, **kwargs: (time.sleep(marker_delay), touch(path, *args, **kwargs))[1]
    checkpointer = InterruptSafeCheckpointer(folder, recoverables={"layer": torch.nn.Linear(2, 2)})
    for epoch in range(3):
        checkpointer.save_and_keep_only(meta={"UA": float(epoch)}, max_keys=["UA"], num_to_keep=1)
    torch.distributed.destroy_process_group()


def test_ddp_processes_agree_on_the_checkpoints_to_delete(tmp_path):
    folder = tmp_path / "save"
    torch.multiprocessing.start_processes(
        _save_checkpoints_with_a_slow_marker,
        args=(str(folder), str(tmp_path / "store"), 1.0),
        nprocs=2,
        start_method="spawn",
    )
    kept = [name for name in os.listdir(folder) if name.startswith("CKPT")]
    assert len(kept) == 1 and (folder / kept[0] / "COMPLETE").is_file()
    assert "UA: 2.0" in (folder / kept[0] / "CKPT.yaml").read_text()


def _damage(path, kind):
    if kind == "corrupt":
        open(path, "wb").write(b"RIFF\x00\x00garbage")
    elif kind == "empty":
        soundfile.write(path, np.zeros(0), 16000, subtype="PCM_16")
    elif kind == "silent":
        soundfile.write(path, np.zeros(16000), 16000, subtype="PCM_16")
    elif kind == "short":
        soundfile.write(path, np.full(500, 0.1), 16000, subtype="PCM_16")
    elif kind == "nan":
        samples = np.full(16000, 0.1, dtype=np.float32)
        samples[100] = np.nan
        soundfile.write(path, samples, 16000, subtype="FLOAT")


@pytest.fixture
def prepared_copy(corpus_copy, tiny_backbone, tmp_path):
    """A stage-1 output folder whose manifests point at a private copy of the corpus (then damaged)."""
    output = str(tmp_path / "stage1")
    run_recipe(*stage1_command(corpus_copy, tiny_backbone, output, epochs="0"))
    return output, corpus_copy


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("corrupt", "unreadable"),
        ("empty", "empty"),
        ("silent", "silent"),
        ("short", "too short"),
        ("nan", "non-finite"),
    ],
)
def test_bad_training_file_is_left_out_named_and_counted(generated_corpus, tiny_backbone, prepared_copy, kind, reason):
    output, corpus = prepared_copy
    train = load_json(os.path.join(output, "manifests"), "train.json")
    victim = sorted(train)[0]
    _damage(train[victim]["wav"], kind)
    done = run_recipe(*stage1_command(corpus, tiny_backbone, output, epochs="1"))
    assert f"Leaving out train utterance {victim}: {reason}" in done.stdout + done.stderr
    skipped = load_json(output, "skipped_utterances.json")
    assert list(skipped["train"]) == [victim] and reason in skipped["train"][victim]
    assert load_json(output, "test_metrics.json")["left_out_utterances"] == {
        "train": 1,
        "valid": 0,
        "test": 0,
        "train_or_valid": 0,
    }


def _training_wav(corpus, truth, session=1):
    """The wav of one utterance of the 4 classes in ``session`` of a generated corpus, and its id."""
    utt = next(
        u
        for u, t in sorted(truth.items())
        if t["session"] == session and t["label"] in ("neu", "hap", "exc", "ang", "sad")
    )
    return os.path.join(corpus, f"Session{session}", "sentences", "wav", utt.rsplit("_", 1)[0], f"{utt}.wav"), utt


def test_unreadable_wav_ends_the_run_with_the_message_the_command_that_skips_it_and_no_traceback(
    generated_corpus, corpus_copy, tiny_backbone, tmp_path
):
    wav, utt = _training_wav(corpus_copy, generated_corpus[2])
    _damage(wav, "corrupt")
    output = str(tmp_path / "stage1")
    command = stage1_command(corpus_copy, tiny_backbone, output, epochs="0")
    done = subprocess.run([sys.executable, *command], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode != 0
    assert "Traceback" not in done.stdout + done.stderr, "an expected input error is a message, not a crash"
    assert "train_stage1.py: error: 1 of" in done.stderr and f"{utt}: unreadable wav" in done.stderr
    # The message gives the exact command of this script that leaves the file out, and that command works.
    suggested = re.search(r"run `(python [^`]+)`", done.stderr).group(1)
    assert suggested == "python " + shlex.join([*command, "--skip_bad_wavs", "True"])
    run_recipe(*shlex.split(suggested)[1:])
    assert utt in load_json(os.path.join(output, "manifests"), "prepare_options.json")["summary"]["skipped"]


def test_test_metrics_show_every_utterance_left_out_at_preparation_and_why(
    generated_corpus, corpus_copy, tiny_backbone, tmp_path
):
    from hyperpyyaml import load_hyperpyyaml

    from custom_modules.data import dataio_prepare, leave_out_unusable
    from iemocap_prepare import prepare_iemocap
    from train_stage1 import Stage1Brain

    test_wav, test_utt = _training_wav(corpus_copy, generated_corpus[2], session=2)
    train_wav, train_utt = _training_wav(corpus_copy, generated_corpus[2], session=1)
    _damage(test_wav, "silent")
    _damage(train_wav, "corrupt")
    overrides = {
        "data_folder": corpus_copy,
        "output_folder": str(tmp_path),
        "wav2vec2_hub": tiny_backbone,
        "test_fold": 2,
        "skip_bad_wavs": True,
        "num_workers": 0,
        "number_of_epochs": 0,
    }
    with open(REPO / "hparams" / "stage1.yaml", encoding="utf-8") as handle:
        hparams = load_hyperpyyaml(handle, overrides)
    # train_stage1.py's steps, without training
    prepare_iemocap(corpus_copy, hparams["manifest_folder"], 2, seed=hparams["seed"], skip_bad_wavs=True)
    datasets, label_encoders, tokenizer = dataio_prepare(hparams)
    datasets, left_out = leave_out_unusable(datasets, hparams)
    brain = Stage1Brain(
        modules=hparams["modules"], opt_class=hparams["opt_class"], hparams=hparams, run_opts={"device": "cpu"}
    )
    brain.label_encoders, brain.tokenizer, brain.left_out_utterances = label_encoders, tokenizer, left_out
    brain.fit(brain.hparams.epoch_counter, datasets["train"], datasets["valid"])
    brain.evaluate(datasets["test"], test_loader_kwargs=hparams["test_dataloader_opts"])

    metrics = load_json(str(tmp_path), "test_metrics.json")
    assert metrics["count"] == len(datasets["test"]) and test_utt not in {
        p["id"] for p in load_json(str(tmp_path), "test_predictions.json")
    }
    assert metrics["left_out_utterances"] == {"train": 0, "valid": 0, "test": 1, "train_or_valid": 1}
    reasons = metrics["left_out_reasons"]
    assert (
        list(reasons["test"]) == [test_utt]
        and "at preparation" in reasons["test"][test_utt]
        and "silent wav" in reasons["test"][test_utt]
    )
    assert list(reasons["train_or_valid"]) == [train_utt] and "unreadable wav" in reasons["train_or_valid"][train_utt]


def test_transcript_outside_the_vocabulary_is_left_out_by_name(tiny_backbone, prepared_copy):
    output, corpus = prepared_copy
    path = os.path.join(output, "manifests", "train.json")
    train = load_json(os.path.join(output, "manifests"), "train.json")
    victim = sorted(train)[1]
    train[victim]["transcript"] = "caf\u00e9 42"
    json.dump(train, open(path, "w"))
    done = run_recipe(*stage1_command(corpus, tiny_backbone, output, epochs="1"))
    assert (
        f"Leaving out train utterance {victim}: transcript has characters outside the CTC vocabulary"
        in done.stdout + done.stderr
    )


def test_bad_test_file_or_too_many_bad_files_stop_with_a_clear_error(tiny_backbone, prepared_copy):
    output, corpus = prepared_copy
    test = load_json(os.path.join(output, "manifests"), "test.json")
    victim = sorted(test)[0]
    _damage(test[victim]["wav"], "silent")
    command = stage1_command(corpus, tiny_backbone, output, epochs="1")
    done = subprocess.run([sys.executable, *command], cwd=REPO, capture_output=True, text=True)
    assert done.returncode != 0 and f"{victim}: silent wav" in done.stderr + done.stdout
    assert "The test set must be complete" in done.stderr and "Traceback" not in done.stderr + done.stdout
    train = load_json(os.path.join(output, "manifests"), "train.json")
    soundfile.write(test[victim]["wav"], np.full(16000, 0.1), 16000)  # test set whole again
    for utt in sorted(train)[:20]:
        _damage(train[utt]["wav"], "empty")
    done = subprocess.run([sys.executable, *command], cwd=REPO, capture_output=True, text=True)
    assert done.returncode != 0 and "points at a broken corpus copy" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_nonfinite_loss_batches_are_skipped_by_name_then_stop_the_run(tiny_backbone, tmp_path, caplog):
    import speechbrain as sb
    from hyperpyyaml import load_hyperpyyaml
    from speechbrain.dataio.batch import PaddedBatch

    from custom_modules.data import build_label_encoders, build_tokenizer
    from train_stage1 import Stage1Brain

    overrides = {
        "data_folder": str(tmp_path),
        "output_folder": str(tmp_path),
        "wav2vec2_hub": tiny_backbone,
        "nonfinite_patience": 1,
    }
    with open(REPO / "hparams" / "stage1.yaml") as handle:
        hparams = load_hyperpyyaml(handle, overrides)
    brain = Stage1Brain(
        modules=hparams["modules"], opt_class=hparams["opt_class"], hparams=hparams, run_opts={"device": "cpu"}
    )
    brain.tokenizer, brain.label_encoders = build_tokenizer(str(tmp_path)), build_label_encoders(str(tmp_path))
    brain.init_optimizers()
    brain.on_stage_start(sb.Stage.TRAIN)
    brain.nonfinite_count = 0  # as Brain.fit sets it at the start of every epoch
    waveform = torch.full((8000,), 0.1)
    waveform[10] = float("nan")
    batch = PaddedBatch(
        [
            {
                "id": "Ses01F_bad_F000",
                "sig": waveform,
                "emo_encoded": torch.LongTensor([0]),
                "gender_encoded": torch.LongTensor([0]),
                "style_encoded": torch.LongTensor([0]),
                "tokens": torch.LongTensor([3, 4]),
            },
        ]
    )
    before = {n: p.detach().clone() for n, p in hparams["heads"].named_parameters()}
    with caplog.at_level("WARNING"):
        brain.fit_batch(batch)
    assert "Non-finite loss" in caplog.text and "Ses01F_bad_F000" in caplog.text
    assert all(torch.equal(p, before[n]) for n, p in hparams["heads"].named_parameters()), "the model must not change"
    with pytest.raises(ValueError, match="nonfinite_patience=1.*Ses01F_bad_F000"):
        brain.fit_batch(batch)


class _RunsCode:
    """Unpickling this object would create a file: a stand-in for malicious code in a checkpoint."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_checkpoints_are_loaded_without_running_pickled_code(tiny_lobe, tmp_path):
    from custom_modules.encoder import SSLEncoder

    marker = tmp_path / "code_ran"
    path = tmp_path / "encoder.ckpt"
    encoder = SSLEncoder(tiny_lobe(), finetune="full")
    state = encoder.state_dict()
    state["payload"] = _RunsCode(str(marker))
    torch.save(state, path)
    for load in (lambda: encoder.loader(path, True), lambda: encoder.parameter_transfer(path)):
        with pytest.raises(pickle.UnpicklingError):
            load()
    assert not marker.exists()
