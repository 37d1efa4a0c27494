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
import csv
import hashlib
import importlib.util
import io
import json
import os
import sys

from tqdm.auto import tqdm

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
# --backend: SpeechBrain's foreign_class on the folder's custom_interface.py, or its onnx_interface.py (ONNX
# Runtime, no torch) on model.onnx or model.int8.onnx.
BACKENDS = {"pytorch": None, "onnx": "fp32", "onnx_int8": "int8"}
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


def load_model(model_folder, device="cpu", backend="pytorch", threads=None):
    """Loads an exported model folder: with SpeechBrain's ``foreign_class`` (``pytorch``), or with its own
    ``onnx_interface.py`` (``onnx``, ``onnx_int8``), which imports neither torch nor SpeechBrain.

    Arguments
    ---------
    model_folder : str
    device : str
        A torch device (the ONNX backends run on the CPU).
    backend : str
        One of ``BACKENDS``.
    threads : int, optional
        Intra-op threads (torch's or ONNX Runtime's; default: theirs).
    """
    marker = "custom_interface.py" if backend == "pytorch" else "onnx_interface.py"
    if not os.path.isfile(os.path.join(model_folder, marker)):
        how = "recipes/export.py" if backend == "pytorch" else "recipes/export.py --onnx"
        raise InputError(f"--model {model_folder} has no {marker}: export it with {how}.")
    if backend == "pytorch":
        import torch
        from speechbrain.inference.interfaces import foreign_class

        if threads:
            torch.set_num_threads(threads)
        model = foreign_class(
            source=model_folder,
            pymodule_file="custom_interface.py",
            classname="EmotionRecognizer",
            run_opts={"device": device},
        )
    else:
        interface = import_onnx_interface(os.path.join(model_folder, marker))
        try:
            model = interface.OnnxEmotionRecognizer(model_folder, precision=BACKENDS[backend], threads=threads)
        except FileNotFoundError as error:
            raise InputError(str(error)) from error
    model.too_long_fix = "follow it through time with recipes/timeline.py, or raise --max_batch_seconds"
    return model


def import_onnx_interface(path):
    """Runs an exported folder's ``onnx_interface.py`` as a module of its own (named after its path, so that
    two folders never share one)."""
    name = "onnx_interface_" + hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:16]
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def add_backend_options(parser):
    """``--backend``, ``--device`` and ``--threads``, which every program on an exported model takes."""
    parser.add_argument(
        "--backend",
        choices=sorted(BACKENDS),
        default="pytorch",
        help="pytorch: the folder's PyTorch model (SpeechBrain); onnx / onnx_int8: its model.onnx / model.int8.onnx "
        "with ONNX Runtime, without torch (recipes/export.py --onnx [--quantize int8]) (default: pytorch)",
    )
    parser.add_argument(
        "--device", default="cpu", help="torch device, e.g. cpu or cuda:0 (default: cpu; the ONNX backends: cpu)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="intra-op threads of torch or ONNX Runtime (default: theirs)"
    )


def check_backend_options(parser, args):
    """Refuses, before the model is loaded, a thread count below 1 and a device the chosen backend cannot use."""
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}.")
    if args.backend != "pytorch" and args.device != "cpu":
        parser.error(f"--backend {args.backend} runs on the CPU (ONNX Runtime's CPU provider): leave out --device.")


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
    flushed per result: an interrupted run keeps what it finished, and ``--resume`` goes on from there.

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
    append : bool
        Add to the files (their rows are those of ``finished_rows``) instead of replacing them.
    """

    def __init__(
        self,
        files,
        label_sets,
        has_transcript,
        stdout="table",
        csv_path=None,
        jsonl_path=None,
        dimensions=(),
        append=False,
    ):
        self.columns = [*label_sets, *dimensions, *(["transcript"] if has_transcript else [])]
        self.stdout = stdout
        self.widths = [max([len("file"), *map(len, files)])]
        self.widths += [max(len(name), max(map(len, label_sets[name])) + 5) for name in label_sets]
        self.widths += [max(len(name), 5) for name in dimensions]
        self.handles = []
        self.csv = self.jsonl = None
        mode = "a" if append else "w"
        if csv_path:
            handle = open(csv_path, mode, encoding="utf-8", newline="")
            self.handles.append(handle)
            self.csv = (csv.DictWriter(handle, fieldnames=csv_fields(label_sets, has_transcript, dimensions)), handle)
            if handle.tell() == 0:
                self.csv[0].writeheader()
        if jsonl_path:
            self.jsonl = open(jsonl_path, mode, encoding="utf-8")
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


def csv_fields(label_sets, has_transcript, dimensions=()):
    """The CSV columns: file, each prediction with its probability and every label's, each dimension,
    transcript, error.

    Example
    -------
    >>> csv_fields({"emotion": ["neu", "sad"]}, has_transcript=False, dimensions=["arousal"])
    ['file', 'emotion', 'emotion_prob', 'emotion_prob_neu', 'emotion_prob_sad', 'arousal', 'error']
    """
    fields = ["file"]
    for name, labels in label_sets.items():
        fields += [name, f"{name}_prob", *(f"{name}_prob_{label}" for label in labels)]
    return fields + list(dimensions) + ["transcript"] * has_transcript + ["error"]


def finished_rows(csv_path, jsonl_path, fields):
    """What an earlier run of the same command left in its output files, for ``--resume``: the files that have a
    row in every output, and each output rewritten with exactly those rows, one per file.

    A run stopped at any point (Ctrl-C, killed) leaves whole rows (each is flushed as written), except possibly
    a last line cut short, and a file whose row reached one output but not yet the other. Both are dropped here,
    so that file is classified again.

    Arguments
    ---------
    csv_path, jsonl_path : str or None
        The outputs (a missing file has no rows).
    fields : list of str
        The CSV columns this model writes (``csv_fields``): a CSV with others was written by another model.

    Returns
    -------
    dict
        File -> whether its row is an error, in the outputs' order.
    """
    rows = {}
    if csv_path:
        text = _whole_lines(csv_path)
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if text and reader.fieldnames != fields:
            raise InputError(
                f"--output_csv {csv_path} has other columns than this model writes: it holds another model's "
                "results. Choose another file, or leave out --resume to replace it."
            )
        rows["csv"] = {}
        for row in reader:
            if None not in row and None not in row.values():  # a row of the header's width
                rows["csv"].setdefault(row["file"], row)
    if jsonl_path:
        rows["jsonl"] = {}
        for line in _whole_lines(jsonl_path).splitlines(keepends=True):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            rows["jsonl"].setdefault(record["file"], line)
    kept = [name for name in next(iter(rows.values())) if all(name in found for found in rows.values())]
    if csv_path:
        with _replaced(csv_path) as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows["csv"][name] for name in kept)
    if jsonl_path:
        with _replaced(jsonl_path) as handle:
            handle.writelines(rows["jsonl"][name] for name in kept)
    if "csv" in rows:
        return {name: bool(rows["csv"][name]["error"]) for name in kept}
    return {name: "error" in json.loads(rows["jsonl"][name]) for name in kept}


def _whole_lines(path):
    """A text file's content up to its last line break (a line cut short by a kill is left out); "" if absent."""
    if not os.path.isfile(path):
        return ""
    with open(path, encoding="utf-8", newline="") as handle:
        text = handle.read()
    return text[: text.rfind("\n") + 1]


class _replaced:
    """A file rewritten whole or not at all: written beside it, then moved over it."""

    def __init__(self, path):
        self.path, self.temporary = path, f"{path}.resume-{os.getpid()}"

    def __enter__(self):
        self.handle = open(self.temporary, "w", encoding="utf-8", newline="")
        return self.handle

    def __exit__(self, kind, error, traceback):
        self.handle.close()
        if kind is None:
            os.replace(self.temporary, self.path)
        else:
            os.remove(self.temporary)
        return False


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
