"""The timeline section: peak memory of ``emotion_timeline`` over recordings of several lengths (target: the
longest within 1.2x of the shortest).

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import os

from recipes.bench.measuring import CLOCKS, megabytes, peak_step_memory
from recipes.bench.streaming import write_utterances


def measure(recognizer, work_dir, args):
    """Peak memory (and time) of ``emotion_timeline`` over recordings of ``--timeline_minutes``.

    Arguments
    ---------
    recognizer : EmotionRecognizer
    work_dir : str
    args : argparse.Namespace

    Returns
    -------
    dict
    """
    clock = CLOCKS[args.clock]
    results = {"window_s": args.timeline_window_s, "hop_s": args.timeline_hop_s, "recordings": []}
    for minutes in args.timeline_minutes:
        (path,) = write_utterances(os.path.join(work_dir, f"timeline_{minutes:g}"), [60 * minutes], args.seed)
        windows = []

        def follow(path=path, windows=windows):
            timeline = recognizer.emotion_timeline(path, args.timeline_window_s, args.timeline_hop_s)
            windows.append(sum(1 for _ in timeline))

        start = clock()
        memory = peak_step_memory(follow, args.device)
        results["recordings"].append(
            {"minutes": minutes, "windows": windows[0], "seconds": clock() - start, "memory": memory}
        )
    peaks = [recording["memory"]["step_mb"] for recording in results["recordings"]]
    results["longest_over_shortest"] = None if None in peaks else peaks[-1] / peaks[0]
    return results


def report(timeline):
    """The section's Markdown table (``format_report`` in ``recipes/benchmark.py`` joins them)."""
    lines = [
        f"| emotion_timeline, {timeline['window_s']:g} s windows every {timeline['hop_s']:g} s | windows | time (s) | "
        "peak memory above start (MB) |",
        "|---|---|---|---|",
    ]
    for recording in timeline["recordings"]:
        lines.append(
            f"| {recording['minutes']:g}-minute recording | {recording['windows']} | {recording['seconds']:.1f} | "
            f"{megabytes(recording['memory']['step_mb'])} |"
        )
    ratio = timeline["longest_over_shortest"]
    lines += ["", f"Longest / shortest recording's peak: {'n/a' if ratio is None else f'{ratio:.2f}'} (target <= 1.2)."]
    return lines
