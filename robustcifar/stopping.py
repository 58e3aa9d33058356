"""Long runs stopped by a signal end like a Ctrl-C: with a message saying how to resume, not a traceback."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


class Stopped(KeyboardInterrupt):
    """SIGTERM, raised where the run is (a KeyboardInterrupt, so cleanup code treats both alike)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stopped(signum, frame) -> None:
    raise Stopped(signum)


@contextlib.contextmanager
def sigterm_as_stop() -> Iterator[None]:
    previous = signal.signal(signal.SIGTERM, _raise_stopped)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_code(exc: KeyboardInterrupt) -> int:
    """What a shell reports for the signal: 143 for SIGTERM, 130 for Ctrl-C."""
    return 128 + exc.signum if isinstance(exc, Stopped) else 130


def signal_name(exc: KeyboardInterrupt) -> str:
    return str(exc) if isinstance(exc, Stopped) else "SIGINT"
