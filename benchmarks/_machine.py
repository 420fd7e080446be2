"""What every benchmark prints: progress on stderr and one line describing the machine.

Benchmarks compare numbers across runs and machines, so each table carries the CPU,
core count, library versions, load and date it was measured with.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys

import numba
import numpy as np

import fmlearn


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def machine_line() -> str:
    return (
        f"machine: {platform.platform()} | CPU {cpu_model()} | {os.cpu_count()} cores | "
        f"python {platform.python_version()} | numpy {np.__version__} | "
        f"numba {numba.__version__} | fmlearn {fmlearn.__version__} | "
        f"numba threads {numba.config.NUMBA_NUM_THREADS} | "
        f"load avg {os.getloadavg()[0]:.2f} | "
        f"{datetime.datetime.now().isoformat(timespec='minutes')}"
    )


def peak_rss_mib() -> float:
    """This process's peak resident set size in MiB: ``VmHWM`` where Linux has it.

    ``ru_maxrss`` is not used there: at ``exec`` Linux carries the spawning process's
    resident size into it (a child of a 1 GiB parent reported 1,049 MiB; its VmHWM was
    9 MiB), so a benchmark's child processes would report their parent's memory.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
