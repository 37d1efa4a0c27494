#!/usr/bin/env python3
"""Emotion over time in long recordings, with an exported model: a timeline (CSV) and a plot (PNG) per file.

A window of ``--window_s`` seconds slides over the recording every ``--hop_s`` seconds and each window is
classified as a clip (``EmotionRecognizer.emotion_timeline``). Only one batch of windows is read from the file
at a time, so a recording of any length fits in the same memory::

    python recipes/timeline.py --model exported/fold1 --window_s 3 --hop_s 1 --output_folder timelines \
        meeting.wav interviews/

writes ``timelines/meeting.csv`` (``start_s, end_s, emotion`` and each emotion's probability, one row per
window, written as the windows are classified) and ``timelines/meeting.png`` (the probabilities stacked over
time, and the most likely emotion underneath). This is the simple windowed form, not SpeechBrain's
emotion-diarization model: windows are classified independently, with no notion of segments or speakers, and a
window that spans a change of emotion gets a mixture. Each INPUT is an audio file, a folder or a list file, as
for ``recipes/classify.py``. A file that cannot be used is reported and the others go on (exit status 1).
``--backend onnx`` (or ``onnx_int8``) runs the folder's ONNX graph with ONNX Runtime, without torch, as
``classify.py`` does.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import argparse
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from custom_modules.constants import EMOTION_NAMES  # noqa: E402
from recipes.classify import (  # noqa: E402
    InputError,
    add_backend_options,
    add_model_and_inputs,
    check_backend_options,
    find_audio_files,
    load_model,
)

# Colours that read apart, also in grey and for the common colour-vision deficiencies (Okabe-Ito).
EMOTION_COLORS = {"neu": "#999999", "hap": "#E69F00", "ang": "#D55E00", "sad": "#0072B2"}


def write_timeline(rows, csv_path, labels):
    """Writes timeline rows (``emotion_timeline``) to a CSV file as they come; returns them as a list.

    Arguments
    ---------
    rows : iterable of dict
    csv_path : str
    labels : list of str
        The emotion labels, for the probability columns.

    Returns
    -------
    list of dict
    """
    kept = []
    with open(csv_path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["start_s", "end_s", "emotion", *(f"prob_{label}" for label in labels)])
        for row in rows:
            probs = row["emotion_probs"]
            writer.writerow(
                [f"{row['start_s']:.3f}", f"{row['end_s']:.3f}", row["emotion"]]
                + [f"{probs[label]:.4f}" for label in labels]
            )
            handle.flush()
            kept.append(row)
    return kept


def timeline_subtitle(rows, window_s, hop_s):
    """What the plot shows: the windows and their hop, or the single window of a recording shorter than one.

    Example
    -------
    >>> timeline_subtitle([{"start_s": 0.0, "end_s": 3.0}, {"start_s": 1.0, "end_s": 4.0}], 3.0, 1.0)
    'emotion over time: 3 s windows every 1 s, classified independently'
    >>> timeline_subtitle([{"start_s": 0.0, "end_s": 2.4}], 3.0, 1.0)
    'one window: the whole recording (2.4 s, shorter than the 3 s window)'
    """
    if len(rows) == 1:
        end = rows[0]["end_s"]
        if end - rows[0]["start_s"] < window_s:
            return f"one window: the whole recording ({end:g} s, shorter than the {window_s:g} s window)"
        return f"one window of {window_s:g} s: the whole recording ({end:g} s)"
    return f"emotion over time: {window_s:g} s windows every {hop_s:g} s, classified independently"


def plot_timeline(rows, png_path, title, window_s, hop_s):
    """Draws the timeline: each emotion's probability stacked over time (at window centres), and a strip of the
    most likely emotion per window.

    Arguments
    ---------
    rows : list of dict
        From ``emotion_timeline``.
    png_path : str
    title : str
    window_s, hop_s : float
    """
    labels = list(rows[0]["emotion_probs"])
    centres = [(row["start_s"] + row["end_s"]) / 2 for row in rows]
    # Each window's probabilities at its centre, the first and last held out to the recording's ends.
    times = [rows[0]["start_s"], *centres, rows[-1]["end_s"]]
    probabilities = [
        [
            rows[0]["emotion_probs"][label],
            *(row["emotion_probs"][label] for row in rows),
            rows[-1]["emotion_probs"][label],
        ]
        for label in labels
    ]
    colors = [EMOTION_COLORS.get(label, "#000000") for label in labels]
    figure, (top, strip) = plt.subplots(
        2, 1, figsize=(12, 4.5), sharex=True, gridspec_kw={"height_ratios": [5, 1], "hspace": 0.08}
    )
    names = [EMOTION_NAMES.get(label, label) for label in labels]
    top.stackplot(times, probabilities, labels=names, colors=colors)
    top.set_ylim(0, 1)
    top.set_ylabel("probability")
    top.set_title(f"{title}\n{timeline_subtitle(rows, window_s, hop_s)}")
    top.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    top.grid(axis="y", alpha=0.3)
    best = [[labels.index(row["emotion"]) for row in rows]]
    edges = [rows[0]["start_s"]] + [(a + b) / 2 for a, b in zip(centres, centres[1:])] + [rows[-1]["end_s"]]
    strip.pcolormesh(edges, [0, 1], best, cmap=ListedColormap(colors), vmin=0, vmax=len(labels) - 1)
    strip.set_yticks([0.5], ["most likely"])
    duration = rows[-1]["end_s"]
    if duration > 120:
        strip.xaxis.set_major_formatter(FuncFormatter(lambda s, _: f"{int(s // 60)}:{int(s % 60):02d}"))
        strip.set_xlabel("time (min:s)")
    else:
        strip.set_xlabel("time (s)")
    strip.set_xlim(0, duration)
    figure.savefig(png_path, dpi=120, bbox_inches="tight")
    plt.close(figure)


def output_names(files):
    """Each file's output name (its name without extension); refuses two files of the same name."""
    names = {}
    for path in files:
        name = os.path.splitext(os.path.basename(path))[0]
        if name in names:
            raise InputError(f"{names[name]} and {path} would both write {name}.csv: give them separately.")
        names[name] = path
    return {path: name for name, path in names.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Emotion over time in recordings of any length, with an exported model (CSV and PNG per file).",
        epilog="Exit status: 0 every file done, 1 some file failed, 2 unusable model or input.",
    )
    add_model_and_inputs(parser)
    parser.add_argument("--window_s", type=float, default=3.0, help="window length in seconds (default: 3)")
    parser.add_argument("--hop_s", type=float, default=1.0, help="step between windows in seconds (default: 1)")
    parser.add_argument("--batch_size", type=int, default=16, help="windows per forward pass (default: 16)")
    parser.add_argument("--output_folder", default="timelines", help="where the CSV and PNG files go")
    add_backend_options(parser)
    args = parser.parse_args(argv)
    if args.window_s <= 0 or args.hop_s <= 0 or args.batch_size < 1:
        parser.error("--window_s and --hop_s must be positive and --batch_size at least 1.")
    check_backend_options(parser, args)
    try:
        files = find_audio_files(args.inputs)
        names = output_names(files)
        model = load_model(args.model, args.device, args.backend, args.threads)
        shortest = model.min_samples / model.sample_rate
        if args.window_s < shortest:
            raise InputError(f"--window_s {args.window_s} is shorter than the model's receptive field ({shortest} s).")
    except InputError as error:
        print(f"timeline.py: error: {error}", file=sys.stderr)
        return 2
    os.makedirs(args.output_folder, exist_ok=True)
    labels = model.label_sets["emotion"]
    failed = 0
    for path in files:
        csv_path = os.path.join(args.output_folder, f"{names[path]}.csv")
        try:
            timeline = model.emotion_timeline(path, args.window_s, args.hop_s, args.batch_size)
            rows = write_timeline(timeline, csv_path, labels)
        except ValueError as error:  # AudioInputError: the file cannot be used
            failed += 1
            print(f"timeline.py: {error}", file=sys.stderr)
            if os.path.exists(csv_path):
                os.remove(csv_path)
            continue
        png_path = os.path.join(args.output_folder, f"{names[path]}.png")
        plot_timeline(rows, png_path, os.path.basename(path), args.window_s, args.hop_s)
        print(f"{path}: {len(rows)} windows -> {csv_path}, {png_path}")
    if failed:
        print(f"timeline.py: {failed} of {len(files)} files could not be used.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
