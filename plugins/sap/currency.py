"""How many decimals SAP keeps for a currency, asked of SAP itself.

SAP stores every amount as a packed number with two decimals and reads it with the decimals table
``TCURX`` gives the currency (two when it is not listed): 1,190,000 COP is ``11900.00`` inside a
system where COP has no decimals, as SAP delivers it (SAP note 137626), and ``1190000.00`` where
the customer kept two. BAPIs and the S/4HANA APIs convert to the external value; ``RFC_READ_TABLE``
(bulk reading) does not. So the connector never assumes: it asks ``BAPI_CURRENCY_GETDECIMALS``
(released, remote-enabled; ``CURRENCY`` in, ``CURRENCY_DECIMALS-CURDECIMALS`` and ``RETURN`` out)
once per currency and keeps the answer. The ``currency_decimals`` setting stands in only when SAP
cannot be asked (no ``S_RFC`` for the function, or no ``/sap/bc/soap/rfc`` on an S/4HANA system).

Two kinds of use:

- :meth:`CurrencyDecimals.read`: the amount is wrong without it (bulk reading): raise when unknown.
- :meth:`CurrencyDecimals.get`: checks and rounding that SAP repeats anyway (amounts of a posting,
  items the BAPIs already converted): None when unknown, and the caller goes on without.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog

from conciliador import PermanentError, RetryableError

from .errors import raise_for_return
from .rfc import FunctionMissing, IcfRefused

if TYPE_CHECKING:
    from .rfc import RfcClient
    from .settings import SapSettings

log = structlog.get_logger(__name__)

GET_DECIMALS = "BAPI_CURRENCY_GETDECIMALS"
#: After SAP refused to be asked (no authority, service not active), ask again after this long.
ASK_AGAIN_SECONDS = 600.0


class CurrencyDecimals:
    def __init__(self, rfc: RfcClient, settings: SapSettings) -> None:
        self.rfc = rfc
        self.settings = settings
        self.known: dict[str, int] = {}
        self.source: dict[str, str] = {}  # currency -> "SAP" or "setting", for check()
        self.unavailable: str | None = None  # why SAP could not be asked; not asked again for a while
        self._ask_again_at = 0.0

    def _ask(self, currency: str) -> int | None:
        """SAP's answer, None when SAP cannot be asked. Transient trouble propagates (nothing is
        remembered, so the next use asks again); a currency SAP does not know is a PermanentError."""
        if self.unavailable is not None and time.monotonic() < self._ask_again_at:
            return None
        action = f"read the decimals of currency {currency}"
        try:
            result = self.rfc.call(GET_DECIMALS, action, CURRENCY=currency)
        except (FunctionMissing, IcfRefused, PermanentError) as exc:
            # No S_RFC for the function, or no SOAP for RFC: asking at every read would not help.
            # But a 403/404 can also be an ICM or SICF hiccup, and an authorisation can be granted:
            # ask again after a while (check() asks at once).
            self.unavailable = str(exc)
            self._ask_again_at = time.monotonic() + ASK_AGAIN_SECONDS
            log.warning("sap_currency_decimals_unavailable", function=GET_DECIMALS, error=str(exc),
                        fallback=self.settings.currency_decimals)
            return None
        self.unavailable = None
        raise_for_return(result.RETURN, action=action)
        structure = result.CURRENCY_DECIMALS
        value = getattr(structure, "CURDECIMALS", None) if structure is not None else None
        try:
            decimals = int(value)
        except (TypeError, ValueError):
            raise RetryableError(f"SAP's {GET_DECIMALS} answered no decimals for {currency} ({value!r})") from None
        setting = self.settings.currency_decimals.get(currency)
        if setting is not None and setting != decimals:
            log.warning("sap_currency_decimals_setting_differs", currency=currency, sap=decimals, setting=setting,
                        reason="SAP's TCURX wins; the setting is only used when SAP cannot be asked")
        return decimals

    def read(self, currency: str) -> int:
        """The decimals SAP keeps for ``currency``; raises when neither SAP nor the setting says."""
        currency = currency.strip().upper()
        if currency in self.known:
            return self.known[currency]
        decimals = self._ask(currency)
        source = "SAP"
        if decimals is None:
            decimals, source = self.settings.currency_decimals.get(currency), "setting"
        if decimals is None:
            raise PermanentError(
                f"SAP: the decimals of currency {currency} are unknown, so its amounts cannot be read right "
                f"({self.unavailable}). Ask the SAP security team to add {GET_DECIMALS} to the user's S_RFC "
                f"(it is released and only reads TCURX), or set currency_decimals = {{ {currency} = N }} in the "
                "settings with the decimals SAP's table TCURX gives it (2 when it is not listed)")
        if source == "SAP":  # the setting stands in only while SAP cannot be asked: not remembered
            self.known[currency] = decimals
        self.source[currency] = source
        return decimals

    def get(self, currency: str) -> int | None:
        """As :meth:`read`, or None when the decimals are unknown or cannot be asked for now."""
        try:
            return self.read(currency)
        except (PermanentError, RetryableError) as exc:
            log.debug("sap_currency_decimals_unknown", currency=currency, error=str(exc))
            return None

    def of_rows(self, currencies: set[str]) -> dict[str, int]:
        """The known decimals of ``currencies``, for normalising a batch of line items."""
        out = {}
        for currency in currencies:
            decimals = self.get(currency) if currency else None
            if decimals is not None:
                out[currency] = decimals
        return out
