"""An exported model tested on a whole corpus (``recipes/evaluate.py``): the classes the model and the corpus share
(same names, or a ``--label_map``), each utterance's best shared class, UA, WA, per-class recall and the confusion
matrix over them, and the report as JSON and Markdown.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import json
import os
from collections import Counter

from corpora import CorpusError
from corpora.folds import check_audio
from custom_modules.metrics import classification_summary


def read_label_map(text):
    """``--label_map``: ``corpus=model`` pairs separated by commas, or a JSON file of that mapping.

    Example
    -------
    >>> read_label_map("angry=ang, happy=hap")
    {'angry': 'ang', 'happy': 'hap'}
    >>> read_label_map("angry")
    Traceback (most recent call last):
    ...
    corpora.CorpusError: --label_map 'angry': write corpus=model pairs separated by commas (neutral=neu,...) ...
    """
    if text is None:
        return None
    if os.path.isfile(text):
        with open(text, encoding="utf-8") as handle:
            mapping = json.load(handle)
        if not isinstance(mapping, dict):
            raise CorpusError(f"--label_map {text}: the JSON file must hold one object, corpus label -> model label.")
        return {str(k): str(v) for k, v in mapping.items()}
    pairs = [item.strip() for item in text.split(",") if item.strip()]
    if not pairs or not all(pair.count("=") == 1 for pair in pairs):
        raise CorpusError(
            f"--label_map {text!r}: write corpus=model pairs separated by commas (neutral=neu,...) or name a JSON "
            "file of that mapping."
        )
    return dict(tuple(part.strip() for part in pair.split("=")) for pair in pairs)


def shared_classes(model_labels, corpus_labels, label_map=None):
    """Which corpus class is which model class, and what each side has that the other lacks.

    Arguments
    ---------
    model_labels : list of str
        The model's emotion labels, in its order.
    corpus_labels : list of str
        The corpus's.
    label_map : dict, optional
        Corpus label -> model label (default: the same name).

    Returns
    -------
    dict
        ``mapping`` (corpus label -> model label, shared classes only), ``labels`` (the shared model labels, in
        the model's order), ``corpus_only`` (corpus labels left out), ``model_only`` (model labels the corpus
        lacks).

    Example
    -------
    >>> shared = shared_classes(["neu", "hap", "ang", "sad"], ["neu", "hap", "ang", "sad", "fea", "dis"])
    >>> shared["labels"], shared["corpus_only"], shared["model_only"]
    (['neu', 'hap', 'ang', 'sad'], ['fea', 'dis'], [])
    """
    if label_map is None:
        label_map = {label: label for label in corpus_labels}
    else:
        unknown = sorted(set(label_map) - set(corpus_labels))
        if unknown:
            raise CorpusError(f"--label_map names {', '.join(unknown)}, which the corpus lacks (its: {corpus_labels}).")
        wrong = sorted(set(label_map.values()) - set(model_labels))
        if wrong:
            raise CorpusError(f"--label_map maps onto {', '.join(wrong)}, which the model lacks (its: {model_labels}).")
    mapping = {c: m for c, m in label_map.items() if m in model_labels}
    if not mapping:
        raise CorpusError(
            f"The model ({', '.join(model_labels)}) and the corpus ({', '.join(corpus_labels)}) share no class: map "
            "the corpus's labels onto the model's with --label_map corpus=model,..."
        )
    used = set(mapping.values())
    return {
        "mapping": mapping,
        "labels": [label for label in model_labels if label in used],
        "corpus_only": [label for label in corpus_labels if label not in mapping],
        "model_only": [label for label in model_labels if label not in used],
    }


def evaluate(model, data, shared, batch_size=16, skip_bad_wavs=False, min_duration=0.1, audio_check_cache=None):
    """Classifies every usable utterance of a shared class and scores the predictions.

    Arguments
    ---------
    model : EmotionRecognizer
    data : corpora.folds.CorpusData
    shared : dict
        From ``shared_classes``.
    batch_size : int
    skip_bad_wavs, min_duration, audio_check_cache
        The audio checks of preparation (``corpora.folds.check_audio``).

    Returns
    -------
    dict
        The figures (``classification_summary``: ``UA``, ``WA``, ``per_class_recall``, ``confusion_matrix``,
        ``labels``, ``count``), what was left out, and each utterance's prediction.
    """
    utterances, skipped = check_audio(data, min_duration, skip_bad_wavs, audio_check_cache=audio_check_cache)
    kept = {u: e for u, e in utterances.items() if e["emo"] in shared["mapping"]}
    left_out = Counter(e["emo"] for e in utterances.values() if e["emo"] not in shared["mapping"])
    ids = sorted(kept)
    labels = shared["labels"]
    targets, predictions, records, outside = [], [], [], 0
    results = model.iter_predictions([kept[u]["wav"] for u in ids], batch_size=batch_size)
    for utt_id, result in zip(ids, results):
        if "error" in result:
            raise CorpusError(f"{utt_id} ({kept[utt_id]['wav']}) could not be classified: {result['error']}")
        probabilities = result["emotion_probs"]
        best_shared = max(labels, key=probabilities.__getitem__)
        outside += result["emotion"] not in labels
        truth = shared["mapping"][kept[utt_id]["emo"]]
        targets.append(labels.index(truth))
        predictions.append(labels.index(best_shared))
        records.append({"id": utt_id, "emo": truth, "emo_pred": best_shared, "best_overall": result["emotion"]})
    figures = classification_summary(targets, predictions, labels)
    return {
        **figures,
        "corpus": data.name,
        "source": data.source,
        "mapping": shared["mapping"],
        "corpus_classes_left_out": dict(left_out),
        "model_classes_not_in_corpus": shared["model_only"],
        "best_class_outside_shared": outside,
        "skipped": skipped,
        "predictions": records,
    }


def markdown(report, model_folder):
    """The report as Markdown: the figures, the confusion matrix, what was left out."""
    labels = report["labels"]
    lines = [
        f"# {model_folder} on {report['corpus']} ({report['count']} utterances)",
        "",
        f"UA {report['UA']:.2f}, WA {report['WA']:.2f} (in %, over the shared classes {', '.join(labels)}).",
        "",
        "| class | recall |",
        "|---|---|",
        *(f"| {label} | {report['per_class_recall'][label]:.2f} |" for label in labels),
        "",
        "Confusion matrix (rows: true, columns: predicted):",
        "",
        "| | " + " | ".join(labels) + " |",
        "|---" * (len(labels) + 1) + "|",
        *(f"| {label} | " + " | ".join(map(str, row)) + " |" for label, row in zip(labels, report["confusion_matrix"])),
        "",
        f"Corpus label -> model label: {', '.join(f'{c} -> {m}' for c, m in report['mapping'].items())}.",
        f"Left out (classes the model lacks): {report['corpus_classes_left_out'] or 'none'}; the model's classes "
        f"the corpus lacks: {', '.join(report['model_classes_not_in_corpus']) or 'none'}; the model's best class "
        f"was outside the shared ones for {report['best_class_outside_shared']} utterance(s); unusable audio left "
        f"out: {len(report['skipped'])}.",
    ]
    return "\n".join(lines) + "\n"
