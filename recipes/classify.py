#!/usr/bin/env python3
"""Classifies audio files with an exported model: emotion, gender, speaking style and, for a model with an ASR
head, a transcript.

Each INPUT is an audio file, a folder (searched recursively for .wav, .flac, .ogg and .mp3 files) or a list
file (``.txt``, ``.lst`` or ``.list``: one audio file or folder per line; lines starting with ``#`` are
comments; relative paths are relative to the list file's folder)::

    python recipes/export.py --experiment_folder results/stage2/fold1/seed1986 --output_folder exported/fold1
    python recipes/classify.py --model exported/fold1 speech.wav recordings/ more_files.txt
    python recipes/classify.py --model exported/fold1 --json --device cuda:0 --batch_size 16 recordings/

The model is loaded as SpeechBrain loads its hub interfaces (``foreign_class`` with the folder's
``custom_interface.py``), so only the exported folder is needed, not this repository. Any sample rate and
channel count is accepted (resampled, averaged to mono). A file that cannot be classified (unreadable, empty,
too short, longer than ``--max_batch_seconds``) keeps its place in the output with its error, the other files
are still classified, and the exit status is then 1 (2: the model or an input could not be used at all).

Thousands of files stream through ``EmotionRecognizer.iter_predictions``: each file is read when its batch
runs, batches are formed by duration under a cap on padded seconds (``--max_batch_seconds``, at most
``--batch_size`` files), a progress bar runs on stderr, and results are written in input order as they come,
so memory stays bounded whatever the number of files::

    python recipes/classify.py --model exported/fold1 --output_csv results.csv --output_jsonl results.jsonl \
        --device cuda:0 --batch_size 32 --max_batch_seconds 120 corpus/

``--backend onnx`` (``onnx_int8``) runs the folder's ``model.onnx`` (``model.int8.onnx``) with ONNX Runtime
through its ``onnx_interface.py``, without importing torch, torchaudio, SpeechBrain or transformers (export with
``recipes/export.py --onnx [--quantize int8]``); the outputs are the same. A run over many files that was
interrupted (Ctrl-C, killed) goes on with ``--resume`` and the same output files: the files that have their row
are kept, the others classified, and each file ends with exactly one row (a line cut short is dropped)::

    python recipes/classify.py --model exported/fold1 --backend onnx_int8 --quiet --output_csv results.csv corpus/
    python recipes/classify.py --model exported/fold1 --backend onnx_int8 --quiet --output_csv results.csv \
        --resume corpus/

Output: a table on stdout (file, then emotion, gender and style with their probabilities and the transcript, as
far as the model has those heads; or the error), or with ``--json`` one JSON object per line and file
(``file``, ``emotion``, ``emotion_probs``, ..., ``transcript``, or ``file`` and ``error``). ``--output_csv``
writes one row per file (each label's probability in its own column, ``error`` for a failed file) and
``--output_jsonl`` the JSON lines, beside or instead of stdout (``--quiet``). For emotion over time in long
recordings, see ``recipes/timeline.py``.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import argparse
import sys

from recipes.inference.backends import add_backend_options, check_backend_options, load_model
from recipes.inference.inputs import InputError, add_model_and_inputs, check_output_file, find_audio_files
from recipes.inference.result_files import ResultWriters, csv_fields, finished_rows


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Emotion, the auxiliary labels (IEMOCAP: gender, style) and transcript of audio files with an "
        "exported model.",
        epilog="Exit status: 0 all files classified, 1 some file failed (reported in the output), 2 unusable "
        "model or input.",
    )
    add_model_and_inputs(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per file and line instead of a table")
    parser.add_argument("--quiet", action="store_true", help="nothing on stdout (use with --output_csv/--output_jsonl)")
    parser.add_argument("--output_csv", default=None, help="also write one CSV row per file here")
    parser.add_argument("--output_jsonl", default=None, help="also write one JSON line per file here")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="go on with an interrupted run of the same command: keep the rows its --output_csv/--output_jsonl "
        "hold and classify only the files without one (each file ends with exactly one row)",
    )
    add_backend_options(parser)
    parser.add_argument("--batch_size", type=int, default=16, help="at most this many files per batch (default: 16)")
    parser.add_argument(
        "--max_batch_seconds",
        type=float,
        default=60.0,
        help="at most this many seconds of padded audio per batch; a longer file is reported as an error (default: 60)",
    )
    parser.add_argument(
        "--progress",
        choices=("auto", "on", "off"),
        default="auto",
        help="progress bar on stderr (auto: when stderr is a terminal)",
    )
    args = parser.parse_args(argv)
    if args.batch_size < 1 or args.max_batch_seconds <= 0:
        parser.error("--batch_size must be at least 1 and --max_batch_seconds positive.")
    if args.resume and not (args.output_csv or args.output_jsonl):
        parser.error("--resume goes on from the rows of --output_csv or --output_jsonl: give the run's output files.")
    check_backend_options(parser, args)
    progress = sys.stderr.isatty() if args.progress == "auto" else args.progress == "on"
    try:
        check_output_file(args.output_csv, "--output_csv")
        check_output_file(args.output_jsonl, "--output_jsonl")
        files = find_audio_files(args.inputs)
        model = load_model(args.model, args.device, args.backend, args.threads)
        finished = {}
        if args.resume:
            fields = csv_fields(model.label_sets, model.has_transcript, getattr(model, "dimensions", []))
            finished = finished_rows(args.output_csv, args.output_jsonl, fields)
    except InputError as error:
        print(f"classify.py: error: {error}", file=sys.stderr)
        return 2
    if args.resume:
        outputs = " and ".join(path for path in (args.output_csv, args.output_jsonl) if path)
        left = [path for path in files if str(path) not in finished]
        print(
            f"classify.py: resuming: {len(files) - len(left)} of {len(files)} files already have their row in "
            f"{outputs}; classifying the other {len(left)}.",
            file=sys.stderr,
        )
        files = left
    stdout = None if args.quiet else "json" if args.json else "table"
    # A model exported before the dimension tasks has no dimensions.
    dimensions = getattr(model, "dimensions", [])
    writers = ResultWriters(
        files,
        model.label_sets,
        model.has_transcript,
        stdout,
        args.output_csv,
        args.output_jsonl,
        dimensions,
        append=args.resume,
    )
    failed = sum(finished.values())
    try:
        # A missing or unusable file gets its error in place (iter_predictions).
        predictions = model.iter_predictions(
            files, batch_size=args.batch_size, max_batch_seconds=args.max_batch_seconds, progress=progress
        )
        for result in predictions:
            writers.write(result)
            failed += "error" in result
    finally:
        writers.close()
    if failed:
        total = len(files) + len(finished)
        print(f"classify.py: {failed} of {total} files could not be classified.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
