#!/usr/bin/env python3
"""A Hugging Face Space to try a speech emotion recognition model: the page of the two-stage adapters recipe
(written as ``app.py`` by its ``recipes/export.py --space``, from ``recipes/hub/space_app.py``; do not edit here).

The model comes from the Hub repository this Space's README names (``models:``), or from ``--model`` (a Hub id
or a local copy of the model's folder). The page travels inside the model (its ``custom_interface.py``), so
this file, its ``requirements.txt`` and the model folder are all it needs::

    python app.py                                       # as the Space runs it
    python app.py --model path/to/exported_model --port 7860 --host 127.0.0.1

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import argparse
import importlib
import os
import sys

from huggingface_hub import SpaceCard, snapshot_download
from speechbrain.inference.interfaces import foreign_class

SPACE_FOLDER = os.path.dirname(os.path.abspath(__file__))


def space_model():
    """The model repository this Space's README names (its first ``models:`` entry)."""
    return SpaceCard.load(os.path.join(SPACE_FOLDER, "README.md")).data.models[0]


def page_module(recognizer):
    """The page's module inside the model's own code (the package ``custom_interface.py`` serves)."""
    package = type(recognizer).__module__.rpartition(".")[0]
    return importlib.import_module(f"{package}.gradio_page")


def build(argv=None):
    """Loads the model and builds its page; returns ``(page, its module, the parsed arguments)``."""
    parser = argparse.ArgumentParser(description="Serve the page to try a speech emotion recognition model.")
    parser.add_argument("--model", default=None, help="Hub id or local model folder (default: the README's model)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda:0 (default: cpu)")
    # None: Gradio's own settings (GRADIO_SERVER_NAME, GRADIO_SERVER_PORT), which a Space sets.
    parser.add_argument("--host", default=None, help="address to listen on (default: Gradio's)")
    parser.add_argument("--port", type=int, default=None, help="port (default: Gradio's)")
    args = parser.parse_args(argv)
    source = args.model or space_model()
    folder = source if os.path.isdir(source) else snapshot_download(source)
    recognizer = foreign_class(
        source=folder,
        pymodule_file="custom_interface.py",
        classname="EmotionRecognizer",
        run_opts={"device": args.device},
    )
    page = page_module(recognizer)
    return page.build_page(recognizer, folder), page, args


def main(argv=None):
    page, module, args = build(argv)
    module.serve_page(page, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
