"""Where ``run_folds.py`` runs stages on this machine: device slots (one device, or a group of GPUs for DDP, per
fold at a time) and the stage subprocesses, each in a process group of its own so that a signal reaches a stage
and everything it started.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

from recipes import REPO


class DeviceError(ValueError):
    """``--devices`` / ``--nproc_per_node`` name no usable set of devices; the message says why."""


class ChildProcesses:
    """The stage subprocesses running now, each in a process group of its own, so that a signal reaches a stage
    and everything it started (``torchrun``'s workers, data loader workers) and nothing else."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running = []
        self._stopped = False

    def start(self, command, output, env):
        """Starts ``command`` with stdout and stderr to the file ``output``; returns its ``Popen``, or None once
        ``stop`` was called (a stage about to start when the run was stopped)."""
        with self._lock:  # no stop() between the start and the bookkeeping
            if self._stopped:
                return None
            process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=REPO, start_new_session=True
            )
            self._running.append(process)
        return process

    def forget(self, process):
        """Called once a process ended."""
        with self._lock:
            self._running.remove(process)

    def count(self):
        """How many stages run now."""
        with self._lock:
            return len(self._running)

    def stop(self, signum, grace=None):
        """Sends ``signum`` to every running stage's process group; with ``grace`` (seconds), kills those still
        running after it and returns once all ended."""
        with self._lock:
            self._stopped = True
            running = list(self._running)
        for process in running:
            _signal_group(process, signum)
        if grace is None:
            return
        deadline = time.time() + grace
        # poll(), not wait(): this may run in a signal handler that interrupted a wait() on the same process.
        while any(process.poll() is None for process in running) and time.time() < deadline:
            time.sleep(0.2)
        for process in running:
            if process.poll() is None:
                _signal_group(process, signal.SIGKILL)


def _signal_group(process, signum):
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass  # ended meanwhile


@dataclass
class DeviceSlot:
    """Where a fold runs: a name for the progress lines, run options for the train scripts, environment."""

    name: str
    run_options: list = field(default_factory=list)
    env: dict = field(default_factory=dict)


def device_slots(devices=None, nproc_per_node=1, visible_devices=None):
    """The places folds run in parallel: one slot per device, or per group of ``nproc_per_node`` GPUs (DDP).

    Arguments
    ---------
    devices : list of str
        ``cpu``, ``cuda``, ``cuda:<index>``; None: the train scripts' own choice (SpeechBrain: cuda:0 if
        available, else cpu). A device listed twice runs two folds on it at once.
    nproc_per_node : int
        DDP processes per stage. With more than one, ``cuda:<index>`` devices are grouped in that order and each
        group is made the visible devices of its fold (``CUDA_VISIBLE_DEVICES``, nccl); ``cpu`` uses gloo.
    visible_devices : str
        The ``CUDA_VISIBLE_DEVICES`` of this process, so that ``cuda:<index>`` means the same device in the
        children as here.

    Returns
    -------
    list of DeviceSlot

    Example
    -------
    >>> [slot.run_options for slot in device_slots(["cuda:0", "cuda:1"])]
    [['--device', 'cuda:0'], ['--device', 'cuda:1']]
    >>> [(slot.name, slot.env) for slot in device_slots(["cuda:0", "cuda:1", "cuda:2", "cuda:3"], 2, "4,5,6,7")]
    [('cuda:0+cuda:1', {'CUDA_VISIBLE_DEVICES': '4,5'}), ('cuda:2+cuda:3', {'CUDA_VISIBLE_DEVICES': '6,7'})]
    >>> device_slots(["cpu"], 2)[0].run_options
    ['--device', 'cpu', '--distributed_backend', 'gloo']
    """
    if nproc_per_node < 1:
        raise DeviceError(f"--nproc_per_node must be at least 1 (got {nproc_per_node}).")
    if nproc_per_node == 1:
        if not devices:
            return [DeviceSlot("the default device")]
        return [DeviceSlot(device, ["--device", device]) for device in devices]
    if not devices:
        import torch

        devices = ["cuda"] if torch.cuda.is_available() else ["cpu"]
    if all(device == "cpu" for device in devices):
        return [
            DeviceSlot(f"cpu ({nproc_per_node} processes)", ["--device", "cpu", "--distributed_backend", "gloo"])
            for _ in devices
        ]
    if list(devices) == ["cuda"]:
        return [DeviceSlot(f"{nproc_per_node} visible GPUs", ["--distributed_backend", "nccl"])]
    indices = []
    for device in devices:
        kind, _, index = device.partition(":")
        if kind != "cuda" or not index.isdigit():
            raise DeviceError(
                f"With --nproc_per_node {nproc_per_node}, --devices are cpu, cuda, or cuda:<index> GPUs (got {device})."
            )
        indices.append(int(index))
    if len(indices) % nproc_per_node:
        raise DeviceError(f"--devices lists {len(indices)} GPUs: not a multiple of --nproc_per_node {nproc_per_node}.")
    visible = visible_devices.split(",") if visible_devices else None
    slots = []
    for start in range(0, len(indices), nproc_per_node):
        group = indices[start : start + nproc_per_node]
        if visible and max(group) >= len(visible):
            raise DeviceError(f"cuda:{max(group)} is not among CUDA_VISIBLE_DEVICES={visible_devices}.")
        physical = [visible[i] if visible else str(i) for i in group]
        slots.append(
            DeviceSlot(
                "+".join(f"cuda:{i}" for i in group),
                ["--distributed_backend", "nccl"],
                {"CUDA_VISIBLE_DEVICES": ",".join(physical)},
            )
        )
    return slots
