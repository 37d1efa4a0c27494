"""One driver per experiment folder: a lock file that names who holds it.

Two ``run_folds.py`` on the same experiment folder would start the same stages twice, and two processes training
into one output folder overwrite each other's checkpoints. The lock is the operating system's (``fcntl.flock``
on ``run_folds.lock``): it is released when its holder ends in any way, a crash or ``kill -9`` included, so a
stale file never blocks a later run. The file says who holds it (process id, host, start time, command), for the
message of the driver that is refused. ``flock`` works across the nodes of a cluster on NFS v4 and on Lustre or
GPFS mounted with locking (the default); on a file system without it the lock only guards one machine.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import fcntl
import json
import os
import shlex
import socket
import sys
import time

LOCK_FILE = "run_folds.lock"


class FolderInUseError(RuntimeError):
    """Another process holds the lock; the message names it and what to do."""


class FolderLock:
    """An exclusive lock on a folder, held from ``acquire`` (or ``with``) until ``release`` or the process ends.

    Arguments
    ---------
    folder : str
        Created if missing; the lock file goes into it.
    command : list of str
        What the holder runs (shown to a process that is refused), default ``sys.argv``.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with FolderLock(folder, ["run_folds.py", "--folds", "1"]):
    ...     try:
    ...         FolderLock(folder).acquire()
    ...     except FolderInUseError as error:
    ...         print(str(error).replace(folder, "<folder>").split(" (")[0])
    <folder>/run_folds.lock is held by another run_folds.py
    >>> FolderLock(folder).acquire().release()  # free again
    """

    def __init__(self, folder, command=None):
        self.path = os.path.join(folder, LOCK_FILE)
        self.command = list(sys.argv if command is None else command)
        self.handle = None

    def acquire(self):
        """Takes the lock, or raises ``FolderInUseError`` naming its holder. Returns self."""
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        # Opened without truncating: the holder's description must survive until the lock is ours.
        handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = _holder_text(handle.read())
            handle.close()
            raise FolderInUseError(
                f"{self.path} is held by another run_folds.py ({holder}). Two drivers on one folder would run the "
                "same stages twice: wait for it to end, or stop it (Ctrl-C or kill -INT its process id: its stages "
                "stop cleanly and the same command resumes them)."
            ) from None
        handle.seek(0)
        handle.truncate()
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": shlex.join(self.command),
        }
        handle.write(json.dumps(holder) + "\n")
        handle.flush()
        self.handle = handle
        return self

    def release(self):
        """Releases the lock (the file stays: removing it would race with a process that just opened it)."""
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()


def _holder_text(content):
    try:
        holder = json.loads(content)
        return f"process {holder['pid']} on {holder['host']}, since {holder['started']}: {holder['command']}"
    except (json.JSONDecodeError, KeyError, TypeError):
        return "holder unknown: it has not written its name yet"
