"""The plot of an emotion timeline (``EmotionRecognizer.emotion_timeline``): each emotion's probability stacked
over time, arousal and valence under them when the model predicts them, and a strip of the most likely emotion per
window. ``recipes/timeline.py`` saves it as a PNG and the
page to try a model (``custom_modules/gradio_page.py``) shows it, so exported models carry it.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import matplotlib
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from custom_modules.constants import EMOTION_NAMES

# Colours that read apart, also in grey and for the common colour-vision deficiencies (Okabe-Ito), one per emotion
# code of the corpus readers (custom_modules/constants.py); a label outside them takes the next of matplotlib's tab10.
EMOTION_COLORS = {
    "neu": "#999999",
    "hap": "#E69F00",
    "ang": "#D55E00",
    "sad": "#0072B2",
    "fea": "#CC79A7",
    "dis": "#009E73",
    "sur": "#F0E442",
    "cal": "#56B4E9",
}

# The dimensions drawn under the probabilities (a model's others are in the timeline's CSV), in black and grey: the
# colours are the emotions'.
PLOTTED_DIMENSIONS = {"arousal": {"color": "#000000"}, "valence": {"color": "#777777", "linestyle": "--"}}


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


def timeline_figure(rows, title, window_s, hop_s):
    """Draws the timeline: each emotion's probability stacked over time (at window centres), arousal and valence
    under them when the rows have them (a model with those dimension tasks), and a strip of the most likely emotion
    per window.

    The figure is a bare ``matplotlib.figure.Figure``, not one of pyplot's: a server drawing one per request
    would otherwise keep every figure alive in pyplot's registry.

    Arguments
    ---------
    rows : list of dict
        From ``emotion_timeline``.
    title : str
    window_s, hop_s : float

    Returns
    -------
    matplotlib.figure.Figure
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
    others = iter(matplotlib.colormaps["tab10"].colors)
    colors = [EMOTION_COLORS.get(label) or next(others) for label in labels]
    dimensions = [name for name in PLOTTED_DIMENSIONS if name in rows[0]]
    ratios = [5, 2, 1] if dimensions else [5, 1]
    figure = Figure(figsize=(12, 4.5 + 1.5 * bool(dimensions)))
    axes = figure.subplots(len(ratios), 1, sharex=True, gridspec_kw={"height_ratios": ratios, "hspace": 0.08})
    top, strip = axes[0], axes[-1]
    for name in dimensions:
        values = [rows[0][name], *(row[name] for row in rows), rows[-1][name]]
        axes[1].plot(times, values, label=name, **PLOTTED_DIMENSIONS[name])
    if dimensions:
        axes[1].set_ylabel("rating")
        axes[1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        axes[1].grid(axis="y", alpha=0.3)
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
    return figure
