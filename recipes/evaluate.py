#!/usr/bin/env python3
"""Tests an exported model on a whole corpus: cross-corpus evaluation (train on IEMOCAP, test on CREMA-D).

Every usable utterance of the corpus is classified (``EmotionRecognizer.iter_predictions``), and UA, WA,
per-class recall and the confusion matrix are computed over the classes the model and the corpus share::

    python recipes/evaluate.py --model exported/fold1 --corpus crema_d --data_folder /data/CREMA-D \
        --output_folder results/iemocap_on_crema_d
    python recipes/evaluate.py --model exported/fold1 --corpus manifest --manifest my_corpus.csv \
        --output_folder results/iemocap_on_mine --label_map "angry=ang,happy=hap,neutral=neu,sad=sad"

Shared classes: by default, a corpus label is the model's label of the same name (the corpora share the
three-letter codes neu, hap, ang, sad, fea, dis, cal, sur, so IEMOCAP's four map onto CREMA-D's NEU HAP ANG SAD
and RAVDESS's neutral, happy, angry, sad); ``--label_map corpus=model,...`` (or a JSON file of that mapping)
replaces it. Utterances of a corpus class the model lacks are left out and listed by class. Each prediction is
the model's most probable **shared** class (a four-class model tested on six-class CREMA-D can only be right on
the four it knows, and its probabilities of the others are set aside); how often its overall best class was
outside them is reported. Writes ``evaluation.json`` (every figure and each utterance's prediction) and
``evaluation.md`` into ``--output_folder``.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import argparse
import json
import os
import sys

from corpora import CorpusError
from corpora.folds import CORPORA, corpus_source, read_corpus
from custom_modules.errors import INPUT_ERROR_EXIT
from recipes.inference.backends import load_model
from recipes.inference.cross_corpus import evaluate, markdown, read_label_map, shared_classes
from recipes.inference.inputs import InputError


def main(argv=None):
    """The command line (see the module docstring); returns the exit status (2: input it cannot use)."""
    parser = argparse.ArgumentParser(prog="evaluate.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="an exported model folder (recipes/export.py)")
    parser.add_argument("--corpus", choices=CORPORA, required=True)
    parser.add_argument("--data_folder", help="the corpus as downloaded")
    parser.add_argument("--manifest", help="--corpus manifest: the CSV or JSON-lines file")
    parser.add_argument("--output_folder", required=True, help="where evaluation.json and evaluation.md go")
    parser.add_argument("--label_map", help="corpus=model pairs separated by commas, or a JSON file of them")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--skip_bad_wavs", action="store_true", help="leave unusable wavs out (listed) instead of stopping"
    )
    parser.add_argument("--audio_check_cache", help="JSON file remembering the wavs already checked")
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error(f"--batch_size must be at least 1, got {args.batch_size}.")
    try:
        data = read_corpus(args.corpus, corpus_source(args.corpus, args.data_folder, args.manifest))
        model = load_model(args.model, args.device)
        shared = shared_classes(model.label_sets["emotion"], list(data.labels["emo"]), read_label_map(args.label_map))
        report = evaluate(
            model, data, shared, args.batch_size, args.skip_bad_wavs, audio_check_cache=args.audio_check_cache
        )
    except (CorpusError, InputError, FileNotFoundError) as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return INPUT_ERROR_EXIT
    os.makedirs(args.output_folder, exist_ok=True)
    with open(os.path.join(args.output_folder, "evaluation.json"), "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)
    text = markdown(report, os.path.basename(os.path.normpath(args.model)))
    with open(os.path.join(args.output_folder, "evaluation.md"), "w", encoding="utf-8") as handle:
        handle.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
