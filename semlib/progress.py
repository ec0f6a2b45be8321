"""Progress of long loops.  Where a line can be redrawn (a terminal, a Jupyter kernel such as JupyterLab's), a tqdm
bar that redraws at most every SEMLIB_PROGRESS_S seconds (default 30) and at each status point the caller marks.
Elsewhere (a pipe, a log file, CI, the study runner ./run_all.sh, whose papermill log is kept) the status points are
printed as plain lines, `[semlib] step n/total | losses | it/s | eta`.  SEMLIB_PROGRESS=off prints nothing; =lines
forces plain lines."""
from __future__ import annotations

import os
import sys
import time

from tqdm.std import tqdm


def _redrawable() -> bool:
    if os.environ.get("SEMLIB_PROGRESS") == "lines" or os.environ.get("SEMLIB_STUDY") == "1":
        return False              # forced, or the study runner, whose papermill log is kept as a file
    if sys.stdout.isatty():
        return True
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and hasattr(ip, "kernel")


class _Lines:
    """tqdm's calls used by semlib, printing one status line per refresh."""

    def __init__(self, total: int, initial: int, desc: str, unit: str, disable: bool):
        self.total, self.n, self.desc, self.unit, self.disable = total, initial, desc, unit, disable
        self.postfix, self._t, self._n, self._printed = "", time.time(), initial, False

    def update(self, k: int = 1) -> None:
        self.n += k

    def set_postfix_str(self, s: str, refresh: bool = True) -> None:
        self.postfix = s
        if refresh:
            self.refresh()

    def refresh(self) -> None:
        if self.n == self._n and self._printed:
            return                    # nothing new since the last line (a postfix set and a refresh at one point)
        self._printed = True
        now = time.time()
        rate = (self.n - self._n) / max(now - self._t, 1e-9)
        self._t, self._n = now, self.n
        if not self.disable:
            eta = (self.total - self.n) / max(rate, 1e-9)
            print(f"{self.desc} {self.n}/{self.total} | {self.postfix} | {rate:.2f} {self.unit}/s | eta {eta / 60:.1f} min",
                  flush=True)

    def close(self) -> None:
        pass


def bar(total: int, *, initial: int = 0, desc: str = "[semlib] step", unit: str = "it"):
    """A progress bar on stdout (a stderr stream would render red in Jupyter) for total units, starting at initial;
    the caller calls update(k), set_postfix_str(s) and refresh() at its status points, and close()."""
    disable = os.environ.get("SEMLIB_PROGRESS", "on") == "off"
    if not _redrawable():
        return _Lines(total, initial, desc, unit, disable)
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, file=sys.stdout, ncols=120, disable=disable,
                mininterval=float(os.environ.get("SEMLIB_PROGRESS_S", 30)), smoothing=0.05,
                bar_format="{desc} {percentage:3.0f}%|{bar:20}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, "
                           "{rate_fmt}]{postfix}")
