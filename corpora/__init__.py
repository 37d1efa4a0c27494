"""The corpora the recipe prepares, beside IEMOCAP (``iemocap_prepare.py``, where SpeechBrain's recipes keep a
corpus's preparation): CREMA-D and RAVDESS from their release layouts as downloaded, and any labelled manifest
(CSV or JSON lines, EmoBox's jsonl included).

A corpus reader (``crema_d.py``, ``ravdess.py``, ``manifest.py``) turns a corpus into utterance entries
(``wav``, ``emo``, ``speaker``, optional ``gender`` and ``transcript``, and the corpus's other labels);
``folds.py`` does the rest for every corpus: the protocol's folds, the validation draw, the audio checks, the
leakage guard and the manifests of one fold.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

from custom_modules.errors import RecipeInputError


class CorpusError(RecipeInputError, ValueError):
    """A corpus, manifest or fold the recipe cannot prepare; the message names the file, row or label and the fix."""
