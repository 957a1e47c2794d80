"""The HTTP side of the SAP emulator: ICF logon, ``/sap/bc/soap/wsdl11``, ``/sap/bc/soap/rfc``.

What it reproduces of SAP's ICF and SOAP runtime for RFC:

- HTTP basic logon against the client in ``sap-client`` (401 with SAP's realm otherwise; a user
  is locked after five failed logons, as ``login/fails_to_user_lock`` does by default);
- the WSDL generated from the function's interface (:mod:`.wsdl`);
- one function per request, each request its own session: what a function registered for the
  update task is discarded unless the same request commits (so ``BAPI_TRANSACTION_COMMIT`` in a
  second request commits nothing);
- ``S_RFC`` per function (SOAP fault ``RFC_AUTHORIZATION_FAILURE``), ABAP exceptions as SOAP
  faults named after the exception, ``RETURN`` messages for application errors;
- injectable trouble: latency, an HTTP 500 from the ICM, a lock held by another user, and a
  timeout *after* the work was committed (the answer comes later than the client waits).
"""

from __future__ import annotations

import base64
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from lxml import etree

from . import ddic
from .functions import AbapException, Context, bapiret2
from .ledger import SapMessage
from .wsdl import NS, element_name, wsdl

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
LOGON_ATTEMPTS = 5


@dataclass
class User:
    password: str
    functions: set[str] = field(default_factory=lambda: {"*"})  # S_RFC
    company_codes: set[str] = field(default_factory=lambda: {"*"})  # F_BKPF_BUK
    tables: set[str] = field(default_factory=lambda: {"*"})  # S_TABU_DIS
    decimal_notation: str = "X"
    failed_logons: int = 0
    locked: bool = False


@dataclass
class Injection:
    function: str  # a function name, or "*"
    kind: str  # latency | http500 | timeout | lock | screen; S/4 SOAP also fault | fault_after_commit
    times: int = 1
    seconds: float = 0.0


class SapServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, emulator: Any) -> None:
        self.emulator = emulator
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SapServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle and delayed ACKs add 40 ms a call.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read the call log instead
        pass

    # -- plumbing --------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str = "text/xml; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        try:
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped waiting (an injected timeout): SAP's work is done all the same

    def _logon(self, query: dict[str, list[str]]) -> tuple[str, User] | None:
        emu = self.server.emulator
        client = (query.get("sap-client") or [emu.client])[0]
        header = self.headers.get("Authorization", "")
        name = password = ""
        if header.startswith("Basic "):
            try:
                name, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
            except ValueError:
                name = ""
        user = emu.users.get(name.upper())
        ok = client == emu.client and user is not None and not user.locked and user.password == password
        if ok:
            user.failed_logons = 0
            return name.upper(), user
        if user is not None and client == emu.client and not user.locked:
            user.failed_logons += 1
            user.locked = user.failed_logons >= LOGON_ATTEMPTS
        text = "User is locked. Please notify the person responsible" if user is not None and user.locked \
            else "Logon failed"
        body = f"<html><head><title>Logon Error Message</title></head><body>{text}</body></html>".encode()
        self._send(401, body, "text/html; charset=utf-8",
                   {"WWW-Authenticate": f'Basic realm="SAP NetWeaver Application Server [{emu.sid}/{emu.client}]"'})
        return None

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    # -- GET: WSDL (and the S/4 OData service) -------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        logon = self._logon(query)
        if logon is None:
            return
        emu = self.server.emulator
        if url.path == "/sap/bc/soap/wsdl11":
            names = [n.strip().upper() for n in ",".join(query.get("services") or []).split(",") if n.strip()]
            missing = [n for n in names if n not in emu.interfaces]
            if not names or missing:
                text = f"Function module {', '.join(missing) or '(none)'} does not exist or is not remote-enabled"
                self._send(500, f"<html><body><h1>500 SAP Internal Server Error</h1><p>{escape(text)}</p>"
                                f"</body></html>".encode(), "text/html; charset=utf-8")
                return
            address = f"http://{emu.advertised_host}/sap/bc/soap/rfc"
            self._send(200, wsdl([emu.interfaces[n] for n in names], address).encode())
            return
        route = emu.get_routes.get(url.path)
        if route is not None:
            route(self, url, query, logon)
            return
        self._send(404, b"<html><body>404 Not found</body></html>", "text/html")

    # -- POST: SOAP ----------------------------------------------------------------------------------
    def do_POST(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        body = self._read_body()
        logon = self._logon(query)
        if logon is None:
            return
        emu = self.server.emulator
        if url.path in emu.post_routes:
            emu.post_routes[url.path](self, url, query, body, logon)
            return
        if url.path != "/sap/bc/soap/rfc":
            self._send(404, b"<html><body>404 Not found</body></html>", "text/html")
            return
        name, user = logon
        try:
            root = etree.fromstring(body, _PARSER)
            call = root.find(f"{{{SOAP_ENV}}}Body")[0]
        except (etree.XMLSyntaxError, TypeError, IndexError):
            self._send(500, fault("soap-env:Client", "Request is not a SOAP message", "", ""))
            return
        function = etree.QName(call).localname.replace("_-", "/")
        emu.calls.append(function)
        interface = emu.interfaces.get(function)
        if interface is None:
            self._send(500, fault("soap-env:Client", f"Function module {function} not found", function,
                                  "FU_NOT_FOUND"))
            return
        if "*" not in user.functions and function not in user.functions:
            self._send(500, fault("soap-env:Client", "RFC_AUTHORIZATION_FAILURE", function, "RFC_AUTHORIZATION_FAILURE",
                                  f"User {name} has no RFC authorization for function module {function}."))
            return
        injection = emu.take_injection(function)
        if injection is not None and injection.kind == "http500":
            self._send(500, b"<html><head><title>500 Internal Server Error</title></head><body>"
                            b"<h1>500 Internal Server Error</h1><p>ICM_HTTP_INTERNAL_ERROR</p></body></html>",
                       "text/html; charset=utf-8")
            return
        if injection is not None and injection.kind == "latency":
            time.sleep(injection.seconds)
        params = decode(call, interface)
        ctx = Context(user=name, functions=user.functions, company_codes=user.company_codes, tables=user.tables,
                      decimal_notation=user.decimal_notation)
        try:
            if injection is not None and injection.kind == "lock":
                raise SapMessage("F5", "165", "0000000000", "----", "BATCH_CLEARING")
            if injection is not None and injection.kind == "screen":
                # POSTING_INTERFACE_* in mode N stops on a screen it has no data for: no document,
                # E_SUBRC <> 0 and message 00 344 of type S, nothing posted.
                raise SapMessage("00", "344", "SAPMF05A", "0710", msgtype="S")
            result = emu.handlers[function](params, ctx)
        except AbapException as exc:
            self._send(500, fault("soap-env:Client", exc.name, function, exc.name, exc.text))
            return
        except SapMessage as msg:
            # A posting function answers a lock (or any message raised before its own handling) in RETURN.
            result = {p.name: ([bapiret2(msg)] if p.name == "RETURN" else [] if p in interface.tables else "")
                      for p in (*interface.exports, *interface.tables)}
            if msg.type != "E" and "E_SUBRC" in result:
                result["E_SUBRC"] = "1001"
        except Exception as exc:  # an ABAP runtime error (short dump, ST22) as SAP reports it
            self._send(500, fault("soap-env:Server", "SYSTEM_FAILURE", function, "SYSTEM_FAILURE",
                                  f"Runtime error in {function}: {exc!r}"))
            return
        # The session ends with the request: whatever it did not commit is rolled back.
        ctx.pending.clear()
        payload = encode(function, interface, result)
        if injection is not None and injection.kind == "timeout":
            time.sleep(injection.seconds)  # committed already; the answer comes too late
        self._send(200, payload)


def fault(code: str, string: str, function: str, name: str, text: str = "") -> bytes:
    detail = ""
    if function:
        tag = f"rfc:{element_name(function)}.Exception"
        detail = (f'<detail><{tag} xmlns:rfc="{NS}"><Name>{escape(name)}</Name><Text>{escape(text)}</Text>'
                  f'<Message><ID/><Number>000</Number></Message></{tag}></detail>')
    return (f'<soap-env:Envelope xmlns:soap-env="{SOAP_ENV}"><soap-env:Body><soap-env:Fault>'
            f'<faultcode>{code}</faultcode><faultstring xml:lang="en">{escape(string)}</faultstring>{detail}'
            '</soap-env:Fault></soap-env:Body></soap-env:Envelope>').encode()


def decode(call: etree._Element, interface: ddic.Function) -> dict[str, Any]:
    tables = {p.name for p in interface.tables}
    structures = {p.name for p in (*interface.imports, *interface.exports) if p.simple is None}
    params: dict[str, Any] = {}
    for child in call:
        name = etree.QName(child).localname
        if name in tables:
            params[name] = [{etree.QName(f).localname: (f.text or "") for f in item} for item in child]
        elif name in structures:
            params[name] = {etree.QName(f).localname: (f.text or "") for f in child}
        else:
            params[name] = (child.text or "").strip()
    return params


def _value(v: Any) -> str:
    if v is None:
        return ""
    return escape(str(v))


def encode(function: str, interface: ddic.Function, result: dict[str, Any]) -> bytes:
    name = element_name(function)
    parts = [f'<soap-env:Envelope xmlns:soap-env="{SOAP_ENV}"><soap-env:Header/><soap-env:Body>'
             f'<n0:{name}.Response xmlns:n0="{NS}">']
    for p in interface.exports:
        value = result.get(p.name, "")
        if p.simple is None:
            fields = ddic.STRUCTURES[p.ref]
            value = value or {}
            parts.append(f"<{p.name}>" + "".join(f"<{f.name}>{_value(value.get(f.name, ''))}</{f.name}>"
                                                 for f in fields) + f"</{p.name}>")
        else:
            parts.append(f"<{p.name}>{_value(value)}</{p.name}>")
    for p in interface.tables:
        fields = [f.name for f in ddic.STRUCTURES[p.ref]]
        rows = result.get(p.name) or []
        parts.append(f"<{p.name}>")
        for row in rows:
            parts.append("<item>" + "".join(f"<{f}>{_value(row.get(f, ''))}</{f}>" for f in fields) + "</item>")
        parts.append(f"</{p.name}>")
    parts.append(f"</n0:{name}.Response></soap-env:Body></soap-env:Envelope>")
    return "".join(parts).encode("utf-8")


def start_server(emulator: Any) -> tuple[SapServer, threading.Thread]:
    server = SapServer(emulator)
    if emulator.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*emulator.tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="sap-emulator",
                              daemon=True)
    thread.start()
    return server, thread

