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
too short) keeps its place in the output with its error, the other files are still classified, and the exit
status is then 1 (2: the model or an input could not be used at all).

Output: a table (file, then emotion, gender and style with their probabilities and the transcript, as far as
the model has those heads; or the error), or with ``--json`` one JSON object per line and file (``file``,
``emotion``, ``emotion_probs``, ..., ``transcript``, or ``file`` and ``error``).

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import argparse
import json
import os
import sys

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
LIST_EXTENSIONS = (".txt", ".lst", ".list")
TASKS = ("emotion", "gender", "style")


class InputError(Exception):
    """An INPUT that names no audio at all (an empty folder or list, an unreadable list file)."""


def find_audio_files(inputs):
    """Expands the command-line inputs into audio file paths, in order.

    Arguments
    ---------
    inputs : list of str
        Audio files, folders (recursive) and list files. A path that does not exist is kept as an audio file,
        so that it is reported with its error beside the others.

    Returns
    -------
    list of str
    """
    files = []
    for path in inputs:
        if os.path.isdir(path):
            files.extend(_folder_audio(path))
        elif path.lower().endswith(LIST_EXTENSIONS):
            files.extend(_listed_audio(path))
        else:
            files.append(path)
    return files


def _folder_audio(folder):
    found = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        found.extend(os.path.join(root, name) for name in sorted(names) if name.lower().endswith(AUDIO_EXTENSIONS))
    if not found:
        raise InputError(f"{folder} holds no audio file ({', '.join(AUDIO_EXTENSIONS)}).")
    return found


def _listed_audio(list_file):
    try:
        with open(list_file, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read the list file {list_file} ({error}).") from error
    files = []
    for line in lines:
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        path = os.path.join(os.path.dirname(list_file), os.path.expanduser(entry))
        files.extend(_folder_audio(path) if os.path.isdir(path) else [path])
    if not files:
        raise InputError(f"the list file {list_file} names no file.")
    return files


def load_model(model_folder, device):
    """Loads an exported model folder with SpeechBrain's ``foreign_class``."""
    from speechbrain.inference.interfaces import foreign_class

    if not os.path.isfile(os.path.join(model_folder, "custom_interface.py")):
        raise InputError(
            f"--model {model_folder} is not an exported model folder (no custom_interface.py); see recipes/export.py."
        )
    return foreign_class(
        source=model_folder,
        pymodule_file="custom_interface.py",
        classname="EmotionRecognizer",
        run_opts={"device": device},
    )


def format_table(results):
    """A plain-text table, one row per file; columns for the heads the model has (gender, style, transcript)
    and the error in place of the predictions for a file that failed."""
    columns = ["emotion"] + [name for name in ("gender", "style", "transcript") if any(name in r for r in results)]
    header = ["file", *columns]
    rows = []
    for result in results:
        if "error" in result:
            rows.append([result["file"], f"ERROR: {result['error']}"])
            continue
        cells = [result["file"]]
        for name in columns:
            probability = f" {result[f'{name}_probs'][result[name]]:.2f}" if name in TASKS else ""
            cells.append(f"{result[name]}{probability}")
        rows.append(cells)
    return align_columns([header, *rows])


def align_columns(rows):
    """Plain-text rows with aligned columns, two spaces apart.

    Column widths come from the rows as long as the first; a shorter row (an error message in place of the
    predictions) runs on past the first column.

    Example
    -------
    >>> print(align_columns([["file", "emotion"], ["a.wav", "neu"], ["long_name.wav", "ERROR: empty"]]))
    file           emotion
    a.wav          neu
    long_name.wav  ERROR: empty
    """
    complete = [row for row in rows if len(row) == len(rows[0])]
    widths = [max(len(row[i]) for row in complete) for i in range(len(rows[0]) - 1)]
    widths[0] = max(len(row[0]) for row in rows)
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths)] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Emotion, gender, style (and transcript) of audio files with an exported model.",
        epilog="Exit status: 0 all files classified, 1 some file failed (reported in the output), 2 unusable "
        "model or input.",
    )
    parser.add_argument("--model", required=True, help="exported model folder (recipes/export.py)")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="audio file, folder, or list file (.txt/.lst/.list)")
    parser.add_argument("--json", action="store_true", help="one JSON object per file and line instead of a table")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda:0 (default: cpu)")
    parser.add_argument("--batch_size", type=int, default=8, help="files per forward pass (default: 8)")
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error("--batch_size must be at least 1.")
    try:
        files = find_audio_files(args.inputs)
        model = load_model(args.model, args.device)
    except InputError as error:
        print(f"classify.py: error: {error}", file=sys.stderr)
        return 2
    # A missing or unusable file gets its error in place (EmotionRecognizer.predict_files).
    results = model.predict_files(files, batch_size=args.batch_size)
    if args.json:
        for result in results:
            print(json.dumps(result, ensure_ascii=False))
    else:
        print(format_table(results))
    failed = [result for result in results if "error" in result]
    if failed:
        print(f"classify.py: {len(failed)} of {len(results)} files could not be classified.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
