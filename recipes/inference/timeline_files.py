"""A timeline of emotion over a long recording (``EmotionRecognizer.emotion_timeline``) as ``recipes/timeline.py``
writes it, a CSV written as the windows come and a PNG, and the checks of its windows and output names.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import csv
import os

from custom_modules.timeline_plot import timeline_figure
from recipes.inference.inputs import InputError


def write_timeline(rows, csv_path, labels, dimensions=()):
    """Writes timeline rows (``emotion_timeline``) to a CSV file as they come; returns them as a list.

    Arguments
    ---------
    rows : iterable of dict
    csv_path : str
    labels : list of str
        The emotion labels, for the probability columns.
    dimensions : list of str
        The model's dimensions (``EmotionRecognizer.dimensions``), a column each.

    Returns
    -------
    list of dict
    """
    kept = []
    with open(csv_path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["start_s", "end_s", "emotion", *(f"prob_{label}" for label in labels), *dimensions])
        for row in rows:
            probs = row["emotion_probs"]
            writer.writerow(
                [f"{row['start_s']:.3f}", f"{row['end_s']:.3f}", row["emotion"]]
                + [f"{probs[label]:.4f}" for label in labels]
                + [f"{row[dimension]:.4f}" for dimension in dimensions]
            )
            handle.flush()
            kept.append(row)
    return kept


def plot_timeline(rows, png_path, title, window_s, hop_s):
    """Saves the timeline's plot (``custom_modules.timeline_plot.timeline_figure``) as a PNG."""
    timeline_figure(rows, title, window_s, hop_s).savefig(png_path, dpi=120, bbox_inches="tight")


def check_window(model, window_s):
    """Refuses a ``--window_s`` shorter than the model's receptive field (no window could be encoded)."""
    shortest = model.min_samples / model.sample_rate
    if window_s < shortest:
        raise InputError(f"--window_s {window_s} is shorter than the model's receptive field ({shortest} s).")


def output_names(files):
    """Each file's output name (its name without extension); refuses two files of the same name."""
    names = {}
    for path in files:
        name = os.path.splitext(os.path.basename(path))[0]
        if name in names:
            raise InputError(f"{names[name]} and {path} would both write {name}.csv: give them separately.")
        names[name] = path
    return {path: name for name, path in names.items()}
