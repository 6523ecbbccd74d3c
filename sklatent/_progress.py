"""Progress of long work, the one place sklatent reports it.

:class:`StageLog` prints a line per stage with the time elapsed (the demos,
``match_spaces(verbose=True)``); :func:`progress_bar` is a tqdm bar over rows
(``sklatent migrate apply``), or nothing when it is disabled, when stderr is
not a terminal, or without tqdm.
"""

import sys
import time


class StageLog:
    """Stage lines with the time elapsed since creation, when ``enabled``.

    Parameters
    ----------
    enabled : bool, default=True
        Whether calls print anything.
    prefix : str or None, default=None
        Printed in brackets before each line (``[match_spaces]``).
    stream : file-like or None, default=None
        Where lines go; None is ``sys.stderr`` at the time of the call.
    """

    def __init__(self, enabled=True, *, prefix=None, stream=None):
        self.enabled = bool(enabled)
        self.prefix = "" if prefix is None else f"[{prefix}] "
        self.stream = stream
        self.start = time.perf_counter()

    def __call__(self, message):
        if self.enabled:
            elapsed = time.perf_counter() - self.start
            print(
                f"{self.prefix}[{elapsed:6.1f} s] {message}",
                file=sys.stderr if self.stream is None else self.stream,
                flush=True,
            )


def progress_bar(total, *, enabled=True, unit="rows"):
    """A tqdm bar on stderr: ``(update, close)``; no-ops where there is no bar.

    Parameters
    ----------
    total : int or None
        The count the bar goes to.
    enabled : bool, default=True
        False gives no bar; so does a stderr that is not a terminal, or no tqdm.
    unit : str, default="rows"
        What is counted.

    Returns
    -------
    update : callable or None
        Called with the count done since the last call; None without a bar.
    close : callable
        Ends the bar.
    """
    if not enabled or not sys.stderr.isatty():
        return None, lambda: None
    try:
        from tqdm import tqdm
    except ImportError:
        return None, lambda: None
    bar = tqdm(total=total, unit=unit, file=sys.stderr)
    return bar.update, bar.close
