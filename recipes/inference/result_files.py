"""Each file's result as it comes: a table or JSON lines on stdout, a CSV row and a JSON line in files, flushed per
result so that an interrupted run keeps what it finished, and read back by ``--resume`` (``finished_rows``).

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import csv
import io
import json
import os
import sys

from tqdm.auto import tqdm

from recipes.inference.inputs import InputError


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
