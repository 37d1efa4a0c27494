#!/usr/bin/env python3
"""Prepares IEMOCAP for 4-class speech emotion recognition, one fold at a time: ``prepare_iemocap`` and its
command line, where SpeechBrain's recipes keep a corpus's preparation.

Reads ``IEMOCAP_full_release`` (the folder itself or its parent) with IEMOCAP's reader, ``corpora/iemocap.py``
(which labels are kept and merged, where gender, style, the dimensions and the transcripts come from), beside the
other corpora's; ``corpora/folds.py`` writes three SpeechBrain manifests, ``train.json``, ``valid.json`` and
``test.json``, each ``{utt_id: {wav, duration, emo, gender, style, transcript, session, speaker, valence,
arousal, dominance}}``.

Two protocols: ``sessions`` (the paper's: one of the five sessions held out, ``--test_session`` or
``--test_fold``) and ``speakers`` (one of the ten speakers held out, numbered Ses01F = 1, Ses01M = 2, ...,
Ses05M = 10, as Cai et al. 2021). Validation is drawn from the training utterances, stratified by emotion and
seeded (``valid_ratio`` of each class). The options are stored beside the manifests: running again with the
same options skips the work, and different options redo it.

Command line::

    python iemocap_prepare.py --data_folder /path/to/IEMOCAP_full_release --save_folder S --test_session 1

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import argparse
import logging
import sys

from corpora import CorpusError
from corpora.folds import prepare_fold
from custom_modules.constants import DEFAULT_SEED
from custom_modules.errors import INPUT_ERROR_EXIT, RecipeInputError

# IEMOCAP's input errors are the corpus layer's (its preparation is corpora/folds.py's): one type to catch.
IEMOCAPError = CorpusError


def prepare_iemocap(
    data_folder,
    save_folder,
    test_session,
    valid_ratio=0.1,
    seed=DEFAULT_SEED,
    min_duration=0.1,
    skip_bad_wavs=False,
    command=None,
    audio_check_cache=None,
    protocol="sessions",
):
    """Writes the train / valid / test manifests of one IEMOCAP fold (``corpora.folds.prepare_fold``).

    Arguments
    ---------
    data_folder : str
        ``IEMOCAP_full_release`` or the folder that contains it.
    save_folder : str
        Where ``train.json``, ``valid.json``, ``test.json`` and ``prepare_options.json`` are written.
    test_session : int
        The held-out fold: a session, 1 to 5 (``protocol`` ``speakers``: a speaker, 1 to 10).
    valid_ratio : float
        Share of each emotion class of the training sessions moved to validation.
    seed : int
        Seed of the validation draw (default: the training yaml's).
    min_duration : float
        Utterances shorter than this (seconds) cannot be encoded by wav2vec 2.0 and are reported as bad.
    skip_bad_wavs : bool
        If False (default), a missing, unreadable, empty, silent, too short, stereo or wrong-rate wav (or a
        missing transcript) is an error listing every offender (``corpora.folds.BadWavsError``). If True, those
        utterances are left out, listed in the summary and logged. On the command line: ``--skip_bad_wavs True``.
    command : list of str, optional
        The command line running this preparation (a train script's ``sys.argv``): the error about unusable
        wavs then gives that command with ``--skip_bad_wavs True``.
    audio_check_cache : str, optional
        The JSON file where what was read of each wav is remembered (``custom_modules.audio_checks.AudioChecks``;
        None: the machine's default), so that a wav is read once, here and at every later start of training.
    protocol : str
        ``sessions`` (the paper's) or ``speakers``.

    Returns
    -------
    dict
        The summary: counts per split, class, session, dropped labels and skipped utterances.

    Example
    -------
    >>> import os, tempfile
    >>> from synthetic.corpus import generate_corpus
    >>> corpus, out = tempfile.mkdtemp(), tempfile.mkdtemp()
    >>> _ = generate_corpus(corpus, seed=0)
    >>> summary = prepare_iemocap(corpus, out, test_session=2)
    >>> sorted(os.listdir(out))
    ['prepare_options.json', 'test.json', 'train.json', 'valid.json']
    >>> summary["splits"]["test"]["sessions"]
    {'2': ...}
    """
    return prepare_fold(
        "iemocap",
        save_folder,
        test_session,
        data_folder=data_folder,
        protocol=protocol,
        valid_ratio=valid_ratio,
        seed=seed,
        min_duration=min_duration,
        skip_bad_wavs=skip_bad_wavs,
        command=command,
        audio_check_cache=audio_check_cache,
    )


def _boolean(text):
    if text not in ("True", "False", "true", "false"):
        raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")
    return text in ("True", "true")


def main(argv=None):
    """Command-line entry point; errors are printed without a traceback."""
    command = sys.argv if argv is None else ["iemocap_prepare.py", *argv]
    parser = argparse.ArgumentParser(prog="iemocap_prepare.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_folder", required=True, help="IEMOCAP_full_release or its parent")
    parser.add_argument("--save_folder", required=True, help="where the manifests are written")
    parser.add_argument(
        "--test_session", required=True, help="held-out session, 1-5 (--protocol speakers: speaker, 1-10)"
    )
    parser.add_argument("--protocol", choices=("sessions", "speakers"), default="sessions", help="default: %(default)s")
    parser.add_argument("--valid_ratio", type=float, default=0.1)
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="seed of the validation draw (the training yaml's)"
    )
    parser.add_argument("--min_duration", type=float, default=0.1)
    parser.add_argument(
        "--skip_bad_wavs",
        type=_boolean,
        default=False,
        metavar="{True,False}",
        help="True leaves out unusable wavs (listed) instead of stopping; spelled as in the train scripts",
    )
    parser.add_argument(
        "--audio_check_cache",
        default=None,
        help="JSON file remembering the wavs already checked (default: one per machine in the user's cache folder)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        prepare_iemocap(**vars(args), command=command)
    except RecipeInputError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return INPUT_ERROR_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main())
