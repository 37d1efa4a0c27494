#!/usr/bin/env python3
"""A page to try an exported model in the browser: upload or record speech, see the emotion with its
probabilities, the other predictions the model makes (gender and style, or its corpus's own) and, for a recording
longer than one window, the emotion over time (the plot of ``recipes/timeline.py``), beside the model card's
name, labels and limitations::

    python recipes/app.py --model exported/fold1            # then open http://127.0.0.1:7860
    python recipes/app.py --model exported/fold1 --port 8080 --window_s 3 --hop_s 1 --device cuda:0

The page is served on this machine only (127.0.0.1; ``--host`` says otherwise), with Gradio's analytics off and
no share link. Its classification is also Gradio's named API endpoint ``classify``, which Gradio's own client
calls with a file and which returns the emotion's label and probabilities, then the other predictions'
(``custom_modules/gradio_page.py`` has the page and an example). An unusable file shows its error on the page.

The page travels inside the exported model (``custom_interface.py``), so ``recipes/export.py --space`` writes a
Hugging Face Space that serves it from the model folder alone. Gradio is in the ``app`` dependency group
(``requirements.txt`` installs it).

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import argparse
import sys

from custom_modules.errors import INPUT_ERROR_EXIT, RecipeInputError, above, at_least
from custom_modules.gradio_page import (
    DEFAULT_HOP_S,
    DEFAULT_HOST,
    DEFAULT_MAX_SECONDS,
    DEFAULT_PORT,
    DEFAULT_WINDOW_S,
    build_page,
    serve_page,
)
from recipes.inference.backends import load_model
from recipes.inference.inputs import InputError
from recipes.inference.timeline_files import check_window

# --backend: classify.py's backend of each (its pytorch is this page's torch, as the issue and the card name it).
CLASSIFY_BACKENDS = {"torch": "pytorch", "onnx": "onnx"}
BACKENDS = tuple(CLASSIFY_BACKENDS)


def load_recognizer(model_folder, backend, device):
    """The recognizer of a backend; every other part of the page is the same for all of them.

    Arguments
    ---------
    model_folder : str
        An exported model folder (``recipes/export.py``).
    backend : str
        ``torch``: the folder loaded as SpeechBrain loads it (``foreign_class``); ``onnx``: its ``model.onnx`` with
        ONNX Runtime, without torch (``export.py --onnx``). Both through ``recipes/classify.py``'s ``load_model``.
    device : str
        Torch device.

    Returns
    -------
    EmotionRecognizer or OnnxEmotionRecognizer
    """
    return load_model(model_folder, device if backend == "torch" else "cpu", CLASSIFY_BACKENDS[backend])


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Serve a page to try an exported model in the browser (upload or record speech).",
        epilog="Exit status: 0 stopped (Ctrl-C), 2 unusable model, setting or port.",
    )
    parser.add_argument("--model", required=True, help="exported model folder (recipes/export.py)")
    parser.add_argument("--backend", choices=BACKENDS, default="torch", help="what runs the model (default: torch)")
    parser.add_argument("--port", type=at_least(1), default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default: {DEFAULT_HOST}, this machine only; 0.0.0.0 opens it to the network)",
    )
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda:0 (default: cpu)")
    parser.add_argument(
        "--window_s",
        type=above(0),
        default=DEFAULT_WINDOW_S,
        help=f"the timeline's window length in seconds (default: {DEFAULT_WINDOW_S:g})",
    )
    parser.add_argument(
        "--hop_s",
        type=above(0),
        default=DEFAULT_HOP_S,
        help=f"step between the timeline's windows in seconds (default: {DEFAULT_HOP_S:g})",
    )
    parser.add_argument(
        "--max_seconds",
        type=above(0),
        default=DEFAULT_MAX_SECONDS,
        help=f"the longest recording classified, in seconds; longer ones are refused on the page "
        f"(default: {DEFAULT_MAX_SECONDS:g})",
    )
    args = parser.parse_args(argv)
    try:
        recognizer = load_recognizer(args.model, args.backend, args.device)
        check_window(recognizer, args.window_s)
        page = build_page(recognizer, args.model, args.window_s, args.hop_s, args.max_seconds)
    except (InputError, RecipeInputError) as error:
        print(f"app.py: error: {error}", file=sys.stderr)
        return INPUT_ERROR_EXIT
    try:
        serve_page(page, args.host, args.port)
    except OSError as error:  # the port is taken, or the address is not this machine's
        message = f"cannot serve on {args.host}:{args.port} ({error}); choose another --port."
        print(f"app.py: error: {message}", file=sys.stderr)
        return INPUT_ERROR_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main())
