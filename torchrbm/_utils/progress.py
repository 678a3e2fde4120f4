"""Progress of long phases on stderr: tqdm bars on a terminal, plain lines in a log.

Every long phase of torchrbm (training epochs and their batches, AIS and reverse
AIS, the full pseudo-log-likelihood, Gibbs sampling, inpainting) reports through
:class:`Progress` when its ``progress`` argument is true.  Where stderr is a
terminal (or a Jupyter notebook shows the output) that is a tqdm bar.  Anywhere
else (a pipe, a file, a batch job's log) bars would fill the log with carriage
returns and cursor codes, so a phase writes plain lines instead, none of them
holding ``\\r`` or an escape code:

* ``lines="each"`` (training epochs): one line per step, when it is done;
* ``lines="timed"`` (the other phases): at most one line every
  :func:`interval` seconds (15 by default; the environment variable
  ``TORCHRBM_PROGRESS_SECONDS`` sets another), and one when the phase ends if it
  wrote any before, so that a short phase writes nothing;
* ``lines="none"`` (the batches within an epoch): nothing.

For example, ``torchrbm train ... 2> train.log`` writes one line per epoch::

    training: epoch 3 of 50 (2.1 s, about 49 s left); recon=0.0412
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sized
from typing import IO, Any, Literal

from tqdm.auto import tqdm
from tqdm.std import tqdm as console_tqdm

#: The environment variable that sets the seconds between two plain lines of a phase.
INTERVAL_VARIABLE = "TORCHRBM_PROGRESS_SECONDS"
#: Seconds between two plain lines of a phase, unless ``TORCHRBM_PROGRESS_SECONDS`` says otherwise.
DEFAULT_INTERVAL = 15.0

Lines = Literal["each", "timed", "none"]


def interval() -> float:
    """Seconds between two plain progress lines of a phase: ``$TORCHRBM_PROGRESS_SECONDS``, else 15."""
    text = os.environ.get(INTERVAL_VARIABLE)
    if text is None or not text.strip():
        return DEFAULT_INTERVAL
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value >= 0 or math.isinf(value):
        raise ValueError(f"{INTERVAL_VARIABLE} must be a number of seconds, 0 or more; found {text!r}")
    return value


def shows_bars(stream: IO[str]) -> bool:
    """Whether ``stream`` shows tqdm bars as bars: a terminal, or a notebook's output (tqdm's widgets)."""
    if sys.modules["tqdm.autonotebook"].tqdm is not console_tqdm:  # tqdm.auto chose its notebook bars
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _duration(seconds: float) -> str:
    """``seconds`` for a person: ``4.2 s``, ``75 s``, ``3.5 min``, ``1.2 h``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class Progress:
    """The progress of one phase, on stderr: a tqdm bar, plain lines (see the module) or nothing.

    Parameters
    ----------
    iterable:
        Items to pass through, counting one step each (as ``tqdm(iterable)``); or ``None``
        and :meth:`update` counts the steps.
    total:
        Number of steps (default: ``len(iterable)`` when it has one); ``None`` if unknown.
    desc, unit:
        What the phase is (``"AIS"``) and what a step is (``"beta"``).
    enabled:
        ``False`` shows nothing at all.
    lines:
        Where stderr shows no bars: ``"each"`` (a line per step), ``"timed"`` (a line at
        most every :func:`interval` seconds) or ``"none"`` (nothing).
    initial:
        Steps already done before (a resumed training run).
    leave:
        Keep the bar on the terminal when the phase ends.
    """

    def __init__(self, iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str,
                 unit: str = "step", enabled: bool = True, lines: Lines = "timed", initial: int = 0,
                 leave: bool = True) -> None:
        if lines not in ("each", "timed", "none"):
            raise ValueError(f"lines must be 'each', 'timed' or 'none'; found {lines!r}")
        if total is None and isinstance(iterable, Sized):
            total = len(iterable)
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc, unit
        self.n = self._first = initial
        self._postfix: dict[str, str] = {}
        self._stream = sys.stderr
        self._bar = None
        self._lines: Lines | None = None  # plain lines of this kind, or None
        if enabled and shows_bars(self._stream):
            self._bar = tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, leave=leave,
                             file=self._stream, mininterval=0.5)
        elif enabled and lines != "none":
            self._lines = lines
            self._interval = interval()
        self._started = self._last_line = time.monotonic()
        self._wrote = False

    @property
    def enabled(self) -> bool:
        """Whether this phase shows anything."""
        return self._bar is not None or self._lines is not None

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise TypeError("Progress without an iterable counts steps with update()")
        if self._bar is not None:
            yield from self._bar  # which closes the bar at the end
            return
        if self._lines is None:
            yield from self.iterable
            return
        try:
            for item in self.iterable:
                yield item
                self.update()
        finally:  # the items ran out, or the loop over them ended early
            self.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def set_postfix(self, **values: Any) -> None:
        """Values shown after the count (``beta=0.5``, ``recon=0.041``) from now on; numbers as given, so
        format them first."""
        self._postfix = {name: str(value) for name, value in values.items()}
        if self._bar is not None:
            self._bar.set_postfix(self._postfix, refresh=False)

    def update(self, n: int = 1) -> None:
        """Count ``n`` more steps done."""
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._lines == "each" or (self._lines == "timed" and time.monotonic() - self._last_line >= self._interval):
            self._write(self._line())

    def close(self) -> None:
        """End the phase: close its bar, or write its last line if it wrote any before."""
        if self._bar is not None:
            self._bar.close()
        elif self._lines == "timed" and self._wrote:
            self._write(self._line(done=True))
        self._bar = self._lines = None

    def _line(self, done: bool = False) -> str:
        step = f"{self.unit} {self.n}" + ("" if self.total is None else f" of {self.total}")
        elapsed = time.monotonic() - self._started
        if done:
            timing = f"done in {_duration(elapsed)}"
        else:
            timing = _duration(elapsed)
            steps = self.n - self._first
            if self.total is not None and steps > 0 and self.n < self.total:
                timing += f", about {_duration(elapsed / steps * (self.total - self.n))} left"
        postfix = ", ".join(f"{name}={value}" for name, value in self._postfix.items())
        return f"{self.desc}: {step} ({timing})" + (f"; {postfix}" if postfix else "")

    def _write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()
        self._last_line = time.monotonic()
        self._wrote = True
