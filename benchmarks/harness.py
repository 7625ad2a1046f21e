"""Shared pieces of the benchmarks: timing by the median of repeated runs, result rows,
and the machine description written beside every figure."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import time
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class Row:
    """One measured figure. ``value`` is in ``unit``; ``target`` is the bar it must meet
    (text such as "<= 37 ms"), empty when there is none; ``detail`` says how it was measured."""

    topic: str
    name: str
    value: float
    unit: str
    detail: str = ""
    target: str = ""
    passed: bool | None = None
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        record = asdict(self)
        record["value"] = float(self.value)  # numpy scalars are not JSON
        record["passed"] = None if self.passed is None else bool(self.passed)
        return record


def time_calls(fn, repeats: int = 7, warmup: int = 1) -> np.ndarray:
    """Wall-clock seconds of ``repeats`` calls of ``fn()`` after ``warmup`` unmeasured calls."""
    for _ in range(warmup):
        fn()
    seconds = np.empty(repeats)
    for k in range(repeats):
        start = time.perf_counter()
        fn()
        seconds[k] = time.perf_counter() - start
    return seconds


def timed_row(topic: str, name: str, fn, repeats: int = 7, warmup: int = 1, unit: str = "ms",
              target_max: float | None = None, detail: str = "") -> Row:
    """Time ``fn`` and report the median (in ms or s), with min/max and the repeat count."""
    seconds = time_calls(fn, repeats=repeats, warmup=warmup)
    scale = 1e3 if unit == "ms" else 1.0
    median = float(np.median(seconds)) * scale
    spread = f"median of {repeats} (min {seconds.min() * scale:.3g}, max {seconds.max() * scale:.3g} {unit})"
    row = Row(topic, name, median, unit, detail=f"{detail}; {spread}" if detail else spread)
    if target_max is not None:
        row.target = f"<= {target_max:g} {unit}"
        row.passed = median <= target_max
    return row


def machine() -> dict:
    """Where and when the figures were measured."""
    import numpy
    import pandas
    import scipy

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            names = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "pandas": pandas.__version__,
        "platform": platform.platform(),
    }


def control_row(topic: str, name: str, control, values, out=None, repeats: int = 21, warmup: int = 1,
                target_max: float | None = 100.0, detail: str = "") -> Row:
    """Time a widget's whole update for one control: each call sets ``control.value`` to the next
    of ``values`` (cycled, from the first that differs from the control's value) and returns once
    the callback has run (ipywidgets calls observers synchronously), so compute + drawing + the new
    ``out.outputs`` are all inside the time. With ``out`` (the explorer's ``Output``), every change must change ``out.outputs``; a change
    that leaves it as it was raises RuntimeError (a benchmark of nothing). Median in ms, target
    ``target_max`` ms (the 100 ms of a control that answers at once)."""
    import itertools

    values = list(values)
    if len(values) < 2 or any(a == b for a, b in zip(values, values[1:] + values[:1])):
        raise ValueError("values must hold at least two values, no two neighbours (cyclically) equal")
    first = next(k for k, value in enumerate(values) if value != control.value)  # the first call changes it
    cycle = itertools.cycle(values[first:] + values[:first])

    def change():
        before = out.outputs if out is not None else None
        control.value = next(cycle)
        if out is not None and out.outputs == before:
            raise RuntimeError(f"{name}: setting {type(control).__name__}.value did not change the output")

    return timed_row(topic, name, change, repeats=repeats, warmup=warmup, target_max=target_max, detail=detail)
