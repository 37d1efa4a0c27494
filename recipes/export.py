#!/usr/bin/env python3
"""Exports a trained stage-1 or stage-2 model as a self-contained folder for inference.

The folder (``hyperparams.yaml``, ``custom_interface.py`` with a copy of ``custom_modules/``, the encoder and
heads checkpoints, the label encoders and the CTC tokenizer, a model card) loads offline, without this
repository, the training run or the backbone's hub folder::

    python recipes/export.py --experiment_folder results/stage2/fold1/seed1986 --output_folder exported/fold1

then (see ``recipes/classify.py``)::

    python recipes/classify.py --model exported/fold1 speech.wav

Exporting reads the run's best checkpoint (validation UA) through ``custom_modules.export.export_model``; a
stage-2 run also needs its ``stage1_folder`` and both need the backbone (``wav2vec2_hub``) at export time, not
afterwards. An existing ``--output_folder`` is replaced only if it holds an earlier export.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import argparse
import os
import sys

# Files every export holds: an existing output folder without them is not overwritten.
EXPORT_MARKERS = ("hyperparams.yaml", "custom_interface.py")


class ExportError(Exception):
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiment_folder", required=True, help="output_folder of a finished training run")
    parser.add_argument(
        "--output_folder", required=True, help="folder to write (an earlier export there is replaced)"
    )
    parser.add_argument(
        "--allow_unfinished",
        action="store_true",
        help="export a run without test_metrics.json (its best checkpoint so far)",
    )
    args = parser.parse_args(argv)
    try:
        check_folders(args.experiment_folder, args.output_folder, args.allow_unfinished)
        from custom_modules.export import export_model

        try:
            export_model(args.experiment_folder, args.output_folder)
        except FileNotFoundError as error:
            # load_trained_model's messages (and Stage1Error's, a stage-2 run whose stage-1 folder is gone)
            # name the missing file and the fix.
            raise ExportError(f"cannot rebuild the trained model of {args.experiment_folder}: {error}") from error
    except ExportError as error:
        print(f"export.py: error: {error}", file=sys.stderr)
        return 1
    print(f"Exported {args.experiment_folder} to {args.output_folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
