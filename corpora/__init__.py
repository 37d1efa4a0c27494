"""The corpora the recipe reads, each from its release layout as downloaded, in one place beside IEMOCAP's
preparation (``iemocap_prepare.py``, where SpeechBrain's recipes keep a corpus's preparation): IEMOCAP, CREMA-D,
RAVDESS, and any labelled manifest (CSV or JSON lines, EmoBox's jsonl included).

A corpus reader (``iemocap.py``, ``crema_d.py``, ``ravdess.py``, ``manifest.py``) turns a corpus into utterance
entries (``wav``, ``emo``, ``speaker``, optional ``gender`` and ``transcript``, and the corpus's other labels and
dimensions); ``folds.py`` does the rest for every corpus: the protocol's folds, the validation draw, the audio
checks, the leakage guard and the manifests of one fold. ``transcripts.py`` maps every corpus's transcripts onto
the CTC head's characters, ``release.py`` finds a release's folder.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

from custom_modules.errors import RecipeInputError


class CorpusError(RecipeInputError, ValueError):
    """A corpus, manifest or fold the recipe cannot prepare; the message names the file, row or label and the fix."""
