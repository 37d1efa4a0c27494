"""What the readers of corpus releases share: finding the release folder from what the user passed.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import os

from corpora import CorpusError


def find_release_root(data_folder, release_names, is_root, expected):
    """Returns the absolute release folder: ``data_folder`` itself or one of its subfolders ``release_names``.

    Arguments
    ---------
    data_folder : str
        The folder the user passed (``--data_folder``).
    release_names : tuple of str
        The names the release folder has when unpacked (looked for inside ``data_folder``).
    is_root : callable
        ``is_root(folder)``: whether a folder is the release's root (raises ``CorpusError`` if it is a broken one).
    expected : str
        What to pass instead, the end of the error message.

    Returns
    -------
    str

    Example
    -------
    >>> find_release_root("/no/such/folder", (), os.path.isdir, "pass the corpus folder")
    Traceback (most recent call last):
    ...
    corpora.CorpusError: --data_folder '/no/such/folder' does not exist or is not a folder: pass the corpus folder.
    """
    if data_folder is None or not os.path.isdir(data_folder):
        raise CorpusError(f"--data_folder {data_folder!r} does not exist or is not a folder: {expected}.")
    for candidate in (data_folder, *(os.path.join(data_folder, name) for name in release_names)):
        if os.path.isdir(candidate) and is_root(candidate):
            return os.path.abspath(candidate)
    return None
