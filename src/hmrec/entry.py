"""The ``hmrec`` command's entry point: the signal handling first, then the CLI.

SIGTERM (what ``kill``, systemd and container runtimes send) unwinds the run as an error does:
temporary folders are removed and locks released (``atomic.staged``, ``atomic.locked``), and
the command exits 143. Ctrl-C at any moment, while the CLI's libraries are still being
imported too, ends with one line and exit code 130, never a traceback.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType


def _terminated(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _terminated)
    try:
        from hmrec.cli import app

        app()
    except KeyboardInterrupt:  # the blocks it unwound have cleaned up; exit now, with the shell's code
        print("interrupted", file=sys.stderr, flush=True)
        os._exit(130)  # not sys.exit: an interpreter interrupted while importing may re-raise SIGINT at exit
