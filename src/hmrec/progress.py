"""Progress for the Python API: each step once, as a plain line on stderr with the seconds since
the work began ("ranker: labelling week 3/5 (from 2020-08-26) … 41 s"). The CLI draws its own
(a live bar on a terminal, the same lines elsewhere)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

Step = Callable[[str], None]
"""Told of each step of a piece of work, as text (``on_step``); ``StepPrinter`` is one."""


class StepPrinter:
    """An ``on_step`` callback that writes each step it is told of, once, to ``stream``
    (default: ``sys.stderr`` at the time of the call) with the seconds since it was made."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream, self.start, self.last = stream, time.perf_counter(), ""

    def __call__(self, text: str) -> None:
        if text == self.last:
            return
        self.last = text
        stream = self.stream or sys.stderr
        print(f"{text} … {time.perf_counter() - self.start:.0f} s", file=stream, flush=True)
