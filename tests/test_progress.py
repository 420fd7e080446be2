"""Progress output: plain lines when redirected, a live bar on a terminal."""

from __future__ import annotations

import io

from fmlearn._progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_lines_when_not_a_terminal():
    out = io.StringIO()
    progress = Progress(1, 2, enabled=True, unit="sweep", stream=out)
    progress.update(1, 0.5, {"rmse": 0.9}, 0.25)
    progress.update(2, 0.4, {"rmse": 0.8}, 0.25)
    progress.close()
    lines = out.getvalue().splitlines()
    assert lines == [
        "sweep    1/2  train_loss 0.50000  valid_rmse 0.90000  0.250s",
        "sweep    2/2  train_loss 0.40000  valid_rmse 0.80000  0.250s",
    ]


def test_bar_on_a_terminal_shows_loss_and_metric():
    out = _Terminal()
    progress = Progress(1, 3, enabled=True, stream=out)
    for epoch in (1, 2, 3):
        progress.update(epoch, 0.5, {"auc": 0.75}, 0.01)
    progress.close()
    text = out.getvalue()
    assert "3/3" in text and "loss=0.50000" in text and "auc=0.75000" in text
    assert "\r" in text  # redrawn in place, not one line per epoch


def test_disabled_is_silent():
    out = _Terminal()
    progress = Progress(1, 3, enabled=False, stream=out)
    progress.update(1, 0.5, {}, 0.01)
    progress.close()
    assert out.getvalue() == ""


def test_the_first_compilation_is_announced_once(monkeypatch):
    """A new install's first fit compiles kernels for seconds: say so once, on stderr."""
    from numba import njit

    from fmlearn._progress import _FirstCompilation, announce_compilation

    monkeypatch.setattr(_FirstCompilation, "said", False)
    stream = io.StringIO()

    @njit
    def double(x):
        return 2 * x

    @njit
    def triple(x):
        return 3 * x

    with announce_compilation(stream):
        pass  # nothing compiled: nothing said
    assert stream.getvalue() == ""
    with announce_compilation(stream), announce_compilation(stream):
        assert double(2) == 4 and triple(2) == 6  # two compilations, two listeners
    assert stream.getvalue().count("compiling kernels (first run only") == 1
    with announce_compilation(stream):
        assert double(3) == 6  # compiled already
    assert stream.getvalue().count("compiling") == 1
