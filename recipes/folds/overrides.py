"""Command-line overrides of the train scripts as data: the values of ``recipes/experiments.yaml`` written as
SpeechBrain overrides, and ``--key value`` lists read back, merged and written again.

``recipes/run_folds.py`` builds each stage's command line from the experiment's overrides and the user's
``--extra_args`` / ``--stageN_args`` with these.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import shlex


class OverrideError(ValueError):
    """Overrides that cannot be read; the message shows the expected forms."""


def yaml_value(value):
    """A value of experiments.yaml as the text of a SpeechBrain command-line override.

    Arguments
    ---------
    value : bool, None, str, number, list or dict

    Returns
    -------
    str

    Example
    -------
    >>> yaml_value([]), yaml_value(["gender", "style"]), yaml_value(True), yaml_value("none"), yaml_value(1e-05)
    ('[]', '[gender, style]', 'True', 'none', '1e-05')
    """
    if isinstance(value, bool):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {yaml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def overrides_to_args(overrides):
    """A mapping of yaml keys to values as command-line arguments.

    Arguments
    ---------
    overrides : dict or None

    Returns
    -------
    list of str

    Example
    -------
    >>> overrides_to_args({"aux_tasks": [], "fusion": False})
    ['--aux_tasks', '[]', '--fusion', 'False']
    """
    args = []
    for key, value in (overrides or {}).items():
        args += [f"--{key}", yaml_value(value)]
    return args


def parse_override_args(args):
    """Command-line overrides as a mapping option -> value (None for a flag such as ``--debug``).

    Arguments
    ---------
    args : list of str
        ``--key value``, ``--key=value`` or ``--flag`` items.

    Returns
    -------
    dict

    Example
    -------
    >>> parse_override_args(["--number_of_epochs", "2", "--lr=0.1", "--debug", "--aux_tasks", "[]"])
    {'number_of_epochs': '2', 'lr': '0.1', 'debug': None, 'aux_tasks': '[]'}
    """
    parsed = {}
    i = 0
    while i < len(args):
        token = args[i]
        if not token.startswith("--") or len(token) == 2:
            raise OverrideError(
                f"Cannot read {token!r} in {shlex.join(args)}: overrides look like --key value, --key=value or --flag."
            )
        key, equals, value = token[2:].partition("=")
        if not equals:
            value = None
            if i + 1 < len(args) and not args[i + 1].startswith("--"):
                value = args[i + 1]
                i += 1
        parsed[key] = value
        i += 1
    return parsed


def merge_overrides(*arg_lists):
    """Merges lists of command-line overrides; an option given again takes its last value.

    Arguments
    ---------
    *arg_lists : list of str

    Returns
    -------
    dict
        Option -> value, as ``parse_override_args``.

    Example
    -------
    >>> merge_overrides(["--lr", "1", "--seed", "3"], ["--lr=2"])
    {'seed': '3', 'lr': '2'}
    """
    merged = {}
    for args in arg_lists:
        for key, value in parse_override_args(list(args)).items():
            merged.pop(key, None)
            merged[key] = value
    return merged


def args_from_overrides(overrides):
    """The inverse of ``merge_overrides``: a mapping back to command-line arguments.

    Example
    -------
    >>> args_from_overrides({"seed": "3", "debug": None})
    ['--seed', '3', '--debug']
    """
    args = []
    for key, value in overrides.items():
        args += [f"--{key}"] + ([] if value is None else [value])
    return args
