"""The settings of a run, checked before anything is built: what the command line may override, and which values
a run can use.

Both train scripts call ``checked_settings`` first. A missing required option, an option the yaml does not have
(with the closest valid names), an option given twice, a value that is not yaml, and a value of the wrong type or
out of range each stop the run with ``<script>: error: <message>`` and exit status 2 (``SettingsError``, a
``RecipeInputError``), where they would otherwise end in a traceback from HyperPyYAML, ruamel or the model, or
(``--batch_size 0``) not at all. ``SETTINGS`` is the table of the settings' types and ranges; a key of the yaml
that it does not name is overridable but not checked here (its module checks it when it is built).

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import difflib
import numbers
import os
from collections.abc import Mapping

import ruamel.yaml
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode
from speechbrain.utils.run_opts import RunOptions

from corpora.folds import CORPORA, PROTOCOLS
from custom_modules.constants import CTC_UNITS
from custom_modules.data import unbuilt_hparams
from custom_modules.early_stopping import SELECTION_METRICS
from custom_modules.encoder import FINETUNE_MODES
from custom_modules.errors import RecipeInputError
from custom_modules.losses import CLASS_WEIGHTS, CTC_REDUCTIONS, EMOTION_WEIGHT_TOLERANCE, SCL_KINDS


class SettingsError(RecipeInputError, ValueError):
    """A setting the run cannot use; the message names it, what it is for and the values it takes."""


class Setting:
    """One row of the table: the kind of value a setting takes, its range and what it is for.

    Arguments
    ---------
    kind : str
        ``int``, ``number``, ``bool``, ``text``, ``choice`` (one of ``choices``) or ``subset`` (a list of distinct
        items of ``choices``), ``texts`` (a list of strings).
    purpose : str
        What the setting is for, as the error says it.
    low, high : float, optional
        The range (inclusive unless ``open_low`` / ``open_high``).
    choices : tuple, optional
    optional : bool
        ``null`` is allowed too.
    """

    def __init__(self, kind, purpose, low=None, high=None, open_low=False, open_high=False, choices=(), optional=False):
        self.kind, self.purpose, self.choices, self.optional = kind, purpose, tuple(choices), optional
        self.low, self.high, self.open_low, self.open_high = low, high, open_low, open_high

    def expected(self):
        """What the setting takes, in words (``an integer >= 1``)."""
        if self.kind in ("int", "number"):
            words = "an integer" if self.kind == "int" else "a number"
            bounds = []
            if self.low is not None:
                bounds.append(f"{'>' if self.open_low else '>='} {self.low:g}")
            if self.high is not None:
                bounds.append(f"{'<' if self.open_high else '<='} {self.high:g}")
            words += (" " + " and ".join(bounds)) if bounds else ""
        elif self.kind == "choice":
            words = "one of " + ", ".join(map(str, self.choices))
        elif self.kind == "subset" and self.choices:
            words = f"a list of distinct items of {', '.join(self.choices)} (e.g. [{self.choices[0]}])"
        elif self.kind == "subset":
            words = "a list of distinct names"
        else:
            words = {"bool": "True or False", "text": "a text", "texts": "a list of texts"}[self.kind]
        return words + (" or null" if self.optional else "")

    def accepts(self, value):
        """Whether ``value`` (as yaml read it) is one this setting can use."""
        if value is None:
            return self.optional
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind in ("int", "number"):
            wanted = numbers.Integral if self.kind == "int" else numbers.Real
            if isinstance(value, bool) or not isinstance(value, wanted) or value != value:  # NaN
                return False
            too_low = self.low is not None and (value <= self.low if self.open_low else value < self.low)
            too_high = self.high is not None and (value >= self.high if self.open_high else value > self.high)
            return not (too_low or too_high)
        if self.kind == "text":
            return isinstance(value, str) and value != ""
        if self.kind == "choice":
            return isinstance(value, str) and value in self.choices
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            return False
        if self.kind == "subset":
            return (not self.choices or set(value) <= set(self.choices)) and len(set(value)) == len(value)
        return True  # texts


_FOLDER = "a folder (written by the run)"
# Every setting of hparams/stage1.yaml and stage2.yaml whose values are known here. Nested settings are spelled
# parent.child. The corpus's folder or manifest, the test fold and the auxiliary tasks' names are checked against the
# corpus itself (corpora/folds.py, check_run_corpus), with its messages.
SETTINGS = {
    "seed": Setting("int", "the seed of the run and of the validation draw", low=0),
    "corpus": Setting("choice", "the corpus", choices=CORPORA),
    "data_folder": Setting("text", "the corpus folder as downloaded (IEMOCAP_full_release, ...)", optional=True),
    "manifest": Setting("text", "the manifest of --corpus manifest (CSV or JSON lines)", optional=True),
    "protocol": Setting("choice", "the folds (null: the corpus's default)", choices=PROTOCOLS, optional=True),
    "test_fold": Setting("int", "the held-out fold (IEMOCAP's sessions: the session)", low=1),
    "n_folds": Setting("int", "speaker_kfold's number of folds", low=2),
    "fold_seed": Setting("int", "speaker_kfold's shuffle of the speakers", low=0),
    "allow_speaker_overlap": Setting("bool", "let a test speaker be in train or valid (speaker-dependent)"),
    "valid_ratio": Setting(
        "number",
        "the share of each class of the training sessions held out for validation (model selection)",
        low=0,
        high=1,
        open_low=True,
        open_high=True,
    ),
    "skip_bad_wavs": Setting("bool", "preparation: True leaves unusable wavs out (listed) instead of stopping"),
    "min_duration": Setting("number", "seconds; shorter utterances cannot be encoded", low=0, open_low=True),
    "max_skipped_share": Setting("number", "the share of train or valid utterances that may be left out", 0, 1),
    "audio_check_cache": Setting("text", "the JSON file remembering the wavs already read", optional=True),
    "shuffle_train_emotions": Setting("bool", "a negative control: permute the training emotion labels"),
    "stage1_folder": Setting("text", "the output_folder of the stage-1 run of the same fold that stage 2 starts from"),
    "allow_unfinished_stage1": Setting("bool", "start from the best checkpoint of an unfinished stage-1 run"),
    "output_folder": Setting("text", _FOLDER),
    "save_folder": Setting("text", _FOLDER),
    "manifest_folder": Setting("text", _FOLDER),
    "train_log": Setting("text", "a file (written by the run)"),
    "metrics_log": Setting("text", "a file (written by the run)"),
    "use_tensorboard": Setting("bool", "TensorBoard event files too"),
    "tensorboard_folder": Setting("text", _FOLDER),
    "wav2vec2_hub": Setting("text", "the backbone: a Hugging Face hub id or a local folder", optional=True),
    "backbone_cache": Setting("text", "where a downloaded backbone is kept", optional=True),
    "freeze_feature_encoder": Setting("bool", "keep the CNN feature encoder frozen (the paper)"),
    "cache_cnn_features": Setting("bool", "compute the frozen CNN's output once per utterance"),
    "gradient_checkpointing": Setting("bool", "recompute each layer's activations in the backward pass"),
    "spec_augment": Setting("bool", "the backbone's own SpecAugment in training"),
    "aux_tasks": Setting("subset", "the auxiliary tasks beside emotion (asr, the corpus's labels and dimensions)"),
    "class_weights": Setting("choice", "the emotion cross-entropy's class weights", choices=CLASS_WEIGHTS),
    "selection_metric": Setting(
        "choice",
        "the validation metric that selects the model and that early stopping watches",
        choices=tuple(SELECTION_METRICS),
    ),
    "patience": Setting("int", "epochs without improvement before training stops (null: never)", low=1, optional=True),
    "aux_weight": Setting("number", "the weight of each auxiliary task's loss", low=0),
    "ctc_reduction": Setting("choice", "the CTC loss's scale", choices=CTC_REDUCTIONS),
    "ctc_units": Setting("choice", "what the ASR head predicts", choices=CTC_UNITS),
    "bpe_vocab_size": Setting("int", "the BPE units, the CTC blank and the unknown piece included", low=3),
    "scl": Setting("choice", "the self-contrastive loss", choices=SCL_KINDS),
    "scl_weight": Setting("number", "the weight of the self-contrastive loss", low=0),
    "fusion": Setting("bool", "the emotion classifier reads the gender and style latents too"),
    "finetune": Setting("choice", "what of the backbone trains", choices=FINETUNE_MODES),
    "task_adapters": Setting("bool", "a bottleneck adapter per task after pooling"),
    "task_adapter_residual": Setting("bool", "task adapters that add their input back and start as the identity"),
    "lora_targets": Setting("texts", "the layers that get LoRA (name patterns)"),
    "lora_rank": Setting("int", "LoRA's rank", low=1),
    "lora_alpha": Setting("number", "LoRA's scaling numerator (scale alpha / rank)", low=0, open_low=True),
    "bottleneck_targets": Setting("texts", "the layers followed by a bottleneck adapter (name patterns)"),
    "bottleneck_dim": Setting("int", "the bottleneck adapters' width", low=1),
    # 0: no training, the test of the model as it starts (a run that only checks its data, or a baseline).
    "number_of_epochs": Setting("int", "the epochs of training", low=0),
    "batch_size": Setting("int", "utterances per training batch", low=1),
    "grad_accumulation_factor": Setting("int", "batches per optimizer step", low=1),
    "lr": Setting("number", "the backbone's learning rate", low=0, open_low=True),
    "head_lr": Setting("number", "the heads' learning rate", low=0, open_low=True),
    "weight_decay": Setting("number", "AdamW's weight decay", low=0),
    "max_grad_norm": Setting("number", "the gradient norm clipped to", low=0, open_low=True),
    "ckpt_interval_minutes": Setting("number", "minutes between checkpoints within an epoch (0: none)", low=0),
    "nonfinite_patience": Setting("int", "batches with a non-finite loss skipped before the run stops", low=0),
    "skip_nonfinite_grads": Setting("bool", "drop non-finite gradients instead of stepping on them"),
    "eval_batch_size": Setting("int", "utterances per validation and test batch", low=1),
    "num_workers": Setting("int", "data loading processes (0: in the main process)", low=0),
    "dynamic_batching": Setting("bool", "length-bucketed training batches"),
    "dynamic_batch_sampler.max_batch_length": Setting(
        "number", "seconds of audio per batch at most", low=0, open_low=True
    ),
    "dynamic_batch_sampler.max_batch_ex": Setting("int", "utterances per batch at most", low=1),
    "dynamic_batch_sampler.num_buckets": Setting("int", "length buckets", low=1),
    "dynamic_batch_sampler.shuffle": Setting("bool", "shuffle the batches every epoch"),
    "dynamic_batch_sampler.batch_ordering": Setting(
        "choice", "the order of the batches", choices=("random", "ascending", "descending")
    ),
}


def checked_settings(hparams_file, overrides=None, run_opts=None):
    """The run's settings (the yaml with the command line's overrides, references resolved, nothing built), after
    checking every one of them; a ``SettingsError`` names the first problem and the fix.

    Arguments
    ---------
    hparams_file : str
    overrides : str or dict, optional
        As ``sb.parse_arguments`` returns them (a yaml string).
    run_opts : dict, optional
        As ``sb.parse_arguments`` returns them: some settings (``grad_accumulation_factor``, ``max_grad_norm``,
        ...) are also SpeechBrain run options, which take them from the command line instead of the overrides.

    Returns
    -------
    dict-like
        As ``custom_modules.data.unbuilt_hparams``.

    Example
    -------
    >>> checked_settings("hparams/stage1.yaml", "data_folder: /data\\nbatch_size: 8")["batch_size"]
    8
    >>> checked_settings("hparams/stage1.yaml", "data_folder: /data\\nnumer_of_epochs: 1")
    Traceback (most recent call last):
    ...
    custom_modules.settings.SettingsError: unknown option --numer_of_epochs (did you mean --number_of_epochs?)...
    >>> checked_settings("hparams/stage1.yaml", "data_folder: /data\\nlr: -1")
    Traceback (most recent call last):
    ...
    custom_modules.settings.SettingsError: --lr -1: the backbone's learning rate must be a number > 0.
    """
    with open(hparams_file, encoding="utf-8") as handle:
        document = ruamel.yaml.YAML(typ="rt").load(handle)
    given = read_overrides(overrides)
    for name in (run_opts or {}).get("overridden_args", ()):
        if name in SETTINGS and name in document:
            given[name] = run_opts[name]
    check_known(given, document, os.path.basename(hparams_file))
    for key, value in document.items():
        if _tag(value) == "!PLACEHOLDER" and key not in given:
            purpose = f" ({SETTINGS[key].purpose})" if key in SETTINGS else ""
            raise SettingsError(f"--{key} is required{purpose}: add --{key} <value> to the command.")
    settings = unbuilt_hparams(hparams_file, given)
    for name, setting in SETTINGS.items():
        parent, _, child = name.rpartition(".")
        raw, resolved, overridden = document, settings, given
        for part in filter(None, (parent, child)):
            if not isinstance(raw, Mapping) or part not in raw:
                break
            raw, resolved = raw[part], resolved[part]
            overridden = overridden.get(part, _ABSENT) if isinstance(overridden, Mapping) else _ABSENT
        else:
            # A reference is checked where it points (head_lr: !ref <lr> is lr's value) unless overridden.
            if (overridden is not _ABSENT or _tag(raw) != "!ref") and not setting.accepts(resolved):
                raise SettingsError(_problem(name, resolved, setting, overridden is not _ABSENT, hparams_file))
    check_combinations(settings)
    return settings


_ABSENT = object()
# SpeechBrain's run options that are no command-line option.
_NOT_OPTIONS = ("param_file", "overridden_args")


def read_overrides(overrides):
    """The command line's overrides as a mapping, with each option given once.

    Arguments
    ---------
    overrides : str or dict or None
        SpeechBrain's yaml string of ``--key value`` items.

    Returns
    -------
    dict

    Example
    -------
    >>> read_overrides("lr: 0.001\\naux_tasks: [asr, gender]")
    {'lr': 0.001, 'aux_tasks': ['asr', 'gender']}
    >>> read_overrides("lr: 0.001\\nlr: 0.01")
    Traceback (most recent call last):
    ...
    custom_modules.settings.SettingsError: --lr is given twice (0.001 and 0.01): keep one.
    """
    if not overrides:
        return {}
    if isinstance(overrides, Mapping):
        return dict(overrides)
    yaml = ruamel.yaml.YAML(typ="rt")
    try:
        node = yaml.compose(overrides)
    except YAMLError as error:
        raise SettingsError(
            f"the command line's options cannot be read as yaml values ({_first_line(error)}): quote a value with "
            f'spaces or brackets, e.g. --aux_tasks "[asr, gender]".'
        ) from error
    if not isinstance(node, MappingNode):
        raise SettingsError(f"unrecognized arguments: {overrides}; options are written --name value.")
    seen = {}
    for key, value in node.value:
        if key.value in seen:
            raise SettingsError(f"--{key.value} is given twice ({seen[key.value]} and {value.value}): keep one.")
        seen[key.value] = value.value if isinstance(value, ScalarNode) else "a list or mapping"
    return dict(yaml.load(overrides))


def check_known(given, document, yaml_name, prefix=""):
    """Every option given is a key of the yaml (nested options: of the mapping they override), else the closest
    valid names.

    Arguments
    ---------
    given : dict
        From ``read_overrides``.
    document : dict
        The yaml, loaded unresolved.
    yaml_name : str
        For the message.
    prefix : str
        The parent of nested keys.
    """
    candidates = [key for key in document if not str(key).startswith("__")]
    for key, value in given.items():
        if key not in document:
            run_options = [] if prefix else [name for name in RunOptions().as_dict() if name not in _NOT_OPTIONS]
            names = candidates + run_options
            close = difflib.get_close_matches(str(key), names, n=3, cutoff=0.6)
            hint = f" (did you mean {' or '.join('--' + prefix + name for name in close)}?)" if close else ""
            where = f"{yaml_name}'s {prefix[:-1]}" if prefix else yaml_name
            raise SettingsError(
                f"unknown option --{prefix}{key}{hint}: it is no setting of {where} nor a SpeechBrain run option."
            )
        if isinstance(value, Mapping) and not isinstance(document[key], Mapping):
            raise SettingsError(f"--{prefix}{key} takes a single value, not a mapping ({_text(value)}).")
        if isinstance(document[key], Mapping) and not isinstance(value, Mapping) and _tag(document[key]) is None:
            # A plain mapping of settings (not a module to build, which a value may replace)
            raise SettingsError(
                f"--{prefix}{key} is a group of settings ({', '.join(document[key])}): override them as a "
                f'mapping, e.g. --{prefix}{key} "{{{next(iter(document[key]))}: ...}}".'
            )
        if isinstance(value, Mapping) and isinstance(document[key], Mapping):
            check_known(value, document[key], yaml_name, prefix=f"{prefix}{key}.")


def check_combinations(settings):
    """Settings that are each fine but cannot go together.

    Arguments
    ---------
    settings : dict
    """
    tasks = list(settings["aux_tasks"])
    emotion_weight = 1 - settings["aux_weight"] * len(tasks)
    if tasks and emotion_weight < -EMOTION_WEIGHT_TOLERANCE:
        raise SettingsError(
            f"--aux_weight {settings['aux_weight']} with {len(tasks)} auxiliary tasks ({', '.join(tasks)}) leaves a "
            f"negative weight for emotion (1 - {len(tasks)} x aux_weight): use at most {1 / len(tasks):.3g}."
        )
    selection = settings.get("selection_metric", "UA")
    if tasks and abs(emotion_weight) <= EMOTION_WEIGHT_TOLERANCE and selection == "UA":
        raise SettingsError(
            f"--aux_weight {settings['aux_weight']} with {len(tasks)} auxiliary tasks leaves emotion no weight (a "
            "dimensional model), so its UA cannot select the model: add --selection_metric CCC, or lower --aux_weight."
        )
    has_latents = any(task != "asr" for task in tasks)
    if settings.get("fusion") and not has_latents:
        raise SettingsError(
            "--fusion True concatenates the emotion latent with the auxiliary labels' latents: add one to "
            f"--aux_tasks (the paper: [gender, style]; now {_text(tasks)}), or set --fusion False."
        )
    if settings.get("scl", "none") != "none" and not has_latents:
        raise SettingsError(
            f"--scl {settings['scl']} aligns the emotion latent with the auxiliary labels' latents: add one to "
            f"--aux_tasks (the paper: [gender, style]; now {_text(tasks)}), or set --scl none."
        )
    if settings.get("cache_cnn_features") and not settings.get("freeze_feature_encoder"):
        raise SettingsError(
            "--cache_cnn_features True needs --freeze_feature_encoder True (a training CNN changes its output): "
            "add --cache_cnn_features False."
        )


def _problem(name, value, setting, overridden, hparams_file):
    option = "--" + name if overridden else f"{name} (in {hparams_file})"
    if overridden and value is None and not setting.optional:
        return f"{option} needs a value ({setting.purpose}): {setting.expected()}."
    extra = ""
    if setting.kind == "subset" and isinstance(value, list):
        unknown = [item for item in value if item not in setting.choices]
        if unknown:
            close = {item: difflib.get_close_matches(str(item), setting.choices, n=1) for item in unknown}
            extra = " Not known: " + ", ".join(
                f"{item}" + (f" (did you mean {close[item][0]}?)" if close[item] else "") for item in unknown
            )
            extra += "."
        elif len(set(value)) != len(value):
            extra = " A task is listed twice."
    elif setting.kind == "choice" and isinstance(value, str):
        close = difflib.get_close_matches(value, setting.choices, n=1)
        extra = f" Did you mean {close[0]}?" if close else ""
    return f"{option} {_text(value)}: {setting.purpose} must be {setting.expected()}.{extra}"


def _tag(node):
    tag = getattr(node, "tag", None)
    return getattr(tag, "value", None)


def _text(value):
    if isinstance(value, list):
        return "[" + ", ".join(map(_text, value)) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_text(v)}" for k, v in value.items()) + "}"
    if value is None:
        return "null"
    if isinstance(value, str) and value == "":
        return "''"
    return str(value)


def _first_line(error):
    return str(error).strip().splitlines()[0]
