"""Stopping a training run that keeps a checkpoint cleanly on SIGINT (Ctrl-C) or SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterable, Iterator

logger = logging.getLogger(__name__)


class StopAfterEpochOnSignal:
    """While training with a checkpoint, the first SIGINT (Ctrl-C) or SIGTERM asks it to stop after
    the current epoch, whose checkpoint is then written; a second one interrupts at once.

    Handlers are installed only in the main thread, and the previous ones come back
    when the epochs end.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.requested = False

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        logger.warning("signal %d: stopping after this epoch and writing its checkpoint "
                       "(send it again to stop at once)", signum)

    def guard(self, epochs: Iterable[int]) -> Iterator[int]:
        """Iterate over ``epochs`` with the handlers installed."""
        if not self.enabled:
            yield from epochs
            return
        previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        try:
            yield from epochs
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
