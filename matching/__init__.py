"""The matching engine: pure functions from statement lines and open items to decisions.

No I/O, no ERP, no files, no clock: the same input always gives the same decisions.
"""

from .config import MatchConfig
from .engine import Engine, normalise_reference

__all__ = ["Engine", "MatchConfig", "normalise_reference"]
