"""The inputs of every program on an exported model (``classify.py``, ``timeline.py``, ``evaluate.py``, ``app.py``):
``--model`` and the audio INPUTs (files, folders searched recursively, list files), expanded in order, and the
output files, refused before the model loads when they cannot be written.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import os

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
LIST_EXTENSIONS = (".txt", ".lst", ".list")


class InputError(Exception):
    """An INPUT that names no audio at all (an empty folder or list, an unreadable list file)."""


def find_audio_files(inputs):
    """Expands the command-line inputs into audio file paths, in order.

    Arguments
    ---------
    inputs : list of str
        Audio files, folders (recursive) and list files. A path that does not exist is kept as an audio file,
        so that it is reported with its error beside the others.

    Returns
    -------
    list of str
    """
    files = []
    for path in inputs:
        if os.path.isdir(path):
            files.extend(_folder_audio(path))
        elif path.lower().endswith(LIST_EXTENSIONS):
            files.extend(_listed_audio(path))
        else:
            files.append(path)
    return files


def _folder_audio(folder):
    found = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        found.extend(os.path.join(root, name) for name in sorted(names) if name.lower().endswith(AUDIO_EXTENSIONS))
    if not found:
        raise InputError(f"{folder} holds no audio file ({', '.join(AUDIO_EXTENSIONS)}).")
    return found


def _listed_audio(list_file):
    try:
        with open(list_file, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read the list file {list_file} ({error}).") from error
    files = []
    for line in lines:
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        path = os.path.join(os.path.dirname(list_file), os.path.expanduser(entry))
        files.extend(_folder_audio(path) if os.path.isdir(path) else [path])
    if not files:
        raise InputError(f"the list file {list_file} names no file.")
    return files


def check_output_file(path, option):
    """Refuses, before the model is loaded, an output path that is a folder or whose folder cannot be made."""
    if path is None:
        return
    if os.path.isdir(path):
        raise InputError(f"{option} {path} is a folder; give a file name.")
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise InputError(f"cannot create the folder of {option} {path} ({error}).") from error


def add_model_and_inputs(parser):
    """The two arguments every program on an exported model takes: ``--model`` and the audio inputs
    (``find_audio_files``)."""
    parser.add_argument("--model", required=True, help="exported model folder (recipes/export.py)")
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="audio file, folder, or list file (.txt/.lst/.list: one file or folder per line, # for comments; "
        "relative paths in a list file are read from the list file's folder)",
    )
