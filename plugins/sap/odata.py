"""Reading an OData V2 entity set of SAP Gateway page by page, for the S/4HANA back end.

Two kinds of paging meet here: the client's (``$top``/``$skip``, so one answer stays bounded
whatever the service does) and the server's (``__next``, which SAP Gateway adds when a service
caps its pages). Every page follows ``__next`` to its end before the next ``$skip``.

A 403 or 404 means the service is not activated (``/IWFND/MAINT_SERVICE``) or the user lacks
``S_SERVICE`` for it: :class:`ServiceRefused` (retryable, as for any HTTP trouble) lets a caller
that knows what to ask the SAP team for say so.

Source: OData V2 JSON format (``d.results``, ``d.__next``); SAP Gateway's ``/IWFND/MED/170``
"No service found for namespace" answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import requests

from conciliador import PermanentError, RetryableError

from .rfc import RfcClient


class ServiceRefused(RetryableError):
    """SAP answered 403/404 for an OData service: not active, or no ``S_SERVICE`` for the user."""

    def __init__(self, message: str, *, status: int, error: str) -> None:
        super().__init__(message, erp_message=error)
        self.status, self.error = status, error


def entities(rfc: RfcClient, path: str, params: Mapping[str, str], *, action: str,
             page_size: int | None = None) -> Iterator[dict[str, Any]]:
    """The rows of the entity set at ``path`` (below ``base_url``), with ``params`` ($filter,
    $select, $orderby) on every page. With ``page_size``, pages of that many rows by $top/$skip
    (give a $orderby on the key: without one SAP promises no order between pages)."""
    skip = 0
    while True:
        query = {**params, "$format": "json"}
        if page_size:
            query.update({"$top": str(page_size), "$skip": str(skip)})
        count = 0
        for row in _follow(rfc, f"{rfc.settings.base_url}{path}", query, action=action):
            count += 1
            yield row
        if not page_size or count < page_size:
            return
        skip += page_size


def _follow(rfc: RfcClient, url: str | None, params: dict[str, str] | None, *, action: str) -> Iterator[dict]:
    s = rfc.settings
    while url:
        rfc.guard_logon()
        try:
            response = rfc.session.get(url, params=params, timeout=s.timeout_seconds,
                                       headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise rfc.transport_error(exc, f"OData {action}") from None
        if response.status_code != 200:
            error = error_text(response)
            if response.status_code == 400:
                raise PermanentError(f"SAP refused the OData request to {action}: {error}", erp_message=error)
            if response.status_code in (403, 404):
                raise ServiceRefused(f"SAP answered HTTP {response.status_code} for OData {action}: {error}",
                                     status=response.status_code, error=error)
            raise rfc.http_error(response.status_code, error, f"OData {action}")
        try:
            data = response.json()["d"]
        except (ValueError, KeyError):
            raise RetryableError(f"SAP's OData answer to {action} is not OData V2 JSON") from None
        yield from data.get("results", [])
        url, params = data.get("__next"), None
        if url and not url.startswith(s.base_url):
            url = s.base_url + url[url.index("/sap/"):]  # SAP names its own host; ask ours


def error_text(response: requests.Response) -> str:
    try:
        return response.json()["error"]["message"]["value"]
    except (ValueError, KeyError, TypeError):
        return " ".join(re.sub(r"<[^>]*>", " ", response.text).split())[:300]
