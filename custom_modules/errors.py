"""Errors in what the user gave the recipe (corpus files, folders, checkpoints, settings), told apart from bugs.

A ``RecipeInputError`` says what is wrong and how to fix it; a script ends with that message and a non-zero exit
instead of a traceback, which is kept for everything else (bugs).

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import argparse
import os
import shlex
import sys
from contextlib import contextmanager

from speechbrain.utils.distributed import if_main_process

# argparse's exit status for input a script cannot use.
INPUT_ERROR_EXIT = 2
# How every entry point spells "leave unusable wavs out": a value, as SpeechBrain's overrides need one.
SKIP_BAD_WAVS = ("--skip_bad_wavs", "True")


class RecipeInputError(Exception):
    """Input the recipe cannot use; the message names the problem and the fix.

    Subclasses also derive from the built-in type that fits (``ValueError``, ``FileNotFoundError``, ...), so
    callers that catch those keep working.
    """


@contextmanager
def input_errors_end_the_run(prog=None):
    """Ends the script with ``<prog>: error: <message>`` on stderr and exit status 2 for a ``RecipeInputError``.

    Under DDP every process checks the same input and raises the same error: the main process prints it (once),
    the others exit with the same status. Any other exception passes through with its traceback.

    Arguments
    ---------
    prog : str, optional
        The script's name (default: ``sys.argv[0]``'s base name).

    Example
    -------
    >>> try:
    ...     with input_errors_end_the_run("train.py"):
    ...         raise RecipeInputError("--data_folder /nowhere does not exist.")
    ... except SystemExit as stop:
    ...     print("exit status", stop.code)
    exit status 2
    """
    try:
        yield
    except RecipeInputError as error:
        if if_main_process():
            print(f"{prog or os.path.basename(sys.argv[0])}: error: {error}", file=sys.stderr, flush=True)
        sys.exit(INPUT_ERROR_EXIT)


def command_with_skip_bad_wavs(argv):
    """The command ``argv`` (script and arguments, as ``sys.argv``) again, with ``--skip_bad_wavs True``.

    Arguments
    ---------
    argv : list of str

    Returns
    -------
    str

    Example
    -------
    >>> command_with_skip_bad_wavs(["train_stage1.py", "stage1.yaml", "--skip_bad_wavs", "False", "--seed", "3"])
    'python train_stage1.py stage1.yaml --seed 3 --skip_bad_wavs True'
    """
    kept, index = [], 0
    while index < len(argv):
        if argv[index] == SKIP_BAD_WAVS[0]:
            has_value = index + 1 < len(argv) and not argv[index + 1].startswith("--")
            index += 2 if has_value else 1
            continue
        if not argv[index].startswith(SKIP_BAD_WAVS[0] + "="):
            kept.append(argv[index])
        index += 1
    return "python " + shlex.join([*kept, *SKIP_BAD_WAVS])


def at_least(low, kind=int):
    """An ``argparse`` type: a ``kind`` (int or float) of at least ``low``, so that ``--batch_size 0`` is refused
    with argparse's usage message and exit status 2 instead of failing (or running) later.

    Arguments
    ---------
    low : int or float
    kind : type
        ``int`` or ``float``.

    Returns
    -------
    callable

    Example
    -------
    >>> at_least(1)("4")
    4
    >>> at_least(1)("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be at least 1, got 0
    """

    kind_name = "an integer" if kind is int else "a number"

    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind_name}, got {text!r}") from None
        if not value >= low:  # NaN too
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {text}")
        return value

    convert.__name__ = kind.__name__  # argparse names the type in its messages
    return convert


def above(low):
    """An ``argparse`` type: a number above ``low`` (``--seconds 0`` refused).

    Arguments
    ---------
    low : float

    Returns
    -------
    callable

    Example
    -------
    >>> above(0)("0.5")
    0.5
    >>> above(0)("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be above 0, got 0
    """

    def convert(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not value > low:
            raise argparse.ArgumentTypeError(f"must be above {low}, got {text}")
        return value

    convert.__name__ = "float"
    return convert
