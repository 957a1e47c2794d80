"""Calling remote-enabled function modules over SAP's SOAP runtime (``/sap/bc/soap/rfc``) with zeep.

- One ``requests.Session`` per connector: basic logon, ``sap-client`` on every request, TLS checked
  against the configured CA bundle, connections kept alive.
- The WSDL of each function is loaded from ``/sap/bc/soap/wsdl11?services=FUNCTION`` the first time
  it is called (SAP generates it from the function's interface, so it is always the live one), but
  calls go to ``/sap/bc/soap/rfc`` on the configured host: the WSDL's own ``soap:address`` names the
  application server as SAP knows itself, often an internal host behind the ICM or a proxy.
- After SAP refuses the logon (HTTP 401) the connector stops calling for ``logon_pause_seconds``:
  retrying a wrong password would lock the SAP user (``login/fails_to_user_lock``, 5 by default).

Sources: erp-dian.md 1.2 (transport), SAP Help "SOAP Runtime for RFC"; zeep's Client/Transport API.
"""

from __future__ import annotations

import re
import time
from typing import Any

import requests
import structlog
import zeep
import zeep.exceptions
from zeep.transports import Transport

from conciliador import PermanentError, RetryableError

from .errors import from_fault
from .settings import SapSettings

log = structlog.get_logger(__name__)


class FunctionMissing(RetryableError):
    """SAP has no remote-enabled function of that name. Retryable for postings (they wait until the
    SAP team creates it); a read that cannot do without it says so as a PermanentError."""


class IcfRefused(RetryableError):
    """HTTP 403/404 for an ICF service: not active in SICF, or not open to the user. Retryable
    (IT fixes it, postings wait); a caller that can do without the service may stop asking."""


class SapSession(requests.Session):
    """A session whose configured CA bundle wins over ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``:
    requests lets those variables replace the session's ``verify`` whenever a call (as zeep's do)
    passes none, so a machine-wide setting would silently override the CA IT configured for SAP."""

    def request(self, method, url, **kwargs):  # type: ignore[override]
        if kwargs.get("verify") is None and isinstance(self.verify, str):
            kwargs["verify"] = self.verify
        return super().request(method, url, **kwargs)


class RfcClient:
    def __init__(self, settings: SapSettings) -> None:
        self.settings = settings
        self.session = SapSession()
        self.session.auth = (settings.user, settings.password.get_secret_value())
        self.session.params = {"sap-client": settings.client}
        self.session.verify = str(settings.ca_bundle) if settings.ca_bundle else settings.verify_tls
        self.session.headers["User-Agent"] = "conciliador-sap"
        self.transport = Transport(session=self.session, timeout=settings.timeout_seconds,
                                   operation_timeout=settings.timeout_seconds)
        self.zeep_settings = zeep.Settings(strict=False, xml_huge_tree=True)
        self.proxies: dict[str, Any] = {}
        self._logon_refused_at: float | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.settings.base_url}/sap/bc/soap/rfc"

    def wsdl_url(self, function: str) -> str:
        return f"{self.settings.base_url}/sap/bc/soap/wsdl11?services={function}"

    def close(self) -> None:
        self.session.close()
        self.proxies.clear()

    def guard_logon(self) -> None:
        if self._logon_refused_at is None:
            return
        waited = time.monotonic() - self._logon_refused_at
        if waited < self.settings.logon_pause_seconds:
            raise RetryableError(
                f"SAP refused the logon of user {self.settings.user} in client {self.settings.client} "
                f"{waited:.0f} s ago; not trying again for {self.settings.logon_pause_seconds - waited:.0f} s, so "
                "the SAP user is not locked by repeated failures. Check the user and password in the "
                "configuration, then restart or reload the agent")
        self._logon_refused_at = None

    def http_error(self, status: int, body: bytes | str | None, what: str) -> Exception:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
        snippet = " ".join(re.sub(r"<[^>]*>", " ", re.sub(r"<\?xml[^>]*>|<title>.*?</title>", " ", text)).split())[:300]
        if status == 401:
            self._logon_refused_at = time.monotonic()
            return RetryableError(
                f"SAP refused the logon of user {self.settings.user} in client {self.settings.client} ({what}): "
                f"{snippet or 'HTTP 401'}. Check user, password and client; the user may be locked (SU01)")
        if status in (403, 404):
            return IcfRefused(f"SAP answered HTTP {status} for {what}: {snippet}. Check that the ICF services "
                              "/sap/bc/soap/rfc and /sap/bc/soap/wsdl11 are active (transaction SICF)")
        if status >= 500 or status in (408, 429):
            return RetryableError(f"SAP answered HTTP {status} for {what}: {snippet or 'no text'}")
        return PermanentError(f"SAP answered HTTP {status} for {what}: {snippet}", erp_message=snippet)

    def transport_error(self, exc: requests.RequestException, what: str) -> RetryableError:
        if isinstance(exc, requests.exceptions.SSLError):
            return RetryableError(f"TLS with {self.settings.base_url} failed ({what}): {exc}. Set ca_bundle to the "
                                  "PEM file of the CA that signed SAP's certificate")
        if isinstance(exc, requests.exceptions.Timeout):
            return RetryableError(f"SAP did not answer {what} within {self.settings.timeout_seconds:g} s; if it was "
                                  "a posting, SAP may have made it: the agent looks it up by key before sending again")
        return RetryableError(f"cannot reach SAP at {self.settings.base_url} ({what}): {_reason(exc)}")

    def service(self, function: str) -> Any:
        """The zeep proxy for ``function``, loading its WSDL on first use."""
        proxy = self.proxies.get(function)
        if proxy is not None:
            return proxy
        self.guard_logon()
        what = f"the WSDL of {function}"
        try:
            client = zeep.Client(self.wsdl_url(function), transport=self.transport, settings=self.zeep_settings)
        except requests.HTTPError as exc:
            response = exc.response
            status = response.status_code if response is not None else 0
            error = self.http_error(status, response.content if response is not None else b"", what)
            if status == 500 and "does not exist" in str(error):
                error = FunctionMissing(f"SAP has no remote-enabled function {function}: {error}. The SAP team must "
                                        "create it (docs/sap.md) or the setting naming it must be corrected")
            raise error from None
        except requests.RequestException as exc:
            raise self.transport_error(exc, what) from None
        except (zeep.exceptions.Error, ValueError) as exc:
            raise RetryableError(f"SAP's {what} could not be read: {exc}") from None
        binding = next(iter(client.wsdl.bindings))
        proxy = client.create_service(binding, self.endpoint)
        self.proxies[function] = proxy
        return proxy

    def call(self, function: str, action: str, **params: Any) -> Any:
        """Call ``function``; ``action`` says in a few words what for (it goes into error messages)."""
        proxy = self.service(function)
        self.guard_logon()
        started = time.perf_counter()
        try:
            result = getattr(proxy, function.replace("/", "_-"))(**params)
        except zeep.exceptions.Fault as fault:
            if isinstance(fault.detail, (bytes, str)):
                # An HTTP 500 whose body is no SOAP fault: the ICM or a proxy, not the function.
                raise self.http_error(500, fault.detail, f"{function} ({action})") from None
            raise from_fault(fault, function=function, action=action) from None
        except zeep.exceptions.TransportError as exc:
            raise self.http_error(exc.status_code, exc.content, f"{function} ({action})") from None
        except requests.RequestException as exc:
            raise self.transport_error(exc, f"{function} ({action})") from None
        except (zeep.exceptions.Error, ValueError) as exc:
            raise RetryableError(f"SAP's answer to {function} ({action}) could not be read: {exc}") from None
        log.debug("sap_call", function=function, seconds=round(time.perf_counter() - started, 3))
        return result


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "timed out", "No route to host",
                   "Connection reset"):
        if marker in text:
            return marker
    return text[:200]
