"""The steps both train scripts share: setting up an experiment, fitting and testing, and handing over from
stage 1 to stage 2.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import dataclasses
import json
import os

from hyperpyyaml import load_hyperpyyaml

import speechbrain as sb
from speechbrain.utils.distributed import run_on_main
from speechbrain.utils.logger import get_logger
from speechbrain.utils.run_opts import RunOptions

from custom_modules.brain import MultiTaskSERBrain
from custom_modules.checkpointing import InterruptSafeCheckpointer
from custom_modules.data import (
    dataio_prepare,
    leave_out_unusable,
    left_out_utterances,
    prepare_manifests,
    train_loader_kwargs,
)
from custom_modules.errors import RecipeInputError

logger = get_logger(__name__)

# Written by every run: the backbone it was given and built (record_backbone), read by stage 2.
BACKBONE_FILE = "backbone.json"


class Stage1Error(RecipeInputError, FileNotFoundError):
    """The stage-1 folder given to stage 2 cannot be used; the message says how to fix it."""


def setup_experiment(argv):
    """Parses the command line, starts DDP if asked, loads the yaml and creates the experiment folder.

    Arguments
    ---------
    argv : list of str
        ``sys.argv[1:]``.

    Returns
    -------
    hparams : dict
    run_opts : dict
    """
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    sb.utils.distributed.ddp_init_group(run_opts)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    return hparams, run_opts


def prepare_fold_data(hparams):
    """Writes the fold's manifests (once, on the main process), builds its datasets and encoders, and leaves
    out utterances that cannot be used. ``hparams["skipped_utterances"]`` records every utterance the fold lost,
    at preparation or here, by split and with the reason (``custom_modules.data.left_out_utterances``).

    Arguments
    ---------
    hparams : dict

    Returns
    -------
    See ``custom_modules.data.dataio_prepare``.
    """
    prepare_manifests(hparams)
    datasets, label_encoders, tokenizer = dataio_prepare(hparams)
    datasets, skipped_in_training = leave_out_unusable(datasets, hparams)
    hparams["skipped_utterances"] = left_out_utterances(hparams["manifest_folder"], skipped_in_training)
    return datasets, label_encoders, tokenizer


def fit_and_evaluate(hparams, run_opts, datasets, label_encoders, tokenizer):
    """Trains with validation-UA model selection, then tests the selected checkpoint.

    Arguments
    ---------
    hparams : dict
    run_opts : dict
    datasets : dict
    label_encoders : dict
    tokenizer : CTCTextEncoder

    Returns
    -------
    MultiTaskSERBrain
    """
    run_on_main(record_backbone, args=[hparams])
    brain = build_brain(hparams, run_opts, label_encoders, tokenizer)
    train_kwargs = train_loader_kwargs(datasets["train"], hparams)
    # SpeechBrain calls set_epoch() only on samplers it builds itself. Without it DynamicBatchSampler re-permutes
    # its previous order after every epoch, so the batches of epoch N depend on the history of the process and
    # a resumed run would see other batches than an uninterrupted one; with it they depend on (seed, N) only.
    brain.train_sampler = train_kwargs.get("batch_sampler")
    brain.fit(
        brain.hparams.epoch_counter,
        datasets["train"],
        datasets["valid"],
        train_loader_kwargs=train_kwargs,
        valid_loader_kwargs=hparams["test_dataloader_opts"],
    )
    brain.evaluate(datasets["test"], max_key="UA", test_loader_kwargs=hparams["test_dataloader_opts"])
    return brain


def build_brain(hparams, run_opts, label_encoders, tokenizer):
    """The stage's ``MultiTaskSERBrain`` from its hparams, as training (and ``recipes/benchmark.py``) use it.

    Arguments
    ---------
    hparams : dict
    run_opts : dict
        SpeechBrain run options (``with_layerdrop_under_ddp`` is applied).
    label_encoders : dict
    tokenizer : CTCTextEncoder

    Returns
    -------
    MultiTaskSERBrain
    """
    brain = MultiTaskSERBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=with_layerdrop_under_ddp(hparams["encoder"], run_opts),
        checkpointer=hparams["checkpointer"],
    )
    brain.label_encoders = label_encoders
    brain.tokenizer = tokenizer
    return brain


def with_layerdrop_under_ddp(encoder, run_opts):
    """The run options, with DDP told to look for unused parameters when the encoder uses LayerDrop.

    LayerDrop skips Transformer layers at random, and each DDP process draws its own: a layer one process skips
    has no gradient there (nor have its adapters in stage 2), and DDP, by default, waits for every gradient
    before it averages them, so the processes wait for each other forever at the first step. With
    ``find_unused_parameters`` DDP counts the skipped parameters as done, the recipe's regularisation stays the
    one a single-process run gets, at the cost of a search through the autograd graph every step. (DDP still
    cannot cope with a step in which one process skips every layer holding trainable parameters, as stage 2's
    adapters are: with 12 or 24 layers at 0.1 that happens with probability 1e-12 or less.)

    Only ``find_unused_parameters`` is added to the options given on the command line. SpeechBrain takes every
    key of a plain dict as given on the command line, so returning one (``{**run_opts, ...}``) would replace the
    yaml's run options (``skip_nonfinite_grads``, ``ckpt_interval_minutes``, ``max_grad_norm``, ...) with
    SpeechBrain's defaults.

    Arguments
    ---------
    encoder : custom_modules.encoder.SSLEncoder
    run_opts : speechbrain.utils.run_opts.RunOptions or dict
        As ``sb.parse_arguments`` returns them (a dict counts as given on the command line, key by key).

    Returns
    -------
    The same type as ``run_opts``.

    Example
    -------
    >>> class Encoder:
    ...     layerdrop = 0.1
    >>> with_layerdrop_under_ddp(Encoder(), {"device": "cpu"})  # one process (no RANK): nothing to change
    {'device': 'cpu'}
    """
    if os.environ.get("RANK") is None or encoder.layerdrop == 0 or run_opts.get("find_unused_parameters"):
        return run_opts
    logger.info(
        "LayerDrop %.2f skips layers at random: DDP runs with find_unused_parameters for the encoder, since each "
        "process skips its own layers (PyTorch's warning that it found no unused parameters comes from a step "
        "that skipped none).",
        encoder.layerdrop,
    )
    if isinstance(run_opts, RunOptions):
        return dataclasses.replace(
            run_opts,
            find_unused_parameters=True,
            overridden_args=set(run_opts.overridden_args) | {"find_unused_parameters"},
        )
    return {**run_opts, "find_unused_parameters": True}


def record_backbone(hparams):
    """Writes ``<output_folder>/backbone.json``: the ``wav2vec2_hub`` a run was given and the identity of the
    backbone built from it (``SSLEncoder.backbone_identity``), so a later stage can check that it builds the same.

    Arguments
    ---------
    hparams : dict
        Needs ``output_folder``, ``wav2vec2_hub`` and ``encoder``.
    """
    record = {"wav2vec2_hub": hparams["wav2vec2_hub"], **hparams["encoder"].backbone_identity()}
    with open(os.path.join(hparams["output_folder"], BACKBONE_FILE), "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2)


def load_stage1_encoder(hparams):
    """Loads the stage-1 encoder chosen by validation UA into ``hparams["encoder"]``, bit for bit.

    Checks first that ``stage1_folder`` holds a finished stage-1 run (unless ``allow_unfinished_stage1``) of the
    same fold (the same test utterances) and backbone, so a fold-1 encoder can never be adapted and tested on
    another fold's data it was trained on, nor its weights loaded into another model of the same shapes.

    Arguments
    ---------
    hparams : dict
        Needs ``stage1_folder``, ``manifest_folder``, ``encoder`` and ``pretrainer`` (whose loadable is the
        encoder); ``allow_unfinished_stage1`` (default False).

    Returns
    -------
    dict
        The meta of the loaded checkpoint (UA, WA, epoch).
    """
    stage1_folder = hparams["stage1_folder"]
    checkpoint = find_stage1_checkpoint(stage1_folder)
    check_same_fold(stage1_folder, hparams["manifest_folder"])
    if not os.path.isfile(os.path.join(stage1_folder, "test_metrics.json")):
        if not hparams.get("allow_unfinished_stage1", False):
            raise Stage1Error(
                f"Stage 1 in {stage1_folder} has not finished (no test_metrics.json). Let it finish (running its "
                "command again resumes it), or pass --allow_unfinished_stage1 True to start from its best "
                "checkpoint so far."
            )
        logger.warning("Stage 1 in %s has not finished; using its best checkpoint so far.", stage1_folder)
    check_same_backbone(stage1_folder, hparams["encoder"], hparams.get("wav2vec2_hub"))
    logger.info(
        "Stage 2 starts from the stage-1 encoder of epoch %s (valid UA %.2f): %s",
        checkpoint.meta.get("epoch"),
        checkpoint.meta["UA"],
        checkpoint.path,
    )
    pretrainer = hparams["pretrainer"]
    pretrainer.add_paths({"encoder": str(checkpoint.paramfiles["encoder"])})
    run_on_main(pretrainer.collect_files)
    pretrainer.load_collected()
    return checkpoint.meta


def find_stage1_checkpoint(stage1_folder):
    """The checkpoint of ``stage1_folder`` with the best validation UA.

    Arguments
    ---------
    stage1_folder : str
        The ``output_folder`` of a ``train_stage1.py`` run.

    Returns
    -------
    speechbrain.utils.checkpoints.Checkpoint
    """
    fix = f"Run train_stage1.py with --output_folder {stage1_folder} first, or pass the folder of a finished stage-1 run."
    if not stage1_folder or not os.path.isdir(stage1_folder):
        raise Stage1Error(f"--stage1_folder {stage1_folder!r} does not exist. {fix}")
    save_folder = os.path.join(stage1_folder, "save")
    checkpoint = None
    if os.path.isdir(save_folder):
        checkpoint = InterruptSafeCheckpointer(save_folder).find_checkpoint(max_key="UA")
    if checkpoint is None:
        raise Stage1Error(f"{stage1_folder} holds no stage-1 checkpoint with a validation UA ({save_folder}/CKPT+*). {fix}")
    if "encoder" not in checkpoint.paramfiles or not checkpoint.paramfiles["encoder"].is_file():
        raise Stage1Error(f"Checkpoint {checkpoint.path} has no encoder.ckpt: it is not a stage-1 checkpoint. {fix}")
    return checkpoint


def check_same_backbone(stage1_folder, encoder, wav2vec2_hub=None):
    """Raises if the stage-1 run was trained on another backbone (family or architecture) than ``encoder``.

    Arguments
    ---------
    stage1_folder : str
    encoder : custom_modules.encoder.SSLEncoder
        This run's encoder, built from its ``wav2vec2_hub``.
    wav2vec2_hub : str, optional
        This run's ``wav2vec2_hub``, for the message.
    """
    path = os.path.join(stage1_folder, BACKBONE_FILE)
    if not os.path.isfile(path):
        logger.warning("%s has no %s (written by an older version of the recipe): the backbone is not checked.", stage1_folder, BACKBONE_FILE)
        return
    with open(path, encoding="utf-8") as handle:
        stage1 = json.load(handle)
    own = encoder.backbone_identity()
    differences = [f"{key}: {stage1.get(key)} in stage 1, {own[key]} here" for key in own if stage1.get(key) != own[key]]
    if differences:
        raise Stage1Error(
            f"The stage-1 run in {stage1_folder} was trained on another backbone than this run's "
            f"--wav2vec2_hub {wav2vec2_hub} ({'; '.join(differences)}). Stage 2 must use the same wav2vec2_hub "
            f"architecture as stage 1: pass --wav2vec2_hub {stage1['wav2vec2_hub']}."
        )


def check_same_fold(stage1_folder, manifest_folder):
    """Raises if the stage-1 run was made for another fold (other test utterances) than this run.

    Arguments
    ---------
    stage1_folder : str
    manifest_folder : str
        This run's manifests.
    """
    stage1_test = os.path.join(stage1_folder, "manifests", "test.json")
    if not os.path.isfile(stage1_test):
        raise Stage1Error(f"{stage1_folder} has no manifests/test.json: it is not the output folder of train_stage1.py.")
    with open(stage1_test, encoding="utf-8") as handle:
        stage1_ids = set(json.load(handle))
    with open(os.path.join(manifest_folder, "test.json"), encoding="utf-8") as handle:
        stage2_ids = set(json.load(handle))
    if stage1_ids != stage2_ids:
        sessions = sorted({utt[:5] for utt in stage1_ids})
        raise Stage1Error(
            f"The stage-1 run in {stage1_folder} was tested on other utterances ({sessions}) than this stage-2 run: "
            "both stages must use the same --test_session (and data)."
        )
