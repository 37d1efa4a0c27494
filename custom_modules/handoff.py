"""Handing a trained run over to what comes next: stage 2 starts from stage 1, and export starts from either.

Every run saves ``model_config.json`` beside its checkpoints (as PEFT writes ``adapter_config.json`` beside
adapter weights): the backbone's architecture (its Hugging Face configs and where it came from), the encoder's
and the heads' settings, the CTC units and their tokenizer's file, and for stage 2 the stage-1 run it started
from. A later step rebuilds the model from that file and the checkpoint of best validation UA, without the run's
yaml and without the hub:

- stage 2 builds stage 1's backbone from it (``stage1_backbone``, in ``hparams/stage2.yaml``), then loads the
  stage-1 encoder bit for bit and inserts the adapters on top (``load_stage1_encoder``);
- export and the tests rebuild a finished run (``load_trained_run``).

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import json
import os

from speechbrain.utils.logger import get_logger

from custom_modules.checkpointing import InterruptSafeCheckpointer
from custom_modules.constants import PREPARATION_RECORD
from custom_modules.ctc_units import ctc_record
from custom_modules.encoder import SSLEncoder, ssl_lobe_from_config
from custom_modules.errors import RecipeInputError
from custom_modules.heads import MultiTaskHeads

logger = get_logger(__name__)

MODEL_CONFIG_FILE = "model_config.json"
# What makes two backbones the same model for a checkpoint: the family and the settings that shape the computation.
# Two families (or pre- and post-LayerNorm variants) can have the same parameter names and shapes, so loading a
# checkpoint alone would not notice; dropout, LayerDrop and masking settings do not matter.
BACKBONE_IDENTITY_KEYS = (
    "model_type",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "hidden_act",
    "conv_dim",
    "conv_kernel",
    "conv_stride",
    "conv_bias",
    "feat_extract_norm",
    "do_stable_layer_norm",
)


# The preparation options that draw a fold's split, and why stage 2 must share them with its stage 1.
SPLIT_OPTIONS = {
    "corpus": "stage 2 must be trained and tested on its stage 1's corpus",
    "protocol": "stage 2 must be tested on the fold its stage 1 never saw",
    "test_fold": "stage 2 must be tested on the fold its stage 1 never saw",
    "n_folds": "stage 2 must be tested on the fold its stage 1 never saw",
    "fold_seed": "stage 2 must be tested on the fold its stage 1 never saw",
    "valid_ratio": "stage 2 must select its model on stage 1's validation utterances, never on its training ones",
    "seed": "the validation utterances are drawn with the seed, and stage 2 must select its model on stage 1's",
}


class HandoffError(RecipeInputError, FileNotFoundError):
    """A run folder that cannot be handed over (to stage 2, or to export); the message says how to fix it."""


def write_model_config(
    output_folder,
    encoder,
    heads,
    wav2vec2_hub,
    stage1_folder=None,
    ctc_units="char",
    bpe_vocab_size=None,
    selection_metric="UA",
):
    """Writes ``<output_folder>/model_config.json``: what rebuilds this run's model from its checkpoints.

    Arguments
    ---------
    output_folder : str
        The run's folder.
    encoder : custom_modules.encoder.SSLEncoder
    heads : custom_modules.heads.MultiTaskHeads
    wav2vec2_hub : str
        Where the backbone came from (a stage-2 run records its stage 1's instead).
    stage1_folder : str, optional
        For stage 2: the stage-1 run whose encoder it starts from (its checkpoints hold only what stage 2 trains).
        Recorded relative to ``output_folder``, so that the two runs can move together (``stage1_folder_of``).
    ctc_units : str
        What the CTC head predicts (``char`` or ``bpe``); recorded with the vocabulary size and the tokenizer's
        file in the save folder (``custom_modules.ctc_units.ctc_record``), which the export ships.
    bpe_vocab_size : int, optional
        With ``bpe``.
    selection_metric : str
        The validation metric that selects the run's checkpoint (``UA``, or ``CCC`` for a dimensional model):
        the export loads the checkpoint it selected.
    """
    source = read_model_config(stage1_folder)["backbone"]["source"] if stage1_folder else wav2vec2_hub
    config = {
        "backbone": {"source": source, **encoder.backbone_config()},
        "encoder": encoder.settings(),
        "heads": heads.settings(),
        "stage1_folder": os.path.relpath(stage1_folder, output_folder) if stage1_folder else None,
        "ctc": ctc_record(ctc_units, bpe_vocab_size),
        "selection_metric": selection_metric,
    }
    with open(os.path.join(output_folder, MODEL_CONFIG_FILE), "w", encoding="utf-8") as handle:
        json.dump(config, handle, indent=2)


def read_model_config(run_folder):
    """The ``model_config.json`` of a run (``write_model_config``).

    Arguments
    ---------
    run_folder : str
        The ``output_folder`` of a train_stage1.py or train_stage2.py run.

    Returns
    -------
    dict
    """
    if not run_folder or not os.path.isdir(run_folder):
        raise HandoffError(f"{run_folder!r} does not exist: pass the --output_folder of a train_stage1.py run.")
    path = os.path.join(run_folder, MODEL_CONFIG_FILE)
    if not os.path.isfile(path):
        raise HandoffError(
            f"{run_folder} has no {MODEL_CONFIG_FILE}: it is not the output folder of a training run that started "
            "(or was made by an older version of the recipe: train it again)."
        )
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def stage1_folder_of(run_folder, config):
    """The stage-1 run a stage-2 run started from (None for a stage-1 run), from its ``model_config.json``.

    Arguments
    ---------
    run_folder : str
    config : dict
        The run's ``model_config.json``.

    Returns
    -------
    str or None
    """
    if not config["stage1_folder"]:
        return None
    return os.path.normpath(os.path.join(run_folder, config["stage1_folder"]))


def stage1_backbone(stage1_folder, allow_unfinished=False, wav2vec2_hub=None):
    """Checks a stage-1 run for stage 2 and builds its backbone's architecture, from its ``model_config.json``.

    The weights come from stage 1's checkpoint afterwards (``load_stage1_encoder``), so nothing is downloaded.
    Stops, with the fix, on a folder that is not a stage-1 run, a stage 1 that has not finished (unless
    ``allow_unfinished``), and a ``wav2vec2_hub`` that names another backbone than stage 1's.

    Arguments
    ---------
    stage1_folder : str
        The ``output_folder`` of the stage-1 run.
    allow_unfinished : bool
        Start from the best checkpoint of a stage 1 that has not written its test metrics yet.
    wav2vec2_hub : str, optional
        Stage 2's ``wav2vec2_hub``, if given: it must be stage 1's backbone.

    Returns
    -------
    custom_modules.encoder.Wav2Vec2FromConfig
    """
    fix = (
        f"Run train_stage1.py with --output_folder {stage1_folder} first, or pass the folder of a finished stage-1 run."
    )
    if not stage1_folder or not os.path.isdir(stage1_folder):
        raise HandoffError(f"--stage1_folder {stage1_folder!r} does not exist. {fix}")
    best_checkpoint(stage1_folder, fix)
    config = read_model_config(stage1_folder)
    if config["stage1_folder"]:
        trained_from = stage1_folder_of(stage1_folder, config)
        raise HandoffError(
            f"--stage1_folder {stage1_folder} is a stage-2 run (trained from the stage-1 run {trained_from}): pass "
            f"--stage1_folder {trained_from}."
        )
    if not os.path.isfile(os.path.join(stage1_folder, "test_metrics.json")):
        if not allow_unfinished:
            raise HandoffError(
                f"Stage 1 in {stage1_folder} has not finished (no test_metrics.json). Let it finish (running its "
                "command again resumes it), or pass --allow_unfinished_stage1 True to start from its best "
                "checkpoint so far."
            )
        logger.warning("Stage 1 in %s has not finished; stage 2 starts from its best checkpoint so far.", stage1_folder)
    if wav2vec2_hub:
        check_same_backbone(stage1_folder, config["backbone"], wav2vec2_hub)
    backbone = config["backbone"]
    return ssl_lobe_from_config(backbone["hf_config"], backbone["preprocessor_config"])


def check_same_backbone(stage1_folder, stage1_backbone_config, wav2vec2_hub):
    """Raises unless ``wav2vec2_hub`` names the backbone stage 1 was trained on.

    The same text, the same local folder, or a local folder holding a model of the same family and architecture
    (``BACKBONE_IDENTITY_KEYS``) pass; another hub id does not.

    Arguments
    ---------
    stage1_folder : str
    stage1_backbone_config : dict
        The ``backbone`` entry of stage 1's ``model_config.json``.
    wav2vec2_hub : str
        Stage 2's ``wav2vec2_hub``.
    """
    source = stage1_backbone_config["source"]
    if wav2vec2_hub == source or _same_folder(wav2vec2_hub, source):
        return
    differences = ["another hub id"]
    if os.path.isfile(os.path.join(wav2vec2_hub, "config.json")):
        with open(os.path.join(wav2vec2_hub, "config.json"), encoding="utf-8") as handle:
            given = backbone_identity(json.load(handle))
        trained = backbone_identity(stage1_backbone_config["hf_config"])
        differences = [
            f"{key}: {trained[key]} in stage 1, {given[key]} here" for key in trained if trained[key] != given[key]
        ]
        if not differences:
            return
    raise HandoffError(
        f"The stage-1 run in {stage1_folder} was trained on another backbone ({source}) than --wav2vec2_hub "
        f"{wav2vec2_hub} ({'; '.join(differences)}). Stage 2 builds stage 1's backbone itself: leave "
        f"--wav2vec2_hub out, or pass --wav2vec2_hub {source}."
    )


def backbone_identity(hf_config):
    """The settings of a Hugging Face config dict that two backbones must share for a checkpoint of one to fit the
    other (``BACKBONE_IDENTITY_KEYS``), JSON-ready.

    Example
    -------
    >>> from transformers import HubertConfig, Wav2Vec2Config
    >>> backbone_identity(Wav2Vec2Config().to_dict())["conv_stride"]
    [5, 2, 2, 2, 2, 2, 2]
    >>> backbone_identity(Wav2Vec2Config().to_dict()) == backbone_identity(HubertConfig().to_dict())
    False
    """
    return json.loads(json.dumps({key: hf_config.get(key) for key in BACKBONE_IDENTITY_KEYS}))


def best_checkpoint(run_folder, fix=None):
    """The complete checkpoint of a run with the best validation UA.

    Arguments
    ---------
    run_folder : str
        The ``output_folder`` of a train_stage1.py or train_stage2.py run.
    fix : str, optional
        What to do about a run without one, for the message.

    Returns
    -------
    speechbrain.utils.checkpoints.Checkpoint
    """
    fix = fix or "Train it first (or let it finish its first epoch)."
    save_folder = os.path.join(run_folder, "save")
    checkpoint = None
    if os.path.isdir(save_folder):
        checkpoint = InterruptSafeCheckpointer(save_folder).find_checkpoint(max_key="UA")
    if checkpoint is None:
        raise HandoffError(f"{run_folder} holds no checkpoint with a validation UA ({save_folder}/CKPT+*). {fix}")
    if "encoder" not in checkpoint.paramfiles or not checkpoint.paramfiles["encoder"].is_file():
        raise HandoffError(f"Checkpoint {checkpoint.path} has no encoder.ckpt: it is not a training checkpoint. {fix}")
    return checkpoint


def check_stage1_split(stage1_folder, split_options):
    """Raises unless this stage-2 run would split the corpus as its stage 1 did: the same test session, and the same
    validation utterances, so that stage 2 never selects its model on utterances stage 1 trained on.

    Compares the options that draw the split with those stage 1's preparation recorded
    (``<stage1_folder>/manifests/prepare_options.json``), so a train script calls it before it writes anything;
    ``check_same_fold`` compares the utterances themselves once this run's manifests exist. A folder without that
    record is left to the hand-off's own checks (``stage1_backbone``).

    Arguments
    ---------
    stage1_folder : str
    split_options : dict
        This run's options of ``SPLIT_OPTIONS`` (its corpus, protocol, test fold, validation share and seed).
    """
    record = os.path.join(str(stage1_folder), "manifests", PREPARATION_RECORD)
    if not os.path.isfile(record):
        return
    with open(record, encoding="utf-8") as handle:
        stage1 = json.load(handle)["options"]
    for option, what in SPLIT_OPTIONS.items():
        # An option the stage-1 record lacks (a protocol without folds' seed) or this run leaves to the corpus's
        # default (protocol: null) is not compared; the manifests are, once written (check_same_fold).
        if option not in stage1 or split_options.get(option) is None:
            continue
        if str(split_options[option]) != str(stage1[option]):
            raise HandoffError(
                f"The stage-1 run in {stage1_folder} was prepared with --{option} {stage1[option]}, this run with "
                f"--{option} {split_options[option]}: {what}. Pass --{option} {stage1[option]}, or the stage-1 run "
                "made with yours."
            )


def check_same_fold(stage1_folder, manifest_folder):
    """Raises unless the stage-1 run was tested and validated on the same utterances as this stage-2 run.

    Arguments
    ---------
    stage1_folder : str
    manifest_folder : str
        This run's manifests.
    """
    for split, what in (("test", "tested"), ("valid", "validated")):
        stage1_manifest = os.path.join(stage1_folder, "manifests", f"{split}.json")
        if not os.path.isfile(stage1_manifest):
            raise HandoffError(
                f"{stage1_folder} has no manifests/{split}.json: it is not the output folder of train_stage1.py."
            )
        with open(stage1_manifest, encoding="utf-8") as handle:
            stage1_ids = set(json.load(handle))
        with open(os.path.join(manifest_folder, f"{split}.json"), encoding="utf-8") as handle:
            stage2_ids = set(json.load(handle))
        if stage1_ids != stage2_ids:
            example = sorted(stage1_ids ^ stage2_ids)[0]
            raise HandoffError(
                f"The stage-1 run in {stage1_folder} was {what} on other utterances ({len(stage1_ids)}, e.g. "
                f"{example} is in one of them only) than this stage-2 run ({len(stage2_ids)}): both stages must use "
                "the same corpus, --test_fold, --valid_ratio and --seed."
            )


def load_stage1_encoder(encoder, stage1_folder):
    """The hand-off: loads the stage-1 encoder of best validation UA into ``encoder`` bit for bit, then inserts
    ``encoder``'s adapters on top of it.

    The order matters: inserted first, LoRA would rename the q/k/v weights and the stage-1 values would not reach
    them. A stage 1 that trained adapters (Table 2 setting 1) hands them over too, and they keep training.

    Arguments
    ---------
    encoder : custom_modules.encoder.SSLEncoder
        Built on stage 1's backbone (``stage1_backbone``) with ``manual_adapter_insertion``.
    stage1_folder : str

    Returns
    -------
    dict
        The meta of the loaded checkpoint (UA, WA, epoch).
    """
    checkpoint = best_checkpoint(stage1_folder)
    encoder.parameter_transfer(checkpoint.paramfiles["encoder"])
    encoder.insert_adapters()
    logger.info(
        "Starting from the stage-1 encoder of epoch %s (valid UA %.2f): %s",
        checkpoint.meta.get("epoch"),
        checkpoint.meta["UA"],
        checkpoint.path,
    )
    return checkpoint.meta


def load_trained_run(run_folder):
    """Rebuilds the model of a training run, with its checkpoint of best validation UA, in eval mode.

    Arguments
    ---------
    run_folder : str
        The ``output_folder`` of a train_stage1.py or train_stage2.py run.

    Returns
    -------
    encoder : custom_modules.encoder.SSLEncoder
    heads : custom_modules.heads.MultiTaskHeads
    config : dict
        The run's ``model_config.json``.
    """
    config = read_model_config(run_folder)
    backbone = config["backbone"]
    encoder = SSLEncoder(
        ssl_lobe_from_config(backbone["hf_config"], backbone["preprocessor_config"]),
        manual_adapter_insertion=True,
        **config["encoder"],
    )
    heads = MultiTaskHeads(**config["heads"])
    stage1_folder = stage1_folder_of(run_folder, config)
    if stage1_folder:
        # Stage-2 checkpoints hold only what trained: the frozen encoder is stage 1's.
        if not os.path.isdir(stage1_folder):
            raise HandoffError(
                f"{run_folder} started from the stage-1 run {stage1_folder}, which is not there: move or copy the "
                "two runs together, or fix stage1_folder in its model_config.json."
            )
        load_stage1_encoder(encoder, stage1_folder)
    encoder.insert_adapters()
    checkpointer = InterruptSafeCheckpointer(
        os.path.join(run_folder, "save"), recoverables={"encoder": encoder, "heads": heads}
    )
    selection = config.get("selection_metric", "UA")
    if checkpointer.recover_if_possible(max_key=selection) is None:
        raise HandoffError(f"{run_folder} holds no checkpoint with a validation {selection}: train it first.")
    return encoder.eval(), heads.eval(), config


def _same_folder(a, b):
    return os.path.isdir(a) and os.path.isdir(b) and os.path.samefile(a, b)
