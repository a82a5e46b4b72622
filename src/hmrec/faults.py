"""Named points where a test can kill the running process, to prove what a crash leaves.

``HMREC_FAULT=NAME`` in the environment makes ``point(NAME)`` kill the process there with
SIGKILL (no cleanup handler runs: what a power cut or ``kill -9`` does). ``HMREC_FAULT=NAME:once``
kills only the first process to get there: it first creates the file ``HMREC_FAULT_MARKER`` names,
and a process that finds that file goes on (a worker that dies once, then is retried). Unset, a
point costs one dictionary lookup. ``HMREC_FAULT=NAME:term`` sends SIGTERM instead (what ``kill``
sends: the run may clean up). Used only by tests/faults/.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

ENV = "HMREC_FAULT"
MARKER_ENV = "HMREC_FAULT_MARKER"


def point(name: str) -> None:
    """Die here, at once and without cleanup, when ``HMREC_FAULT`` names this point (with
    ``:once``, only when the marker file does not exist yet)."""
    fault = os.environ.get(ENV)
    if fault == name:
        os.kill(os.getpid(), signal.SIGKILL)
    if fault == f"{name}:term":
        os.kill(os.getpid(), signal.SIGTERM)
    if fault == f"{name}:once":
        marker = Path(os.environ[MARKER_ENV])
        try:
            marker.touch(exist_ok=False)
        except FileExistsError:
            return
        os.kill(os.getpid(), signal.SIGKILL)
