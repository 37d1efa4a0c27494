"""The exported model folder: what ``recipes/export.py`` writes from a finished training run, and the checks that
keep it loadable anywhere (``foreign_class``, offline, from a local path or the Hugging Face Hub).

``export_model`` writes ``hyperparams.yaml`` (the backbone's config inline), ``custom_interface.py``
(``recipes/hub/inference_bundle.py``), ``encoder.ckpt`` (LoRA folded unless asked not to), ``heads.ckpt``, the label
encoders, the CTC tokenizer, ``test_metrics.json`` and the model card (``recipes/hub/model_card.py``); with
``space`` the Space (``recipes/hub/space.py``), with ``onnx`` the ONNX graphs (``recipes/hub/onnx_export.py``). No
file names a folder of the training machine (``check_no_machine_paths``).

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import json
import os
import re
import shutil
import tempfile
import zipfile

import torch
import yaml
from speechbrain.dataio.encoder import CategoricalEncoder

from corpora.folds import corpus_title
from custom_modules.constants import SAMPLE_RATE
from custom_modules.ctc_units import ctc_record
from custom_modules.encoder import receptive_field
from custom_modules.errors import RecipeInputError
from custom_modules.handoff import load_trained_run, read_model_config, stage1_folder_of
from recipes.hub.inference_bundle import write_custom_interface, write_entry_point
from recipes.hub.model_card import DEFAULT_LICENSE, model_card, training_corpus
from recipes.hub.space import write_space

# What --quantize offers: recipes/hub/onnx_export.py's QUANTIZE_CHOICES (tested equal), here so that --help needs no
# onnx import.
QUANTIZATIONS = ("int8", "int8_unsigned")

# Files every export holds: an existing output folder without them is not overwritten.
EXPORT_MARKERS = ("hyperparams.yaml", "custom_interface.py")
# The label encoders a run saves, one per task of its corpus (label_encoder_<task>.txt), and their names in the
# export (the yaml's loadables): label_encoder for emotion, as SpeechBrain's emotion card names it, <task>_encoder
# for each auxiliary label (IEMOCAP: gender_encoder, style_encoder).
SAVED_ENCODER = re.compile(r"^label_encoder_(\w+)\.txt$")
# The class of the CTC tokenizer of each ``ctc_units``; its file (model_config.json's ``ctc``) becomes
# tokenizer.ckpt, which SpeechBrain's Pretrainer loads into it (a SentencePiece model through its transfer hook).
TOKENIZER_CLASSES = {
    "char": "speechbrain.dataio.encoder.CTCTextEncoder",
    "bpe": "sentencepiece.SentencePieceProcessor",
}
# Values of a run's hyperparams.yaml that the model card reports.
RUN_SETTINGS = ("number_of_epochs", "batch_size", "lr", "seed", "valid_ratio", "data_folder")
# A Hugging Face hub id (user/name); anything else, or an existing folder, is a local path.
HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
# An absolute path inside free text (an error message naming a file): from a "/" that starts a word to the
# next space or quote. Its last component is kept.
ABSOLUTE_PATH = re.compile(r"(?<![\w<>.~:/-])/(?:[^\s'\"()<>/]+/)*([^\s'\"()<>/]+)")

HYPERPARAMS = """# Speech emotion recognition model exported by recipes/export.py (two-stage adapters recipe).
# Load it with custom_interface.EmotionRecognizer: foreign_class runs custom_interface.py, whose package
# {package} provides the classes below; EmotionRecognizer.from_hparams needs custom_interface.py run first
# (README.md shows how). This file and custom_interface.py are code: load model folders only from sources you trust.

sample_rate: {sample_rate}
min_samples: {min_samples}   # the CNN's receptive field: shorter audio cannot be encoded
audio_normalizer: !new:speechbrain.dataio.preprocess.AudioNormalizer
    sample_rate: !ref <sample_rate>

# The backbone's architecture (its weights are in encoder.ckpt).
{ssl_config}
{preprocessor_config}
wav2vec2: !apply:{package}.encoder.ssl_lobe_from_config
    hf_config: !ref <ssl_config>
    preprocessor_config: !ref <preprocessor_config>

encoder: !new:{package}.encoder.SSLEncoder
    ssl_model: !ref <wav2vec2>
{encoder_settings}
heads: !new:{package}.heads.MultiTaskHeads
{heads_settings}
{encoders}
tokenizer: !new:{tokenizer_class}

modules:
    encoder: !ref <encoder>
    heads: !ref <heads>

pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        encoder: !ref <encoder>
        heads: !ref <heads>
{encoder_loadables}
        tokenizer: !ref <tokenizer>
"""


class ExportError(RecipeInputError):
    """The export cannot be done; the message says why and how to fix it."""


def check_folders(experiment_folder, output_folder, allow_unfinished=False):
    """Refuses, before anything is loaded, a folder that is not a finished training run and an output folder
    whose replacement would delete something else than an earlier export.

    Arguments
    ---------
    experiment_folder : str
        The ``output_folder`` of a train_stage1.py / train_stage2.py run.
    output_folder : str
        Where the export goes.
    allow_unfinished : bool
        Accept a run that has checkpoints but no ``test_metrics.json`` yet.
    """
    run = os.path.realpath(experiment_folder)
    out = os.path.realpath(output_folder)
    if not os.path.isdir(run):
        raise ExportError(f"--experiment_folder {experiment_folder} does not exist.")
    if not os.path.isfile(os.path.join(run, "hyperparams.yaml")) or not os.path.isdir(os.path.join(run, "save")):
        raise ExportError(
            f"{experiment_folder} is not the output folder of a training run (it needs hyperparams.yaml and save/). "
            "Pass the --output_folder given to train_stage1.py or train_stage2.py."
        )
    if not allow_unfinished and not os.path.isfile(os.path.join(run, "test_metrics.json")):
        raise ExportError(
            f"{experiment_folder} has no test_metrics.json: the run has not finished. Let it finish (re-running "
            "the same command resumes it), or pass --allow_unfinished to export its best checkpoint so far."
        )
    if out == run or run.startswith(out + os.sep):
        raise ExportError(
            f"--output_folder {output_folder} would replace the training run itself; choose another folder."
        )
    if os.path.exists(out) and not os.path.isdir(out):
        raise ExportError(f"--output_folder {output_folder} is a file; choose a folder.")
    earlier_export = all(os.path.isfile(os.path.join(out, marker)) for marker in EXPORT_MARKERS)
    if os.path.isdir(out) and os.listdir(out) and not earlier_export:
        raise ExportError(
            f"--output_folder {output_folder} exists and is not an earlier export (no {' / '.join(EXPORT_MARKERS)}); "
            "it would be deleted. Choose a new or empty folder."
        )


def export_model(
    experiment_folder,
    export_folder,
    fold_lora=True,
    repo_id=None,
    license_id=DEFAULT_LICENSE,
    space=False,
    onnx=False,
    quantize=None,
):
    """Writes the self-contained inference folder of a training run.

    Arguments
    ---------
    experiment_folder : str
        The ``output_folder`` of a finished train_stage1.py or train_stage2.py run.
    export_folder : str
        Folder to create (its previous content is replaced).
    fold_lora : bool
        Fold the LoRA updates into the q/k/v weights (``SSLEncoder.fold_lora``): the same predictions, without
        LoRA's extra matrix products at every call.
    repo_id : str, optional
        The Hugging Face repository the model will be uploaded to (``user/name``): the model card's code loads
        from it.
    license_id : str
        The license in the model card's front matter.
    space : bool
        Also write ``space/``, the Hugging Face Space that serves the page to try the model from ``repo_id``
        (``recipes/hub/space.py``).
    onnx : bool
        Also write ``model.onnx`` (the whole inference graph, ``recipes/hub/onnx_export.py``) and ``onnx_interface.py``
        (its ONNX Runtime backend, without torch).
    quantize : str, optional
        ``int8`` or ``int8_unsigned`` (``recipes.hub.onnx_export.INT8_FORMS``): also write ``model.int8.onnx`` (with
        ``onnx``).

    Returns
    -------
    str
        ``export_folder``.
    """
    encoder, heads, config = load_trained_run(experiment_folder)
    if fold_lora:
        encoder.fold_lora()
    if os.path.isdir(export_folder):
        shutil.rmtree(export_folder)
    os.makedirs(export_folder)

    torch.save(encoder.state_dict(), os.path.join(export_folder, "encoder.ckpt"))
    torch.save(heads.state_dict(), os.path.join(export_folder, "heads.ckpt"))
    encoders = label_encoder_names(os.path.join(experiment_folder, "save"))
    for saved, name in encoders.items():
        shutil.copy(os.path.join(experiment_folder, "save", saved), os.path.join(export_folder, f"{name}.ckpt"))
    ctc = run_ctc_units(config)
    shutil.copy(
        os.path.join(experiment_folder, "save", ctc["tokenizer"]), os.path.join(export_folder, "tokenizer.ckpt")
    )
    package = write_custom_interface(os.path.join(export_folder, "custom_interface.py"))
    backbone = config["backbone"]
    text = HYPERPARAMS.format(
        package=package,
        sample_rate=SAMPLE_RATE,
        min_samples=receptive_field(encoder.adapted_model),
        ssl_config=_yaml_block({"ssl_config": _without_local_paths(backbone["hf_config"])}),
        preprocessor_config=_yaml_block({"preprocessor_config": backbone["preprocessor_config"]}),
        encoder_settings=_yaml_block(encoder.settings(), indent=4),
        heads_settings=_yaml_block(config["heads"], indent=4),
        tokenizer_class=TOKENIZER_CLASSES[ctc["units"]],
        encoders="\n".join(f"{name}: !new:speechbrain.dataio.encoder.CategoricalEncoder" for name in encoders.values()),
        encoder_loadables="\n".join(f"        {name}: !ref <{name}>" for name in encoders.values()),
    )
    with open(os.path.join(export_folder, "hyperparams.yaml"), "w", encoding="utf-8") as handle:
        handle.write(text)

    description = describe_run(experiment_folder, config, encoder.settings())
    if onnx:
        from recipes.hub.onnx_export import add_onnx_files

        write_entry_point(os.path.join(export_folder, "onnx_interface.py"), "onnx_interface.py")
        description["onnx"] = add_onnx_files(export_folder, quantize)
    if description["metrics"]:
        with open(os.path.join(export_folder, "test_metrics.json"), "w", encoding="utf-8") as handle:
            json.dump(description["metrics"], handle, indent=2)
    with open(os.path.join(export_folder, "README.md"), "w", encoding="utf-8") as handle:
        handle.write(model_card(description, repo_id, license_id))
    check_no_machine_paths(export_folder, description["machine_folders"])
    if space:
        check_no_machine_paths(write_space(export_folder, repo_id), description["machine_folders"])
    print(f"Exported {experiment_folder} to {export_folder}")
    return export_folder


def label_encoder_names(save_folder):
    """The label encoders a run saved (one per task of its corpus) and their names in the export.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> for task in ("emo", "gender", "level"):
    ...     _ = (folder / f"label_encoder_{task}.txt").write_text("")
    >>> label_encoder_names(folder)
    {'label_encoder_emo.txt': 'label_encoder', 'label_encoder_gender.txt': 'gender_encoder', \
'label_encoder_level.txt': 'level_encoder'}
    """
    tasks = sorted(match.group(1) for match in map(SAVED_ENCODER.match, os.listdir(save_folder)) if match)
    # Emotion first, then the corpus's auxiliary labels in name order.
    tasks = ["emo"] + [task for task in tasks if task != "emo"]
    return {f"label_encoder_{task}.txt": "label_encoder" if task == "emo" else f"{task}_encoder" for task in tasks}


def run_labels(save_folder):
    """The labels of each task of a run, in its classifiers' order, from the label encoders it saved.

    Arguments
    ---------
    save_folder : str

    Returns
    -------
    dict
        Task -> list of labels (``emo``, and each auxiliary label of the corpus).
    """
    labels = {}
    for saved in label_encoder_names(save_folder):
        encoder = CategoricalEncoder()
        encoder.load(os.path.join(save_folder, saved))
        labels[SAVED_ENCODER.match(saved).group(1)] = [encoder.ind2lab[i] for i in range(len(encoder))]
    return labels


def run_ctc_units(config):
    """The CTC units of a run (``custom_modules.ctc_units.ctc_record``) from its ``model_config.json``; a run
    saved before the recipe recorded them predicts characters, the only units there were.

    Example
    -------
    >>> run_ctc_units({"ctc": {"units": "bpe", "vocab_size": 100, "tokenizer": "tokenizer/100_bpe.model"}})["units"]
    'bpe'
    >>> run_ctc_units({})["tokenizer"]
    'tokenizer.txt'
    """
    return config.get("ctc") or ctc_record("char", None)


def describe_run(experiment_folder, config, encoder_settings):
    """What the model card says about a run, with every path of the training machine removed.

    Arguments
    ---------
    experiment_folder : str
    config : dict
        The run's ``model_config.json``.
    encoder_settings : dict
        The exported encoder's settings (``lora_folded`` after folding).

    Returns
    -------
    dict
        ``title``, ``summary``, ``backbone`` (``name``, ``hub_id`` or None, ``model_type``, ``layers``,
        ``hidden_size``), ``encoder``, ``heads``, ``metrics`` (its ``test_metrics.json``, paths removed; empty
        for an unfinished run), ``settings``, ``run`` (``RUN_SETTINGS`` of its yaml), ``ctc`` (its CTC units:
        ``run_ctc_units``), ``stage1`` (for stage 2: the stage-1 run's ``run``, ``metrics`` and ``ctc``; else
        None) and ``machine_folders`` (what was removed).
    """
    stage1_folder = stage1_folder_of(experiment_folder, config)
    run = _run_settings(experiment_folder)
    stage1 = None
    if stage1_folder:
        stage1 = {"run": _run_settings(stage1_folder), "metrics": _read_metrics(stage1_folder)}
        stage1["settings"] = stage1["run"]
        stage1["ctc"] = run_ctc_units(read_model_config(stage1_folder))
    source = config["backbone"]["source"]
    local_backbone = is_local_path(source)
    folders = machine_folders(
        {
            experiment_folder: "<training run>",
            stage1_folder: "<stage-1 run>",
            run.pop("data_folder", None): "<data_folder>",
            (stage1 or {}).get("run", {}).pop("data_folder", None): "<data_folder>",
            source if local_backbone else None: backbone_label(source),
        }
    )
    metrics = without_machine_paths(_read_metrics(experiment_folder), folders)
    if stage1:
        stage1["metrics"] = without_machine_paths(stage1["metrics"], folders)
    for recorded in (metrics, (stage1 or {}).get("metrics", {})):
        if "wav2vec2_hub" in recorded.get("settings", {}):
            # Written at training time: the backbone's folder then, which may have moved since.
            recorded["settings"]["wav2vec2_hub"] = backbone_label(recorded["settings"]["wav2vec2_hub"])
    hf_config = config["backbone"]["hf_config"]
    name = f"a local folder `{os.path.basename(os.path.normpath(source))}`" if local_backbone else f"`{source}`"
    settings = dict(metrics.get("settings", {}))
    settings["trainable_parameters"] = metrics.get("parameters", {}).get("trainable")
    session = metrics.get("test_session")
    corpus_record = metrics.get("corpus") or {}
    two_stage = stage1_folder is not None
    kind = "stage 2 of the two-stage method" if two_stage else "a single-stage model (the method's stage 1 form)"
    title = (
        "Speech emotion recognition with two-stage adapter finetuning"
        if two_stage
        else ("Speech emotion recognition with multi-task finetuning")
    )
    # The corpus the model was trained on: IEMOCAP only when preparation recorded the full release.
    if corpus_record.get("name", "iemocap") == "iemocap":
        corpus = "IEMOCAP" if training_corpus(metrics)["iemocap"] else "IEMOCAP-format corpus,"
    else:
        corpus = corpus_title(corpus_record["name"]) + ("" if corpus_record.get("matches_full_release") else " layout,")
    held_out = corpus_record.get("held_out")
    if session:
        where = f" session {session} held out)"
        summary = f", leave-one-session-out fold {session} (session {session} held out)."
    elif held_out:
        where = f" fold {metrics.get('test_fold')} held out)"
        summary = f", fold {metrics.get('test_fold')} of its protocol ({held_out} held out)."
    else:
        where, summary = ")", "."
    title += f" ({hf_config['model_type']}, {corpus}" + where
    return {
        "title": title,
        "summary": kind + summary,
        "labels": run_labels(os.path.join(experiment_folder, "save")),
        "backbone": {
            "name": name,
            "hub_id": None if local_backbone else source,
            "model_type": hf_config["model_type"],
            "layers": hf_config.get("num_hidden_layers"),
            "hidden_size": hf_config.get("hidden_size"),
        },
        "encoder": encoder_settings,
        "heads": config["heads"],
        "metrics": metrics,
        "settings": settings,
        "run": run,
        "ctc": run_ctc_units(config),
        "stage1": stage1,
        # What must not appear anywhere in the export: the folders above, and the machine's home and temp roots.
        "machine_folders": machine_folders(
            {**dict.fromkeys(folders), os.path.expanduser("~"): None, tempfile.gettempdir(): None}
        ),
    }


def is_local_path(source):
    """Whether a ``wav2vec2_hub`` value names a local folder rather than a Hugging Face hub id.

    Example
    -------
    >>> is_local_path("facebook/wav2vec2-xls-r-300m"), is_local_path("/data/models/xlsr"), is_local_path("a/b/c")
    (False, True, True)
    """
    return os.path.isabs(source) or os.path.exists(source) or not HUB_ID.match(source)


def backbone_label(source):
    """A backbone's name for the card and the exported metrics: a hub id as it is, a local folder by its last
    component only.

    Example
    -------
    >>> backbone_label("facebook/wav2vec2-xls-r-300m"), backbone_label("/home/me/models/xlsr/")
    ('facebook/wav2vec2-xls-r-300m', '<local folder>/xlsr')
    """
    return f"<local folder>/{os.path.basename(os.path.normpath(source))}" if is_local_path(source) else source


def machine_folders(placeholders):
    """Folders of the training machine -> what replaces them, each also under its resolved path, longest first
    (a folder inside another is replaced before it). Empty or root entries are dropped.

    Example
    -------
    >>> machine_folders({"/data/run": "<run>", "/data": "<data>", None: "<none>", "/": "<root>"})
    {'/data/run': '<run>', '/data': '<data>'}
    """
    found = {}
    for folder, placeholder in placeholders.items():
        if not folder:
            continue
        for variant in {os.path.normpath(os.path.abspath(folder)), os.path.realpath(folder)}:
            if variant != os.sep:
                found.setdefault(variant, placeholder)
    return dict(sorted(found.items(), key=lambda item: -len(item[0])))


def without_machine_paths(value, folders):
    """A JSON value with every path of the training machine removed from its strings: the known ``folders``
    become their placeholders, any other absolute path (in the machine's temp or home folder, or anywhere) its
    last component after ``<path>/``.

    Arguments
    ---------
    value : dict, list, str or number
    folders : dict
        Folder -> placeholder (``machine_folders``).

    Returns
    -------
    The same structure.

    Example
    -------
    >>> without_machine_paths({"why": ["unreadable: Error opening '/data/S1/a.wav'", "at /srv/x/b.wav"]},
    ...                       {"/data": "<data_folder>"})
    {'why': ["unreadable: Error opening '<data_folder>/S1/a.wav'", 'at <path>/b.wav']}
    """
    if isinstance(value, dict):
        return {key: without_machine_paths(item, folders) for key, item in value.items()}
    if isinstance(value, list):
        return [without_machine_paths(item, folders) for item in value]
    if not isinstance(value, str):
        return value
    for folder, placeholder in folders.items():
        value = value.replace(folder, placeholder)
    return ABSOLUTE_PATH.sub(lambda match: f"<path>/{match.group(1)}", value)


def check_no_machine_paths(export_folder, folders):
    """Raises ``ExportError`` if a file of the export names a folder of the training machine.

    Text files are searched whole; a checkpoint (a zip written by ``torch.save``) by its member names and its
    pickled structure, and an ONNX file by everything but its tensors' data: in the tensors' bytes a short path
    could occur by chance.
    """
    for name in sorted(os.listdir(export_folder)):
        path = os.path.join(export_folder, name)
        if not os.path.isfile(path):
            continue
        if name.endswith(".onnx"):
            from recipes.hub.onnx_export import searchable_bytes

            data = searchable_bytes(path)
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                members = archive.namelist()
                data = "\n".join(members).encode() + b"".join(
                    archive.read(member) for member in members if member.endswith(".pkl")
                )
        else:
            with open(path, "rb") as handle:
                data = handle.read()
        for folder in folders:
            if folder.encode() in data:
                raise ExportError(f"{path} names {folder}, a folder of the training machine: please report this.")


def _run_settings(run_folder):
    """``RUN_SETTINGS`` from a run's hyperparams.yaml (plain values; SpeechBrain's tags are skipped)."""
    path = os.path.join(run_folder, "hyperparams.yaml")
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        values = yaml.load(handle, Loader=_PlainValues) or {}
    return {key: values[key] for key in RUN_SETTINGS if isinstance(values.get(key), str | int | float)}


class _PlainValues(yaml.SafeLoader):
    """Reads a hyperpyyaml file's plain values; ``!new:``, ``!ref`` and the like become None."""


_PlainValues.add_multi_constructor("!", lambda loader, suffix, node: None)


def _read_metrics(run_folder):
    path = os.path.join(run_folder, "test_metrics.json")
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _without_local_paths(hf_config):
    """The Hugging Face config without ``_name_or_path`` (a folder of the training machine, or a hub id that the
    rebuilt architecture does not need)."""
    return {key: value for key, value in hf_config.items() if key != "_name_or_path"}


def _yaml_block(mapping, indent=0):
    text = yaml.safe_dump(json.loads(json.dumps(mapping)), default_flow_style=False, sort_keys=False)
    return "".join(" " * indent + line + "\n" for line in text.splitlines())
