"""Named points where a test can kill the running process, to prove what a crash leaves.

``HMREC_FAULT=NAME`` in the environment makes ``point(NAME)`` kill the process there with
SIGKILL (no cleanup handler runs: what a power cut or ``kill -9`` does). Unset, a point costs
one dictionary lookup. Used only by tests/faults/.
"""

from __future__ import annotations

import os
import signal

ENV = "HMREC_FAULT"


def point(name: str) -> None:
    """Die here, at once and without cleanup, when ``HMREC_FAULT`` names this point."""
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
