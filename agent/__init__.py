"""conciliador: an on-premise agent that reconciles bank statements with an ERP's open invoices.

Plugins import what they need from here and nothing else:

    from conciliador import hookimpl, BankFormat, StatementLine, StatementError

A plugin module also declares the plugin API it was written for (see :data:`PLUGIN_API_VERSION`)::

    CONCILIADOR_PLUGIN_API = "1"
"""

from importlib.metadata import PackageNotFoundError, version

from .contracts import HEAD_BYTES, MAYBE_BELOW, BankFormat, ConnectorSettings, ErpConnector, ReferenceExtractor
from .errors import ConciliadorError, ConfigError, ConnectorError, PermanentError, RetryableError, StatementError
from .hookspecs import hookimpl
from .pluginhost import PLUGIN_API_VERSION
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
    Withholding,
)

try:
    __version__ = version("conciliador")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "HEAD_BYTES",
    "MAYBE_BELOW",
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
    "PLUGIN_API_VERSION",
    "PermanentError",
    "Posting",
    "PostingKind",
    "PostingResult",
    "ReferenceExtractor",
    "RetryableError",
    "StatementError",
    "StatementLine",
    "StatementSummary",
    "Withholding",
    "hookimpl",
    "__version__",
]
