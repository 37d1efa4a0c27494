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
import csv
import json
import os
import sys

from tqdm.auto import tqdm

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
LIST_EXTENSIONS = (".txt", ".lst", ".list")


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
    model = foreign_class(
        source=model_folder,
        pymodule_file="custom_interface.py",
        classname="EmotionRecognizer",
        run_opts={"device": device},
    )
    model.too_long_fix = "follow it through time with recipes/timeline.py, or raise --max_batch_seconds"
    return model


def format_table(results):
    """A plain-text table, one row per file; columns for the heads the model has (emotion, its auxiliary labels,
    its dimensions, transcript) and the error in place of the predictions for a file that failed."""
    columns = list(dict.fromkeys(key[: -len("_probs")] for r in results for key in r if key.endswith("_probs")))
    columns += list(dict.fromkeys(key for r in results for key, value in r.items() if isinstance(value, float)))
    columns += ["transcript"] if any("transcript" in r for r in results) else []
    return align_columns([["file", *columns], *(table_cells(result, columns) for result in results)])


def table_cells(result, columns):
    """The table cells of one result: the file, then each column's label and probability (or the error)."""
    if "error" in result:
        return [result["file"], f"ERROR: {result['error']}"]
    cells = [result["file"]]
    for name in columns:
        if isinstance(result[name], float):  # a dimension (arousal ...), on its annotation's scale
            cells.append(f"{result[name]:.2f}")
            continue
        probability = f" {result[f'{name}_probs'][result[name]]:.2f}" if f"{name}_probs" in result else ""
        cells.append(f"{result[name]}{probability}")
    return cells


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
    return "\n".join(join_cells(row, widths) for row in rows)


def join_cells(row, widths):
    """One table line: each cell but the last padded to its column's width."""
    return "  ".join([cell.ljust(width) for cell, width in zip(row[:-1], widths)] + [row[-1]]).rstrip()


class ResultWriters:
    """Writes each result as it comes to the chosen outputs (stdout table or JSON lines, CSV, JSON lines file),
    flushed per result: an interrupted run keeps what it finished.

    The table's column widths are known before the first result: the longest file name, and for each
    prediction its longest label plus the probability.

    Arguments
    ---------
    files : list of str
        Every file to classify (for the table's first column).
    label_sets : dict
        Prediction name -> labels (``EmotionRecognizer.label_sets``).
    has_transcript : bool
    dimensions : list of str
        The dimensions the model predicts (``EmotionRecognizer.dimensions``): a number each.
    stdout : str or None
        ``table``, ``json`` or None (nothing on stdout).
    csv_path, jsonl_path : str or None
    """

    def __init__(
        self, files, label_sets, has_transcript, stdout="table", csv_path=None, jsonl_path=None, dimensions=()
    ):
        self.columns = [*label_sets, *dimensions, *(["transcript"] if has_transcript else [])]
        self.stdout = stdout
        self.widths = [max([len("file"), *map(len, files)])]
        self.widths += [max(len(name), max(map(len, label_sets[name])) + 5) for name in label_sets]
        self.widths += [max(len(name), 5) for name in dimensions]
        self.handles = []
        self.csv = self.jsonl = None
        if csv_path:
            handle = open(csv_path, "w", encoding="utf-8", newline="")
            self.handles.append(handle)
            fields = ["file"]
            for name, labels in label_sets.items():
                fields += [name, f"{name}_prob", *(f"{name}_prob_{label}" for label in labels)]
            fields += [*dimensions, *["transcript"] * has_transcript, "error"]
            self.csv = (csv.DictWriter(handle, fieldnames=fields), handle)
            self.csv[0].writeheader()
        if jsonl_path:
            self.jsonl = open(jsonl_path, "w", encoding="utf-8")
            self.handles.append(self.jsonl)
        if stdout == "table":
            self._print(join_cells(["file", *self.columns], self.widths))

    def write(self, result):
        """Writes one ``predict_batch``-style result (or ``file`` and ``error``) everywhere."""
        line = json.dumps(result, ensure_ascii=False)
        if self.stdout == "json":
            self._print(line)
        elif self.stdout == "table":
            self._print(join_cells(table_cells(result, self.columns), self.widths))
        if self.jsonl:
            self.jsonl.write(line + "\n")
            self.jsonl.flush()
        if self.csv:
            writer, handle = self.csv
            writer.writerow(csv_row(result))
            handle.flush()

    def close(self):
        """Closes the files."""
        for handle in self.handles:
            handle.close()

    @staticmethod
    def _print(line):
        # Above the progress bar, if one is running.
        tqdm.write(line, file=sys.stdout)
        sys.stdout.flush()


def csv_row(result):
    """A result as a flat CSV row: each prediction, its probability and every label's probability.

    Example
    -------
    >>> csv_row({"file": "a.wav", "emotion": "sad", "emotion_probs": {"neu": 0.25, "sad": 0.75}})
    {'file': 'a.wav', 'emotion': 'sad', 'emotion_prob': 0.75, 'emotion_prob_neu': 0.25, 'emotion_prob_sad': 0.75}
    """
    row = {}
    for key, value in result.items():
        if key.endswith("_probs"):
            name = key[: -len("_probs")]
            row[f"{name}_prob"] = value[result[name]]
            row.update({f"{name}_prob_{label}": p for label, p in value.items()})
        else:
            row[key] = value
    return row


def check_output_file(path, option):
    """Refuses, before the model is loaded, an output path that is a folder or whose folder cannot be made."""
    if path is None:
        return
    if os.path.isdir(path):
        raise InputError(f"{option} {path} is a folder; give a file name.")
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise InputError(f"cannot create the folder of {option} {path} ({error}).") from error


def add_model_and_inputs(parser):
    """The two arguments every program on an exported model takes: ``--model`` and the audio inputs
    (``find_audio_files``)."""
    parser.add_argument("--model", required=True, help="exported model folder (recipes/export.py)")
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="audio file, folder, or list file (.txt/.lst/.list: one file or folder per line, # for comments; "
        "relative paths in a list file are read from the list file's folder)",
    )


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
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda:0 (default: cpu)")
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
    progress = sys.stderr.isatty() if args.progress == "auto" else args.progress == "on"
    try:
        check_output_file(args.output_csv, "--output_csv")
        check_output_file(args.output_jsonl, "--output_jsonl")
        files = find_audio_files(args.inputs)
        model = load_model(args.model, args.device)
    except InputError as error:
        print(f"classify.py: error: {error}", file=sys.stderr)
        return 2
    stdout = None if args.quiet else "json" if args.json else "table"
    # A model exported before the dimension tasks has no dimensions.
    dimensions = getattr(model, "dimensions", [])
    writers = ResultWriters(
        files, model.label_sets, model.has_transcript, stdout, args.output_csv, args.output_jsonl, dimensions
    )
    failed = 0
    try:
        # A missing or unusable file gets its error in place (EmotionRecognizer.iter_predictions).
        predictions = model.iter_predictions(
            files, batch_size=args.batch_size, max_batch_seconds=args.max_batch_seconds, progress=progress
        )
        for result in predictions:
            writers.write(result)
            failed += "error" in result
    finally:
        writers.close()
    if failed:
        print(f"classify.py: {failed} of {len(files)} files could not be classified.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
