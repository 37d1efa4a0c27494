#!/usr/bin/env python3
"""Exports a trained stage-1 or stage-2 model as a self-contained folder for inference.

The folder loads offline with SpeechBrain's ``foreign_class`` (or ``EmotionRecognizer.from_hparams``), from a
local path or, once uploaded, from the Hugging Face hub, without this repository, the training run or the
backbone's hub folder::

    python recipes/export.py --experiment_folder results/stage2/fold1/seed1986 --output_folder exported/fold1 \
        --repo_id your-name/ser-two-stage-fold1 [--push_to_hub]

(``--onnx`` also writes ``model.onnx``, the whole inference graph for ONNX Runtime, and ``onnx_interface.py``,
which runs it without torch; ``--quantize int8`` adds ``model.int8.onnx``: ``recipes/hub/onnx_export.py``), then (see
``recipes/classify.py``, ``recipes/timeline.py``, ``recipes/app.py``, ``recipes/upload.py``)::

    python recipes/classify.py --model exported/fold1 speech.wav

It holds ``hyperparams.yaml`` (the backbone's Hugging Face config inline, so the architecture is rebuilt
without the hub), ``custom_interface.py`` (all the inference code: ``recipes/hub/inference_bundle.py``),
``encoder.ckpt`` (the whole encoder: stage-1 weights plus adapters, one copy, LoRA folded into the q/k/v
weights unless ``--no_fold_lora``), ``heads.ckpt``, the label encoders, the CTC tokenizer (characters, or the
run's SentencePiece model with ``ctc_units: bpe``), ``test_metrics.json``
and a model card (``README.md``, ``recipes/hub/model_card.py``; its code loads from ``--repo_id``). With
``--space``, ``space/`` holds a Hugging Face Space that serves the page to try the model (``recipes/app.py``'s)
from ``--repo_id`` (``recipes/hub/space.py``). No file names a
folder of the training machine: ``test_metrics.json`` and the card have them removed, and the export checks
every file before it is done. The run is rebuilt from its ``model_config.json`` and its checkpoint of best
validation UA (``custom_modules.handoff.load_trained_run``); a stage-2 run also needs its stage-1 folder. An
existing ``--output_folder`` is replaced only if it holds an earlier export.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import argparse
import sys

from custom_modules.errors import INPUT_ERROR_EXIT, RecipeInputError
from recipes.hub.model_card import DEFAULT_LICENSE
from recipes.hub.model_folder import HUB_ID, QUANTIZATIONS, check_folders, export_model
from recipes.hub.upload_plans import UploadError, push, upload_plan


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiment_folder", required=True, help="output_folder of a finished training run")
    parser.add_argument("--output_folder", required=True, help="folder to write (an earlier export there is replaced)")
    parser.add_argument(
        "--allow_unfinished",
        action="store_true",
        help="export a run without test_metrics.json (its best checkpoint so far)",
    )
    parser.add_argument(
        "--no_fold_lora",
        dest="fold_lora",
        action="store_false",
        help="keep LoRA as separate low-rank layers (default: fold its update into the q/k/v weights, which gives "
        "the same predictions faster)",
    )
    parser.add_argument(
        "--repo_id",
        default=None,
        help="Hugging Face repository the model will be uploaded to (user/name): the model card's code loads from it",
    )
    parser.add_argument(
        "--license", default=DEFAULT_LICENSE, help=f"the model card's license (default: {DEFAULT_LICENSE})"
    )
    parser.add_argument(
        "--push_to_hub",
        action="store_true",
        help="upload the exported folder to --repo_id afterwards (recipes/upload.py; needs a Hugging Face token)",
    )
    parser.add_argument("--private", action="store_true", help="with --push_to_hub: create a private repository")
    parser.add_argument(
        "--space",
        action="store_true",
        help="also write space/: a Hugging Face Space serving the page to try the model from --repo_id "
        "(recipes/app.py's page; push it with recipes/upload.py --space_id)",
    )
    parser.add_argument(
        "--onnx",
        action="store_true",
        help="also write model.onnx (the whole inference graph, waveforms to probabilities) and onnx_interface.py, "
        "which runs it with ONNX Runtime without torch (classify.py --backend onnx)",
    )
    parser.add_argument(
        "--quantize",
        choices=QUANTIZATIONS,
        default=None,
        help="with --onnx: also write model.int8.onnx (ONNX Runtime's dynamic int8 quantization of the matrix "
        "products and convolutions; classify.py --backend onnx_int8). int8: for CPUs with VNNI (most x86 CPUs since "
        "2019); int8_unsigned: for AVX2 CPUs without it",
    )
    args = parser.parse_args(argv)
    if args.quantize and not args.onnx:
        parser.error(f"--quantize {args.quantize} quantizes the ONNX graph: add --onnx.")
    if (args.push_to_hub or args.space) and not args.repo_id:
        parser.error(f"{'--push_to_hub' if args.push_to_hub else '--space'} needs --repo_id user/name.")
    if args.repo_id and not HUB_ID.match(args.repo_id):
        parser.error(f"--repo_id {args.repo_id} is not a Hugging Face repository id (user/name).")
    try:
        check_folders(args.experiment_folder, args.output_folder, args.allow_unfinished)
        export_model(
            args.experiment_folder,
            args.output_folder,
            fold_lora=args.fold_lora,
            repo_id=args.repo_id,
            license_id=args.license,
            space=args.space,
            onnx=args.onnx,
            quantize=args.quantize,
        )
    except RecipeInputError as error:
        # ExportError, and the hand-off's messages (a run without model_config.json or checkpoints, a stage-2 run
        # whose stage-1 folder is gone) name the missing file and the fix.
        print(f"export.py: error: cannot export {args.experiment_folder}: {error}", file=sys.stderr)
        return INPUT_ERROR_EXIT
    if args.push_to_hub:
        try:
            plan = upload_plan(args.output_folder, args.repo_id, args.private)
        except UploadError as error:
            print(f"export.py: error: {error}", file=sys.stderr)
            return INPUT_ERROR_EXIT
        return push([plan], "export.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
