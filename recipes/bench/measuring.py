"""How the benchmark measures: timings in turns with their reference (round robin after warm-up, the same seed
per round) and the median ratio within a round, peak memory of a step above its start (CUDA's allocator, or on
CPU the process's resident set), the device's name, and the Markdown rows the reports are made of.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import ctypes
import gc
import platform
import statistics
import time

import torch

CLOCKS = {"wall": time.perf_counter, "process": time.process_time}


def bare_step(hf_model, optimizer, wavs, device, timings, clock=time.perf_counter):
    """One step of the bare backbone: forward, mean of the last layer, backward, optimizer step.

    Arguments
    ---------
    hf_model : torch.nn.Module
        The Hugging Face model.
    optimizer : torch.optim.Optimizer
        Over its trainable parameters.
    wavs : torch.Tensor
        ``[batch, samples]`` (moved to ``device`` inside, as the Brain does with its batch).
    device : str
    timings : list
        The optimizer step's duration is appended here.
    clock : callable
        Returns the time in seconds.
    """
    hf_model.train()
    hf_model(wavs.to(device)).last_hidden_state.mean().backward()
    synchronize(device)
    start = clock()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    synchronize(device)
    timings.append(clock() - start)


class ForwardTimer:
    """Time spent in one module's forward, summed until ``take()`` (CUDA events on GPU: no extra sync).

    Arguments
    ---------
    module : torch.nn.Module
    device : str
    clock : callable
        Returns the time in seconds (on CPU).
    """

    def __init__(self, module, device, clock=time.perf_counter):
        self.cuda = str(device).startswith("cuda")
        self.clock = clock
        self.spans = []
        self.handles = [module.register_forward_pre_hook(self._start), module.register_forward_hook(self._stop)]

    def _now(self):
        if not self.cuda:
            return self.clock()
        event = torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def _start(self, module, args):
        self.spans.append([self._now(), None])

    def _stop(self, module, args, output):
        self.spans[-1][1] = self._now()

    def take(self):
        """Seconds spent in the module since the last call (call it after synchronising)."""
        if self.cuda:
            total = sum(start.elapsed_time(end) / 1000 for start, end in self.spans)
        else:
            total = sum(end - start for start, end in self.spans)
        self.spans = []
        return total

    def remove(self):
        """Removes the hooks."""
        for handle in self.handles:
            handle.remove()


def time_in_turns(steps, repeats, warmup, device, seed, module_timers=None, clock=time.perf_counter):
    """Times several step functions in turns (round robin), so machine load affects them alike.

    Each round seeds torch the same way before every function, so the same dropout and LayerDrop draws
    happen in functions that run the same model.

    Arguments
    ---------
    steps : dict
        Name -> function without arguments.
    repeats : int
        Timed rounds.
    warmup : int
        Untimed rounds first.
    device : str
    seed : int
    module_timers : dict
        Optional name -> ``ForwardTimer`` whose time is recorded with that step.
    clock : callable
        Returns the time in seconds.

    Returns
    -------
    times : dict
        Name -> list of step durations (s).
    module_times : dict
        Name -> list of the timed module's durations (s) within those steps.
    """
    module_timers = module_timers or {}
    times = {name: [] for name in steps}
    module_times = {name: [] for name in module_timers}
    for round_index in range(warmup + repeats):
        for name, step in steps.items():
            torch.manual_seed(seed + round_index)
            synchronize(device)
            if name in module_timers:
                module_timers[name].take()
            start = clock()
            step()
            synchronize(device)
            elapsed = clock() - start
            if round_index >= warmup:
                times[name].append(elapsed)
                if name in module_timers:
                    module_times[name].append(module_timers[name].take())
    return times, module_times


def paired_ratio(numerators, denominators):
    """Median over rounds of the ratio of two quantities timed in the same round.

    Pairing by round cancels what a round shares (machine load, LayerDrop's choice of layers), which a ratio
    of two medians taken from different rounds would not.

    Arguments
    ---------
    numerators : list of float
    denominators : list of float

    Returns
    -------
    float

    Example
    -------
    >>> paired_ratio([2.0, 6.0, 3.0], [1.0, 3.0, 3.0])
    2.0
    """
    return statistics.median(a / b for a, b in zip(numerators, denominators, strict=True))


def peak_step_memory(step, device):
    """Peak memory of one call of ``step``.

    Arguments
    ---------
    step : callable
    device : str

    Returns
    -------
    dict
        ``step_mb``: peak over the step above what was held at its start (activations, gradients,
        temporaries); ``peak_mb``: the absolute peak of the whole benchmark process (both stages' models and
        optimizers, so not what one training run holds); ``method``. None where unavailable.
    """
    gc.collect()
    if str(device).startswith("cuda"):
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device)
        method = "torch.cuda.max_memory_allocated after reset_peak_memory_stats, minus memory_allocated before the step"
        return {"step_mb": (peak - before) / 2**20, "peak_mb": peak / 2**20, "method": method}
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")  # resets VmHWM to the current RSS
    except OSError:
        step()
        return {"step_mb": None, "peak_mb": None, "method": "unavailable (needs Linux /proc/self/clear_refs)"}
    before = proc_status_kb("VmRSS")
    step()
    peak = proc_status_kb("VmHWM")
    method = "CPU resident set (VmHWM after malloc_trim and clear_refs, minus VmRSS before the step)"
    return {"step_mb": (peak - before) / 1024, "peak_mb": peak / 1024, "method": method}


def memory_per_audio_second(step_memory, double_batch_memory, audio_seconds):
    """What a training step needs per second of audio in its batch, from its peak memory (``peak_step_memory``)
    at a batch and at a batch twice as large (the same utterance length): the slope, which is the activations
    kept for the backward pass and the temporaries, and the intercept, what it needs whatever the batch (the
    gradients, the optimizer's temporaries). With the weights and the optimizer's state, they tell what batch
    fits on a device: intercept + slope x batch size x longest utterance (s).

    Arguments
    ---------
    step_memory, double_batch_memory : dict
        ``peak_step_memory`` of the step and of the step on twice the audio.
    audio_seconds : float
        Seconds of (padded) audio in the first batch.

    Returns
    -------
    dict
        ``mb_per_audio_s``, ``batch_independent_mb`` (None where memory is not measured) and ``double_batch_mb``.

    Example
    -------
    >>> memory_per_audio_second({"step_mb": 1300.0}, {"step_mb": 2100.0}, 8.0)
    {'mb_per_audio_s': 100.0, 'batch_independent_mb': 500.0, 'double_batch_mb': 2100.0}
    """
    small, large = step_memory["step_mb"], double_batch_memory["step_mb"]
    if small is None or large is None:
        return {"mb_per_audio_s": None, "batch_independent_mb": None, "double_batch_mb": large}
    slope = (large - small) / audio_seconds
    return {"mb_per_audio_s": slope, "batch_independent_mb": small - slope * audio_seconds, "double_batch_mb": large}


def device_name(device):
    if str(device).startswith("cuda"):
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def proc_status_kb(field):
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}.")


def synchronize(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize(device)


def ratio(numerator, denominator):
    return None if numerator is None or not denominator else numerator / denominator


def table_row(label, values, fmt, target=""):
    cells = ["n/a" if v is None else fmt.format(v) for v in values]
    return f"| {label} | {' | '.join(cells)} | {target} |"


def megabytes(value):
    return "n/a" if value is None else f"{value:.0f} MB"
