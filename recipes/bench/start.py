"""The stage-start section (``--start_utterances``): a stage's steps before its backbone (corpus check, preparation,
audio checks, datasets: ``train_stage1.py``'s) on a generated corpus, first start, restart and a new run, beside
one read of every wav.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import json
import math
import os
import statistics
import time

from corpora.iemocap import check_corpus
from custom_modules.audio_checks import read_audio_facts
from custom_modules.constants import SPLITS
from custom_modules.data import (
    dataio_prepare,
    leave_out_unusable,
    unbuilt_hparams,
)
from iemocap_prepare import prepare_iemocap
from recipes import REPO
from synthetic.corpus import generate_corpus

# The generated corpus of a stage-start measurement: every dialog of a session (9 improvised, 27 scripted) with
# sentences of 2 to 20 words (about 4 s per turn); about 80% of the generated turns are in the four classes.
START_CORPUS = {"impro_dialogs": 9, "script_dialogs": 27, "min_words": 2, "max_words": 20}


KEPT_SHARE = 0.8


def start_corpus(folder, n_utterances, seed):
    """A generated IEMOCAP-format corpus of about ``n_utterances`` utterances in the four classes (kept if there).

    Arguments
    ---------
    folder : str
        The corpus goes to ``<folder>/IEMOCAP_full_release``.
    n_utterances : int
    seed : int

    Returns
    -------
    str
        ``folder`` (a ``data_folder``).
    """
    release = os.path.join(folder, "IEMOCAP_full_release")
    marker = os.path.join(folder, "start_corpus.json")
    recipe = {"n_utterances": n_utterances, "seed": seed, **START_CORPUS}
    if os.path.isfile(marker):
        with open(marker, encoding="utf-8") as handle:
            if json.load(handle) == recipe:
                return folder
    dialogs = 5 * (START_CORPUS["impro_dialogs"] + START_CORPUS["script_dialogs"])
    turns_per_dialog = max(1, math.ceil(n_utterances / (KEPT_SHARE * dialogs)))
    generate_corpus(release, seed=seed, turns_per_dialog=turns_per_dialog, **START_CORPUS)
    with open(marker, "w", encoding="utf-8") as handle:
        json.dump(recipe, handle)
    return folder


def stage_start(data_folder, output_folder, test_session, audio_check_cache):
    """The start of a stage-1 run before its backbone: ``train_stage1.py``'s steps from the corpus check to the
    check of every utterance before training, with the yaml's settings (nothing is built from it).

    Arguments
    ---------
    data_folder : str
    output_folder : str
    test_session : int
    audio_check_cache : str

    Returns
    -------
    dict
        The fold's datasets.
    """
    overrides = {
        "data_folder": data_folder,
        "output_folder": output_folder,
        "test_session": test_session,
        "audio_check_cache": audio_check_cache,
    }
    hparams = unbuilt_hparams(os.path.join(REPO, "hparams", "stage1.yaml"), overrides)
    check_corpus(hparams["data_folder"], hparams["test_session"])
    os.makedirs(hparams["output_folder"], exist_ok=True)
    prepare_iemocap(
        data_folder=hparams["data_folder"],
        save_folder=hparams["manifest_folder"],
        test_session=hparams["test_session"],
        valid_ratio=hparams["valid_ratio"],
        seed=hparams["seed"],
        min_duration=hparams["min_duration"],
        skip_bad_wavs=hparams["skip_bad_wavs"],
        audio_check_cache=hparams["audio_check_cache"],
    )
    datasets, _, _ = dataio_prepare(hparams)
    datasets, _ = leave_out_unusable(datasets, hparams)
    return datasets


def measure(args, work_dir):
    """Wall time of a stage's start before its backbone (``stage_start``) on a generated corpus of IEMOCAP's size:
    a first start (every wav read once, by preparation), a restart of the same run, and a new run (another fold)
    on the same machine, beside one read of every wav (what the check before training cost at every start
    before the audio checks were remembered; a first start read every wav twice).

    The read of every wav and the first start begin with the corpus out of the operating system's page cache
    (``posix_fadvise(DONTNEED)``, on Linux): they read from this machine's disk, as a first start does; on a
    network filesystem every read costs more.

    Arguments
    ---------
    args : argparse.Namespace
    work_dir : str

    Returns
    -------
    dict
    """
    folder = args.start_corpus_folder or os.path.join(work_dir, "start_corpus")
    corpus = start_corpus(folder, args.start_utterances, args.seed)
    runs = os.path.join(work_dir, "start_runs")
    cache = os.path.join(runs, "audio_checks.json")
    clock = time.perf_counter

    def timed(function, *function_args):
        begin = clock()
        value = function(*function_args)
        return clock() - begin, value

    manifests = stage_start(corpus, os.path.join(runs, "listing"), 3, os.path.join(runs, "listing.json"))
    wavs = sorted({entry["wav"] for split in SPLITS for entry in manifests[split].data.values()})
    cold = _evict_from_page_cache(wavs)
    read_s, _ = timed(lambda: [read_audio_facts(wav) for wav in wavs])
    _evict_from_page_cache(wavs)
    first_s, datasets = timed(stage_start, corpus, os.path.join(runs, "fold1"), 1, cache)
    restart_times = [timed(stage_start, corpus, os.path.join(runs, "fold1"), 1, cache)[0] for _ in range(3)]
    new_run_s, _ = timed(stage_start, corpus, os.path.join(runs, "fold2"), 2, cache)
    restart_s = statistics.median(restart_times)
    hours = sum(entry["duration"] for split in SPLITS for entry in datasets[split].data.values()) / 3600
    return {
        "utterances": len(wavs),
        "audio_hours": hours,
        "corpus": f"synthetic.corpus.generate_corpus, {json.dumps(START_CORPUS)}",
        "cold_reads": cold,
        "read_every_wav_s": read_s,
        "first_start_s": first_s,
        "restart_s": restart_s,
        "restart_times_s": restart_times,
        "new_run_s": new_run_s,
        "restart_over_first_start": restart_s / first_s,
        "clock": "wall",
    }


def _evict_from_page_cache(paths):
    """Drops the files from the operating system's page cache, where it can (Linux); says whether it could."""
    if not hasattr(os, "posix_fadvise"):
        return False
    for path in paths:
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(descriptor)
    return True


def report(start):
    """The section's Markdown table (``format_report`` in ``recipes/benchmark.py`` joins them)."""
    reads = "from disk" if start["cold_reads"] else "files possibly in the page cache"
    lines = [
        f"| stage start before the backbone, {start['utterances']:,} utterances ({start['audio_hours']:.1f} h), "
        f"first reads {reads} | wall s | / one read of every wav |",
        "|---|---|---|",
    ]
    for label, key in (
        ("one read of every wav (before: every start's check; a first start's twice)", "read_every_wav"),
        ("first start (preparation reads every wav once)", "first_start"),
        ("restart of the same run", "restart"),
        ("a new run (another fold) on the same machine", "new_run"),
    ):
        ratio = start[f"{key}_s"] / start["read_every_wav_s"]
        lines.append(f"| {label} | {start[f'{key}_s']:.2f} | {ratio:.3f} |")
    return lines
