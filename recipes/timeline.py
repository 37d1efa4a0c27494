#!/usr/bin/env python3
"""Emotion over time in long recordings, with an exported model: a timeline (CSV) and a plot (PNG) per file.

A window of ``--window_s`` seconds slides over the recording every ``--hop_s`` seconds and each window is
classified as a clip (``EmotionRecognizer.emotion_timeline``). Only one batch of windows is read from the file
at a time, so a recording of any length fits in the same memory::

    python recipes/timeline.py --model exported/fold1 --window_s 3 --hop_s 1 --output_folder timelines \
        meeting.wav interviews/

writes ``timelines/meeting.csv`` (``start_s, end_s, emotion``, each emotion's probability and, with a model that
has dimension tasks, its arousal, valence and dominance, one row per window, written as the windows are
classified) and ``timelines/meeting.png`` (the probabilities stacked over time, arousal and valence under them
when the model has them, and the most likely emotion underneath). This is the simple windowed form, not SpeechBrain's
emotion-diarization model: windows are classified independently, with no notion of segments or speakers, and a
window that spans a change of emotion gets a mixture. Each INPUT is an audio file, a folder or a list file, as
for ``recipes/classify.py``. A file that cannot be used is reported and the others go on (exit status 1).
``--backend onnx`` (or ``onnx_int8``) runs the folder's ONNX graph with ONNX Runtime, without torch, as
``classify.py`` does.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import argparse
import os
import sys

from recipes.inference.backends import add_backend_options, check_backend_options, load_model
from recipes.inference.inputs import InputError, add_model_and_inputs, find_audio_files
from recipes.inference.timeline_files import check_window, output_names, plot_timeline, write_timeline


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
        check_window(model, args.window_s)
    except InputError as error:
        print(f"timeline.py: error: {error}", file=sys.stderr)
        return 2
    os.makedirs(args.output_folder, exist_ok=True)
    labels = model.label_sets["emotion"]
    # A model exported before the dimension tasks has no dimensions.
    dimensions = getattr(model, "dimensions", [])
    failed = 0
    for path in files:
        csv_path = os.path.join(args.output_folder, f"{names[path]}.csv")
        try:
            timeline = model.emotion_timeline(path, args.window_s, args.hop_s, args.batch_size)
            rows = write_timeline(timeline, csv_path, labels, dimensions)
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
