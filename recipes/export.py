#!/usr/bin/env python3
"""Exports a trained stage-1 or stage-2 model as a self-contained folder for inference.

The folder loads offline with SpeechBrain's ``foreign_class`` (or ``EmotionRecognizer.from_hparams``), from a
local path or, once uploaded, from the Hugging Face hub, without this repository, the training run or the
backbone's hub folder::

    python recipes/export.py --experiment_folder results/stage2/fold1/seed1986 --output_folder exported/fold1

then (see ``recipes/classify.py``)::

    python recipes/classify.py --model exported/fold1 speech.wav

It holds ``hyperparams.yaml`` (the backbone's Hugging Face config inline, so the architecture is rebuilt
without the hub), ``custom_interface.py`` (all the inference code: ``recipes/inference_bundle.py``),
``encoder.ckpt`` (the whole encoder: stage-1 weights plus adapters, one copy), ``heads.ckpt``, the label
encoders, the CTC tokenizer, ``test_metrics.json`` and a model card (``README.md``). The run is rebuilt from its
``model_config.json`` and its checkpoint of best validation UA (``custom_modules.handoff.load_trained_run``); a
stage-2 run also needs its stage-1 folder. An existing ``--output_folder`` is replaced only if it holds an
earlier export.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import argparse
import json
import os
import shutil
import sys

import torch
import yaml

from custom_modules.constants import SAMPLE_RATE
from custom_modules.encoder import receptive_field
from custom_modules.errors import RecipeInputError
from custom_modules.handoff import load_trained_run
from recipes.inference_bundle import write_custom_interface

# Files every export holds: an existing output folder without them is not overwritten.
EXPORT_MARKERS = ("hyperparams.yaml", "custom_interface.py")
# The label encoders and tokenizer a run saves, and their names in the export (the yaml's loadables).
TEXT_ENCODERS = {
    "label_encoder_emo.txt": "label_encoder",
    "label_encoder_gender.txt": "gender_encoder",
    "label_encoder_style.txt": "style_encoder",
    "tokenizer.txt": "tokenizer",
}

HYPERPARAMS = """# Speech emotion recognition model exported by recipes/export.py (two-stage adapters recipe).
# Load it with custom_interface.EmotionRecognizer (foreign_class runs custom_interface.py, whose package
# {package} provides the classes below). This file and custom_interface.py are code: load model folders only
# from sources you trust.

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
    encoder, heads, config = load_trained_run(experiment_folder)
    if os.path.isdir(export_folder):
        shutil.rmtree(export_folder)
    os.makedirs(export_folder)

    torch.save(encoder.state_dict(), os.path.join(export_folder, "encoder.ckpt"))
    torch.save(heads.state_dict(), os.path.join(export_folder, "heads.ckpt"))
    for saved, name in TEXT_ENCODERS.items():
        shutil.copy(os.path.join(experiment_folder, "save", saved), os.path.join(export_folder, f"{name}.ckpt"))
    package = write_custom_interface(os.path.join(export_folder, "custom_interface.py"))
    backbone = config["backbone"]
    text = HYPERPARAMS.format(
        package=package,
        sample_rate=SAMPLE_RATE,
        min_samples=receptive_field(encoder.adapted_model),
        ssl_config=_yaml_block({"ssl_config": _without_local_paths(backbone["hf_config"])}),
        preprocessor_config=_yaml_block({"preprocessor_config": backbone["preprocessor_config"]}),
        encoder_settings=_yaml_block(config["encoder"], indent=4),
        heads_settings=_yaml_block(config["heads"], indent=4),
    )
    with open(os.path.join(export_folder, "hyperparams.yaml"), "w", encoding="utf-8") as handle:
        handle.write(text)
    _write_model_card(experiment_folder, export_folder, config)
    print(f"Exported {experiment_folder} to {export_folder}")
    return export_folder


def _without_local_paths(hf_config):
    """The Hugging Face config without ``_name_or_path`` (a folder of the training machine, or a hub id that the
    rebuilt architecture does not need)."""
    return {key: value for key, value in hf_config.items() if key != "_name_or_path"}


def _yaml_block(mapping, indent=0):
    text = yaml.safe_dump(json.loads(json.dumps(mapping)), default_flow_style=False, sort_keys=False)
    return "".join(" " * indent + line + "\n" for line in text.splitlines())


def _write_model_card(experiment_folder, export_folder, config):
    metrics_path = os.path.join(experiment_folder, "test_metrics.json")
    metrics = {}
    if os.path.isfile(metrics_path):
        with open(metrics_path, encoding="utf-8") as handle:
            metrics = json.load(handle)
        with open(os.path.join(export_folder, "test_metrics.json"), "w", encoding="utf-8") as handle:
            json.dump(metrics, handle, indent=2)
    settings = metrics.get("settings", {})
    lines = [
        "# Speech emotion recognition (two-stage adapters recipe)",
        "",
        f"Backbone `{config['backbone']['source']}`, finetune `{config['encoder']['finetune']}`, auxiliary tasks "
        f"{config['heads']['aux_tasks']}, fusion {config['heads']['fusion']}, SCL `{settings.get('scl') or 'none'}`.",
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
        'model = foreign_class(source="<this folder>", pymodule_file="custom_interface.py",',
        '                      classname="EmotionRecognizer")',
        'out_prob, score, index, text_lab = model.classify_file("speech.wav")',
        "```",
        "",
        "`hyperparams.yaml` and `custom_interface.py` are code: load model folders only from sources you trust.",
    ]
    with open(os.path.join(export_folder, "README.md"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiment_folder", required=True, help="output_folder of a finished training run")
    parser.add_argument("--output_folder", required=True, help="folder to write (an earlier export there is replaced)")
    parser.add_argument(
        "--allow_unfinished",
        action="store_true",
        help="export a run without test_metrics.json (its best checkpoint so far)",
    )
    args = parser.parse_args(argv)
    try:
        check_folders(args.experiment_folder, args.output_folder, args.allow_unfinished)
        export_model(args.experiment_folder, args.output_folder)
    except RecipeInputError as error:
        # ExportError, and the hand-off's messages (a run without model_config.json or checkpoints, a stage-2 run
        # whose stage-1 folder is gone) name the missing file and the fix.
        print(f"export.py: error: cannot export {args.experiment_folder}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
