"""Export of a trained stage-1 or stage-2 model as a self-contained folder for ``EmotionRecognizer``.

The folder holds everything inference needs and nothing from the training run: ``hyperparams.yaml`` (with
the backbone's Hugging Face config inline, so the architecture is rebuilt without the hub),
``custom_interface.py`` and a copy of ``custom_modules/``, ``encoder.ckpt`` (the whole encoder: stage-1
weights plus adapters, one copy), ``heads.ckpt``, the label encoders and the CTC tokenizer.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import json
import os
import shutil

import torch
import yaml
from hyperpyyaml import load_hyperpyyaml

from speechbrain.utils.logger import get_logger

from custom_modules.encoder import receptive_field
from custom_modules.vocabulary import TASK_LABELS

logger = get_logger(__name__)

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

CUSTOM_INTERFACE = '''"""Entry point for SpeechBrain's foreign_class: the model code ships in custom_modules/ beside this file."""

import os
import sys

# This folder first, so the custom_modules shipped with the model are the ones imported.
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

from custom_modules.interface import AudioInputError, EmotionRecognizer  # noqa: E402,F401
'''

HYPERPARAMS = """# Speech emotion recognition model exported by recipes/export.py (two-stage adapters recipe).
# Load with custom_interface.EmotionRecognizer. This file and custom_interface.py are code: load model
# folders only from sources you trust.

sample_rate: 16000
min_samples: {min_samples}   # the CNN's receptive field: shorter audio cannot be encoded
audio_normalizer: !new:speechbrain.dataio.preprocess.AudioNormalizer
    sample_rate: !ref <sample_rate>

# The backbone's architecture (its weights are in encoder.ckpt).
{ssl_config}
{preprocessor_config}
wav2vec2: !apply:custom_modules.encoder.ssl_lobe_from_config
    hf_config: !ref <ssl_config>
    preprocessor_config: !ref <preprocessor_config>

encoder: !new:custom_modules.encoder.SSLEncoder
    ssl_model: !ref <wav2vec2>
{encoder_settings}
heads: !new:custom_modules.heads.MultiTaskHeads
{heads_settings}
label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder
gender_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder
style_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder
tokenizer: !new:speechbrain.dataio.encoder.CTCTextEncoder

modules:
    encoder: !ref <encoder>
    heads: !ref <heads>

pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        encoder: !ref <encoder>
        heads: !ref <heads>
        label_encoder: !ref <label_encoder>
        gender_encoder: !ref <gender_encoder>
        style_encoder: !ref <style_encoder>
        tokenizer: !ref <tokenizer>
"""


def load_trained_model(experiment_folder, overrides=None):
    """Rebuilds the model of a finished train_stage1.py / train_stage2.py run with its best checkpoint.

    Arguments
    ---------
    experiment_folder : str
        The run's ``output_folder``.
    overrides : dict
        Optional overrides of the run's hyperparameters.

    Returns
    -------
    dict
        The run's hyperparameters, with ``encoder`` and ``heads`` holding the checkpoint of best validation UA.
    """
    from custom_modules.experiment import load_stage1_encoder

    hparams_file = os.path.join(experiment_folder, "hyperparams.yaml")
    if not os.path.isfile(hparams_file):
        raise FileNotFoundError(f"{experiment_folder} has no hyperparams.yaml: it is not the output folder of a training run.")
    with open(hparams_file, encoding="utf-8") as handle:
        hparams = load_hyperpyyaml(handle, overrides or {})
    if "stage1_folder" in hparams:
        # Stage-2 checkpoints hold only what trained: the frozen encoder comes from stage 1 first.
        load_stage1_encoder(hparams)
        hparams["encoder"].insert_adapters()
    checkpoint = hparams["checkpointer"].recover_if_possible(max_key="UA")
    if checkpoint is None:
        raise FileNotFoundError(f"{experiment_folder} holds no checkpoint with a validation UA: train it first.")
    hparams["encoder"].eval()
    hparams["heads"].eval()
    return hparams


def export_model(experiment_folder, export_folder):
    """Writes the self-contained inference folder of a training run.

    Arguments
    ---------
    experiment_folder : str
        The ``output_folder`` of a finished train_stage1.py or train_stage2.py run.
    export_folder : str
        Folder to create (its previous content is replaced).

    Returns
    -------
    str
        ``export_folder``.
    """
    hparams = load_trained_model(experiment_folder)
    encoder, heads, lobe = hparams["encoder"], hparams["heads"], hparams["wav2vec2"]
    if os.path.isdir(export_folder):
        shutil.rmtree(export_folder)
    os.makedirs(export_folder)

    torch.save(encoder.state_dict(), os.path.join(export_folder, "encoder.ckpt"))
    torch.save(heads.state_dict(), os.path.join(export_folder, "heads.ckpt"))
    save_folder = hparams["save_folder"]
    for task, name in (("emo", "label_encoder"), ("gender", "gender_encoder"), ("style", "style_encoder")):
        shutil.copy(os.path.join(save_folder, f"label_encoder_{task}.txt"), os.path.join(export_folder, f"{name}.ckpt"))
    shutil.copy(os.path.join(save_folder, "tokenizer.txt"), os.path.join(export_folder, "tokenizer.ckpt"))

    encoder_settings = {
        "finetune": encoder.finetune,
        "lora_targets": hparams["lora_targets"],
        "lora_rank": hparams["lora_rank"],
        "lora_alpha": hparams["lora_alpha"],
        "bottleneck_targets": hparams["bottleneck_targets"],
        "bottleneck_dim": hparams["bottleneck_dim"],
    }
    heads_settings = {
        "input_size": hparams["encoder_dim"],
        "n_classes": {task: len(labels) for task, labels in TASK_LABELS.items()},
        "aux_tasks": list(hparams["aux_tasks"]),
        "task_adapters": hparams["task_adapters"],
        "task_adapter_dim": hparams["bottleneck_dim"],
        "fusion": hparams["fusion"],
        "ctc_vocab_size": heads.ctc_lin.w.out_features if heads.ctc_lin is not None else None,
    }
    text = HYPERPARAMS.format(
        min_samples=receptive_field(lobe),
        ssl_config=_yaml_block({"ssl_config": lobe.model.config.to_dict()}),
        preprocessor_config=_yaml_block({"preprocessor_config": lobe.feature_extractor.to_dict()}),
        encoder_settings=_yaml_block(encoder_settings, indent=4),
        heads_settings=_yaml_block(heads_settings, indent=4),
    )
    with open(os.path.join(export_folder, "hyperparams.yaml"), "w", encoding="utf-8") as handle:
        handle.write(text)
    with open(os.path.join(export_folder, "custom_interface.py"), "w", encoding="utf-8") as handle:
        handle.write(CUSTOM_INTERFACE)
    shutil.copytree(PACKAGE_DIR, os.path.join(export_folder, "custom_modules"), ignore=shutil.ignore_patterns("__pycache__"))
    _write_model_card(experiment_folder, export_folder, hparams)
    logger.info("Exported %s to %s", experiment_folder, export_folder)
    return export_folder


def _yaml_block(mapping, indent=0):
    text = yaml.safe_dump(json.loads(json.dumps(mapping)), default_flow_style=False, sort_keys=False)
    return "".join(" " * indent + line + "\n" for line in text.splitlines())


def _write_model_card(experiment_folder, export_folder, hparams):
    metrics_path = os.path.join(experiment_folder, "test_metrics.json")
    metrics = {}
    if os.path.isfile(metrics_path):
        shutil.copy(metrics_path, os.path.join(export_folder, "test_metrics.json"))
        with open(metrics_path, encoding="utf-8") as handle:
            metrics = json.load(handle)
    lines = [
        "# Speech emotion recognition (two-stage adapters recipe)",
        "",
        f"Exported from `{os.path.abspath(experiment_folder)}`; backbone `{hparams['wav2vec2_hub']}`,",
        f"finetune `{hparams['finetune']}`, auxiliary tasks {list(hparams['aux_tasks'])}, fusion {hparams['fusion']}, SCL `{hparams['scl']}`.",
        "",
    ]
    if metrics:
        lines.append(
            f"Test session {metrics.get('test_session')}: UA {metrics['UA']:.2f}, WA {metrics['WA']:.2f}"
            + (f", WER {metrics['WER']:.2f}" if "WER" in metrics else "")
            + f" (checkpoint of epoch {metrics.get('epoch')})."
        )
    lines += [
        "",
        "```python",
        "from speechbrain.inference.interfaces import foreign_class",
        'model = foreign_class(source="<this folder>", pymodule_file="custom_interface.py", classname="EmotionRecognizer")',
        'out_prob, score, index, text_lab = model.classify_file("speech.wav")',
        "```",
        "",
        "`hyperparams.yaml` and `custom_interface.py` are code: load model folders only from sources you trust.",
    ]
    with open(os.path.join(export_folder, "README.md"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
