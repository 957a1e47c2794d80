"""Named crash points for crash-consistency tests.

``CONCILIADOR_CRASH_AT=poster.after_post:3`` makes the process kill itself with SIGKILL the
third time it reaches ``poster.after_post``: the moment that matters most (the ERP committed, the
store has not recorded it yet) is then tested on purpose, not by luck. Unset, a crash point costs
one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

_ENV = "CONCILIADOR_CRASH_AT"
_hits: dict[str, int] = {}


def crash_point(name: str) -> None:
    spec = os.environ.get(_ENV)
    if not spec:
        return
    wanted, _, nth = spec.partition(":")
    if wanted != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
