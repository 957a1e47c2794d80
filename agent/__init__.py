"""conciliador: an on-premise agent that reconciles bank statements with an ERP's open invoices.

Plugins import what they need from here and nothing else:

    from conciliador import hookimpl, BankFormat, StatementLine, StatementError
"""

from importlib.metadata import PackageNotFoundError, version

from .contracts import HEAD_BYTES, BankFormat, ConnectorSettings, ErpConnector, ReferenceExtractor
from .errors import ConciliadorError, ConfigError, ConnectorError, PermanentError, RetryableError, StatementError
from .hookspecs import hookimpl
from .models import (
    Application,
    CheckResult,
    Customer,
    Decision,
    DecisionKind,
    Evidence,
    OpenItem,
    Posting,
    PostingKind,
    PostingResult,
    StatementLine,
    StatementSummary,
)

try:
    __version__ = version("conciliador")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "HEAD_BYTES",
    "Application",
    "BankFormat",
    "CheckResult",
    "ConciliadorError",
    "ConfigError",
    "ConnectorError",
    "ConnectorSettings",
    "Customer",
    "Decision",
    "DecisionKind",
    "ErpConnector",
    "Evidence",
    "OpenItem",
    "PermanentError",
    "Posting",
    "PostingKind",
    "PostingResult",
    "ReferenceExtractor",
    "RetryableError",
    "StatementError",
    "StatementLine",
    "StatementSummary",
    "hookimpl",
    "__version__",
]
