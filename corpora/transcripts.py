"""Transcripts onto the CTC head's character set (a-z, apostrophe, space), the same for every corpus's reader.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import re
import unicodedata

from custom_modules.constants import CHARACTERS

TAG = re.compile(r"\[[^\]]*\]|<[^>]*>")


def normalize_transcript(text):
    """Maps a raw transcript onto the CTC character set.

    Tags such as ``[LAUGHTER]`` are removed, hyphens become spaces, letters are lower-cased and stripped of
    accents, every other character is dropped, and spaces are collapsed.

    Arguments
    ---------
    text : str
        The transcript as written in the corpus (IEMOCAP: ``transcriptions/<dialog>.txt``).

    Returns
    -------
    str

    Example
    -------
    >>> normalize_transcript("Oh, I -- I don't know! [LAUGHTER] Café?")
    "oh i i don't know cafe"
    """
    text = TAG.sub(" ", text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = text.lower().replace("-", " ").replace("`", "'")
    text = "".join(c for c in text if c in CHARACTERS)
    return " ".join(text.split())
