"""What makes an audio file unusable for training, checked the same way by preparation and by training, each file
read once.

Checking a file means reading every sample (a valid header can sit on truncated data, NaNs or silence): about 7 h
of audio for IEMOCAP, at every start of every run. ``AudioChecks`` remembers what it read of each file in a JSON
file shared by every run of the machine (``audio_check_cache``), keyed by the file's path, size and modification
times, so a later start reads only the files that are new or changed since.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import json
import os

import numpy as np
import soundfile
from speechbrain.utils.logger import get_logger
from tqdm import tqdm

from custom_modules.constants import SAMPLE_RATE

logger = get_logger(__name__)

# A file whose samples never exceed this (in [-1, 1]) holds no speech: a zeroed or cut recording.
SILENCE_PEAK = 1e-4
# Bumped whenever what is read from a file changes, so that facts remembered by an older recipe are read again.
FACTS_VERSION = 1
# The progress bar of a long check shows up after this many seconds (short checks stay quiet).
PROGRESS_DELAY_S = 2.0


def default_audio_check_cache():
    """The JSON file where ``AudioChecks`` remembers files by default: one per machine (per user), in the user's
    cache folder (``$XDG_CACHE_HOME``, else ``~/.cache``), as huggingface_hub keeps its own.

    Returns
    -------
    str
    """
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache_home, "ser-two-stage-adapters", "audio_checks.json")


def read_audio_facts(path):
    """Reads what the checks need to know about an audio file: its header and a summary of every sample.

    Arguments
    ---------
    path : str

    Returns
    -------
    dict
        ``frames``, ``sample_rate``, ``channels``, ``finite`` (no NaN or inf) and ``peak`` (largest absolute
        sample), or ``unreadable`` (the error) for a file soundfile cannot read; ``missing`` if there is no file.
    """
    if not os.path.isfile(path):
        return {"missing": True}
    try:
        info = soundfile.info(path)
    except Exception as error:  # soundfile raises several types for corrupt headers
        return {"unreadable": str(error)}
    facts = {"frames": info.frames, "sample_rate": info.samplerate, "channels": info.channels}
    if info.frames == 0:
        return {**facts, "finite": True, "peak": 0.0}
    try:
        samples, _ = soundfile.read(path, dtype="float32")
    except Exception as error:  # truncated or corrupt data after a valid header
        return {"unreadable": str(error)}
    finite = bool(np.isfinite(samples).all())
    peak = float(np.abs(samples).max()) if finite else float("nan")
    return {**facts, "finite": finite, "peak": peak}


def problem_from_facts(facts, min_duration, sample_rate=SAMPLE_RATE):
    """Says what is wrong with an audio file for training, if anything, from ``read_audio_facts``.

    Arguments
    ---------
    facts : dict
    min_duration : float
        Seconds; shorter files cannot be encoded (wav2vec 2.0 needs at least its receptive field).
    sample_rate : int or None
        The rate the backbone expects; None: any rate (the audio is resampled when read).

    Returns
    -------
    reason : str or None
        None when the file is fine; otherwise starts with the kind of problem (``missing wav``,
        ``unreadable wav``, ``empty wav``, ``not mono``, ``wrong sample rate``, ``too short``,
        ``non-finite samples``, ``silent wav``).
    duration : float or None
        Seconds, when the file is fine.

    Example
    -------
    >>> facts = {"frames": 800, "sample_rate": 16000, "channels": 1, "finite": True, "peak": 0.5}
    >>> problem_from_facts(facts, 0.1)
    ('too short: 0.050 s < 0.1 s', None)
    >>> problem_from_facts(facts, 0.01)
    (None, 0.05)
    """
    if facts.get("missing"):
        return "missing wav", None
    if "unreadable" in facts:
        return f"unreadable wav: {facts['unreadable']}", None
    if facts["frames"] == 0:
        return "empty wav", None
    if facts["channels"] != 1:
        return f"not mono: {facts['channels']} channels", None
    if sample_rate is not None and facts["sample_rate"] != sample_rate:
        return f"wrong sample rate: {facts['sample_rate']} Hz instead of {sample_rate}", None
    duration = facts["frames"] / facts["sample_rate"]
    if duration < min_duration:
        return f"too short: {duration:.3f} s < {min_duration} s", None
    if not facts["finite"]:
        return "non-finite samples (NaN or inf)", None
    if facts["peak"] < SILENCE_PEAK:
        return "silent wav: every sample is (close to) zero", None
    return None, round(duration, 4)


def audio_problem(path, min_duration, sample_rate=SAMPLE_RATE):
    """Says what is wrong with an audio file for training, if anything, reading it (``problem_from_facts``).

    Arguments
    ---------
    path : str
    min_duration : float
        Seconds.
    sample_rate : int

    Returns
    -------
    reason : str or None
    duration : float or None

    Example
    -------
    >>> audio_problem("/no/such/file.wav", 0.1)
    ('missing wav', None)
    """
    return problem_from_facts(read_audio_facts(path), min_duration, sample_rate)


class AudioChecks:
    """The audio checks of many files, each file read once: what was read is remembered in a JSON file under the
    file's real path, with its size and modification times, so a file changed since is read again.

    Several runs may share the JSON file (each saves by merging into what is there and replacing it atomically:
    at worst a verdict is lost and its file read again). A file that cannot be written is a warning: the checks
    still work, they are just not remembered.

    Arguments
    ---------
    cache_file : str, optional
        The JSON file; None for ``default_audio_check_cache()``.

    Example
    -------
    >>> import tempfile
    >>> tmp = tempfile.mkdtemp()
    >>> wav = os.path.join(tmp, "a.wav")
    >>> soundfile.write(wav, np.full(8000, 0.1, dtype="float32"), 16000)
    >>> checks = AudioChecks(os.path.join(tmp, "checks.json"))
    >>> checks.read([wav]); checks.problem(wav, 0.1), (checks.files_read, checks.files_remembered)
    ((None, 0.5), (1, 0))
    >>> again = AudioChecks(os.path.join(tmp, "checks.json"))
    >>> again.read([wav]); again.problem(wav, 1.0), (again.files_read, again.files_remembered)
    (('too short: 0.500 s < 1.0 s', None), (0, 1))
    """

    def __init__(self, cache_file=None):
        self.cache_file = cache_file or default_audio_check_cache()
        self.facts = {}
        self.files_read = self.files_remembered = 0

    def read(self, paths, remember=True, progress=True):
        """Gets the facts of every file of ``paths``: remembered ones from the JSON file, the others read (with a
        progress bar if that takes long), then remembered.

        Arguments
        ---------
        paths : iterable of str
        remember : bool
            Save what was read into the JSON file.
        progress : bool
            Show a progress bar when reading takes more than ``PROGRESS_DELAY_S`` seconds.
        """
        remembered = self._load()
        to_read = {}
        for path in dict.fromkeys(paths):
            key, stamp = _file_key(path)
            entry = remembered.get(key)
            if stamp is not None and entry is not None and entry["stamp"] == stamp:
                self.facts[path] = entry["facts"]
                self.files_remembered += 1
            else:
                to_read[path] = (key, stamp)
        new_entries = {}
        items = to_read.items()
        if progress:
            items = tqdm(items, desc="Checking audio files", unit="file", delay=PROGRESS_DELAY_S)
        for path, (key, stamp) in items:
            self.facts[path] = read_audio_facts(path)
            self.files_read += 1
            if stamp is not None:
                new_entries[key] = {"stamp": stamp, "facts": self.facts[path]}
        logger.info(
            "Audio checks: %d files, %d remembered from earlier checks (%s), %d read.",
            len(self.facts),
            self.files_remembered,
            self.cache_file,
            self.files_read,
        )
        if remember and new_entries:
            self._save(new_entries)

    def problem(self, path, min_duration, sample_rate=SAMPLE_RATE):
        """``problem_from_facts`` of a file given to ``read``.

        Arguments
        ---------
        path : str
        min_duration : float
        sample_rate : int

        Returns
        -------
        reason : str or None
        duration : float or None
        """
        return problem_from_facts(self.facts[path], min_duration, sample_rate)

    def _load(self):
        try:
            with open(self.cache_file, encoding="utf-8") as handle:
                content = json.load(handle)
        except (OSError, ValueError):
            return {}
        return content["files"] if content.get("version") == FACTS_VERSION else {}

    def _save(self, new_entries):
        merged = self._load()
        # Entries of files that are gone or changed are dropped: the file does not grow with old copies.
        merged = {key: entry for key, entry in merged.items() if _file_key(key)[1] == entry["stamp"]}
        merged.update(new_entries)
        temporary = f"{self.cache_file}.{os.getpid()}.tmp"
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.cache_file)), exist_ok=True)
            with open(temporary, "w", encoding="utf-8") as handle:
                json.dump({"version": FACTS_VERSION, "files": merged}, handle)
            os.replace(temporary, self.cache_file)
        except OSError as error:
            logger.warning(
                "Cannot remember the audio checks in %s (%s): later starts will read the files again. Set "
                "audio_check_cache to a writable file.",
                self.cache_file,
                error,
            )


def _file_key(path):
    """The file's real path, and its size, modification and status-change times (ns), or None if it does not
    exist. The status-change time cannot be set back (``cp -p`` and ``rsync -t`` keep the modification time only),
    so a file replaced by another of the same size and modification time is read again too."""
    real = os.path.realpath(path)
    try:
        stat = os.stat(real)
    except OSError:
        return real, None
    return real, [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]
