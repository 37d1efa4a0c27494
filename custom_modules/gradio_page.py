"""The page to try an exported model in a browser (Gradio): upload or record speech, see the emotion, every
other prediction the model makes and, for a recording longer than one window, the emotion over time, beside the
model card's name, labels and limitations.

Exported models carry this module (``custom_interface.py``, ``recipes/hub/inference_bundle.py``), so the page runs
from the model folder alone: ``recipes/app.py`` serves it for a local folder, and the Hugging Face Space written
by ``recipes/export.py --space`` for the model's Hub id. Gradio is imported only when a page is built: loading a
model never needs it.

The page's classification is also a named API endpoint, ``classify``, which Gradio's own client calls::

    from gradio_client import Client, handle_file
    emotion, *others = Client("http://127.0.0.1:7860/").predict(handle_file("speech.wav"), api_name="/classify")
    emotion["label"], emotion["confidences"]  # 'hap', [{'label': 'hap', 'confidence': 0.91}, ...]

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import os
import re

from custom_modules.errors import RecipeInputError
from custom_modules.timeline_plot import timeline_figure

# The exported folder's model card (recipes/hub/model_card.py writes it) and the sections the page shows.
MODEL_CARD_FILE = "README.md"
CARD_SECTIONS = ("Labels", "Limitations")
# Where the page is served unless told otherwise: this machine only.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
# The timeline's windows (recipes/timeline.py's defaults) and the longest recording the page classifies whole.
DEFAULT_WINDOW_S = 3.0
DEFAULT_HOP_S = 1.0
DEFAULT_MAX_SECONDS = 60.0


class ModelCardError(RecipeInputError, ValueError):
    """The model folder has no readable model card."""


def read_model_card(model_folder):
    """The parts of an exported model's card (``README.md``) that the page shows.

    Arguments
    ---------
    model_folder : str

    Returns
    -------
    dict
        ``title`` (the card's ``#`` heading), ``intro`` (the paragraphs under it) and each of ``CARD_SECTIONS``
        (the text under its ``##`` heading; empty if the card has none).
    """
    path = os.path.join(model_folder, MODEL_CARD_FILE)
    if not os.path.isfile(path):
        raise ModelCardError(f"{model_folder} has no model card ({MODEL_CARD_FILE}); export it with recipes/export.py.")
    with open(path, encoding="utf-8") as handle:
        return card_parts(handle.read())


def card_parts(card_text):
    """``read_model_card``'s parts of a card's text (front matter skipped).

    Example
    -------
    >>> parts = card_parts("---\\nlicense: mit\\n---\\n# Model\\n\\nWhat it does.\\n\\n## Labels\\n\\nneu, hap\\n")
    >>> parts["title"], parts["intro"], parts["Labels"], parts["Limitations"]
    ('Model', 'What it does.', 'neu, hap', '')
    """
    body = re.sub(r"\A---\n.*?\n---\n", "", card_text, count=1, flags=re.DOTALL)
    title = re.search(r"^# (.+)$", body, flags=re.MULTILINE)
    pieces = re.split(r"^## (.+)$", body, flags=re.MULTILINE)
    sections = {heading.strip(): text.strip() for heading, text in zip(pieces[1::2], pieces[2::2])}
    intro = pieces[0][title.end() :] if title else pieces[0]
    return {
        "title": title.group(1).strip() if title else "Speech emotion recognition",
        "intro": intro.strip(),
        **{name: sections.get(name, "") for name in CARD_SECTIONS},
    }


def shown_error(message, path):
    """A file's error as the page shows it: the server's copy of the upload named by its file name only.

    Example
    -------
    >>> shown_error("uploads/3f2a/talk.wav: the file holds no audio samples.", "uploads/3f2a/talk.wav")
    'talk.wav: the file holds no audio samples.'
    """
    return message.replace(path, os.path.basename(path))


def build_page(
    recognizer, model_folder, window_s=DEFAULT_WINDOW_S, hop_s=DEFAULT_HOP_S, max_seconds=DEFAULT_MAX_SECONDS
):
    """The page for a loaded model (not yet served: ``serve_page``).

    Arguments
    ---------
    recognizer : EmotionRecognizer
        Or any recognizer with its ``label_sets``, ``predict_files`` and ``emotion_timeline``.
    model_folder : str
        The exported folder the recognizer was loaded from (its model card).
    window_s, hop_s : float
        The timeline's windows (``emotion_timeline``); shown for recordings longer than one window.
    max_seconds : float
        The longest recording the page classifies (``predict_files``' ``max_batch_seconds``).

    Returns
    -------
    gradio.Blocks
    """
    gr = import_gradio()
    card = read_model_card(model_folder)
    label_sets = recognizer.label_sets
    recognizer.too_long_fix = f"this page takes recordings of up to {max_seconds:g} s"

    def classify(path):
        if path is None:
            raise gr.Error("Upload or record speech first.", print_exception=False)
        (result,) = recognizer.predict_files([path], max_batch_seconds=max_seconds)
        if "error" in result:
            # duration None: the message stays until it is closed.
            raise gr.Error(shown_error(result["error"], path), duration=None, print_exception=False)
        return [result[f"{name}_probs"] for name in label_sets]

    def draw_timeline(path):
        try:
            rows = list(recognizer.emotion_timeline(path, window_s, hop_s))
        except ValueError as error:  # AudioInputError: the file could be classified whole but not read in windows
            raise gr.Error(shown_error(str(error), path), duration=None, print_exception=False) from error
        if len(rows) < 2:
            return gr.Plot(value=None, visible=False)
        return gr.Plot(value=timeline_figure(rows, os.path.basename(path), window_s, hop_s), visible=True)

    def cleared():
        return [None] * len(label_sets) + [gr.Plot(value=None, visible=False)]

    with gr.Blocks(title=card["title"], analytics_enabled=False) as page:
        gr.Markdown(f"# {card['title']}\n\n{card['intro']}")
        with gr.Row():
            audio = gr.Audio(
                sources=["upload", "microphone"], type="filepath", label="Speech: upload a file or record", scale=1
            )
            with gr.Column(scale=1):
                predictions = [
                    gr.Label(label=name, num_top_classes=len(labels), elem_id=f"prediction-{name}")
                    for name, labels in label_sets.items()
                ]
        timeline = gr.Plot(label="Emotion over time", visible=False, format="png", elem_id="timeline")
        for name in CARD_SECTIONS:
            if card[name]:
                gr.Markdown(f"## {name}\n\n{card[name]}")
        triggers = [audio.upload, audio.stop_recording]
        classified = gr.on(triggers, classify, inputs=audio, outputs=predictions, api_name="classify")
        classified.success(draw_timeline, inputs=audio, outputs=timeline, api_name="timeline")
        # Giving another file or recording clears the audio first: its results go with it, so that a result never
        # stands beside another file's error.
        audio.clear(cleared, outputs=[*predictions, timeline], api_visibility="private")
    return page


def serve_page(page, host=DEFAULT_HOST, port=DEFAULT_PORT, block=True):
    """Serves the page (never through a share link; no analytics).

    Arguments
    ---------
    page : gradio.Blocks
    host, port : str, int or None
        Where to listen; None leaves it to Gradio (``GRADIO_SERVER_NAME``, ``GRADIO_SERVER_PORT``), as a
        Hugging Face Space sets them.
    block : bool
        Serve until interrupted; False returns once the server runs (tests).
    """
    # Server-side rendering would start a Node.js server beside Python's; the page needs none.
    page.launch(server_name=host, server_port=port, share=False, ssr_mode=False, prevent_thread_lock=not block)


def import_gradio():
    """Gradio, with its analytics and version check off (they call gradio.app from the server)."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    import gradio

    return gradio
