"""Progress of a fit: a live bar on a terminal, one plain line per epoch elsewhere.

Solvers report each epoch or sweep here and never print themselves, so the Python API
(``verbose=1``) and the command line show the same thing. On a terminal the bar is
tqdm's (one well-kept library, already a dependency of most data stacks); when output is
redirected to a file or a notebook log, bars turn into unreadable carriage returns, so
the same information is written as one line per epoch instead.
"""

from __future__ import annotations

import sys

from numba.core import event as numba_event

from fmlearn._utils import is_terminal


class Progress:
    """Report epochs ``first … last``; ``enabled=False`` makes every call a no-op."""

    def __init__(self, first: int, last: int, *, enabled: bool, unit: str = "epoch", stream=None):
        self.first, self.last, self.unit = first, last, unit
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stdout
        self._bar = None
        if enabled and is_terminal(self.stream):
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=last - first + 1, unit=unit, file=self.stream, dynamic_ncols=True
            )

    def update(self, epoch: int, train_loss: float, scores: dict, seconds: float) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            postfix = {"loss": f"{train_loss:.5f}"}
            postfix.update({name: f"{value:.5f}" for name, value in scores.items()})
            self._bar.set_postfix(postfix, refresh=False)
            self._bar.update(1)
            return
        parts = [f"{self.unit} {epoch:>4d}/{self.last}", f"train_loss {train_loss:.5f}"]
        parts += [f"valid_{name} {value:.5f}" for name, value in scores.items()]
        parts.append(f"{seconds:.3f}s")
        print("  ".join(parts), file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class _FirstCompilation(numba_event.Listener):
    """Says once that numba is compiling: the first run of a new install spends seconds
    there (each kernel once; later runs load them from numba's on-disk cache), which
    looked like a hang."""

    said = False  # once per process, however many listeners are installed

    def __init__(self, stream):
        self.stream = stream

    def on_start(self, event) -> None:
        if not _FirstCompilation.said:
            _FirstCompilation.said = True
            print(
                "fmlearn: compiling kernels (first run only: numba caches them on disk)…",
                file=self.stream,
                flush=True,
            )

    def on_end(self, event) -> None:
        pass


def announce_compilation(stream=None):
    """A context in which the first numba compilation prints one line to ``stream``
    (stderr by default); kernels loaded from numba's cache print nothing."""
    listener = _FirstCompilation(stream if stream is not None else sys.stderr)
    return numba_event.install_listener("numba:compile", listener)
