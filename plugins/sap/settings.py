"""The SAP connector's settings: one ``[companies.NAME.erp_settings]`` table per company code.

docs/sap.md explains each setting for IT, with what the SAP team has to provide.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from conciliador import ConnectorSettings
from conciliador.config import Secret
from conciliador.models import normalise_account

_FUNCTION = re.compile(r"^[A-Z/][A-Z0-9_/]{0,29}$")
_GL = re.compile(r"^[0-9A-Z]{1,10}$")


class GlAccounts(ConnectorSettings):
    """G/L accounts of the company code (SKB1) the payment document posts to."""

    bank: str = Field(description="House bank G/L account the money arrives in (posting key 40).")
    bank_by_account: dict[str, str] = Field(
        default_factory=dict, description="Statement bank account -> its own bank G/L, when there are several.")
    retefuente: str = ""
    reteiva: str = ""
    reteica: str = ""
    discount: str = ""
    write_off: str = Field("", description="Differences within tolerance, including bank charges the payer's bank took.")

    @field_validator("bank", "retefuente", "reteiva", "reteica", "discount", "write_off")
    @classmethod
    def _account(cls, value: str) -> str:
        value = value.strip().upper()
        if value and not _GL.fullmatch(value):
            raise ValueError(f"{value!r} is not a G/L account number (up to 10 letters or digits)")
        return value.zfill(10) if value.isdigit() else value

    @field_validator("bank_by_account")
    @classmethod
    def _by_account(cls, value: dict[str, str]) -> dict[str, str]:
        out = {}
        for account, gl in value.items():
            gl = gl.strip().upper()
            if not _GL.fullmatch(gl):
                raise ValueError(f"bank_by_account[{account!r}] = {gl!r} is not a G/L account number")
            out[normalise_account(account)] = gl.zfill(10) if gl.isdigit() else gl
        return out


class S4Settings(ConnectorSettings):
    """Where the S/4HANA services live (backend = "s4_odata"). Paths are SAP's defaults."""

    open_items_service: str = "/sap/opu/odata/sap/API_OPLACCTGDOCITEMCUBE_SRV"
    journal_entry_post_path: str = "/sap/bc/srt/scs_ext/sap/journalentrycreaterequestconfi"
    journal_entry_clearing_path: str = "/sap/bc/srt/scs_ext/sap/journalentrybulkclearingreques"
    clearing_wait_seconds: float = Field(20.0, ge=0, le=600,
                                         description="How long to wait for the asynchronous clearing to show.")
    # SAP answers the clearing API later, in its AIF monitor or a confirmation it sends to a receiver
    # of its own: nothing a client can ask. A clearing that never shows may be refused (a period
    # closed after the journal entry posted): after this many requests, and this long after the
    # journal entry, the posting goes to finance instead of being sent again for ever.
    clearing_attempts: int = Field(3, ge=1, le=100,
                                   description="Clearing requests sent for one payment before it goes to finance.")
    clearing_give_up_seconds: float = Field(
        900.0, ge=0, le=30 * 86400,
        description="How long after the journal entry a clearing that does not show goes to finance.")
    business_partner_service: str = Field("/sap/opu/odata/sap/API_BUSINESS_PARTNER",
                                          description="Customers with customer_read = \"odata\".")
    # SAP names tax number categories by country and the KNA1 field they replicate to: CO1 is the
    # NIT in Tax Number 1 (STCD1) (IMG BUPA_TAXNUMTYPE; SAP Help, Colombia: "Tax Number").
    tax_number_type: str = Field("CO1", pattern=r"^[0-9A-Z]{1,4}$",
                                 description="BPTaxType of the NIT in A_BusinessPartnerTaxNumber.")


class SapSettings(ConnectorSettings):
    backend: Literal["ecc_soap", "s4_odata"] = "ecc_soap"
    base_url: str = Field(description="https://host:port of the SAP ICM, without a path.")
    allow_http: bool = Field(False, description="Accept an http:// base_url (password in clear): test systems only.")
    client: str = Field("100", pattern=r"^\d{3}$", description="SAP client, sent as sap-client.")
    user: str = Field(min_length=1, max_length=12)
    password: Secret
    ca_bundle: Path | None = Field(None, description="PEM file of the CA that signed SAP's certificate.")
    verify_tls: bool = True
    timeout_seconds: float = Field(60.0, gt=0, le=3600)
    in_doubt_seconds: float = Field(
        900.0, ge=0, le=86400,
        description="After a posting's answer is lost, wait this long from its send before looking it up: SAP's "
                    "work process goes on after the connector stopped waiting (ICM PROCTIMEOUT, rdisp/max_wprun_time).")
    company_code: str = Field(pattern=r"^[0-9A-Z]{4}$", description="BUKRS: this company's company code.")
    local_currency: str = Field("COP", pattern=r"^[A-Z]{3}$", description="The company code's currency (T001-WAERS).")
    special_gl_indicators: list[str] = Field(
        default_factory=list, description="Special G/L items (SP_GL_IND, e.g. down payments) read as open items.")
    gl_accounts: GlAccounts
    document_type: str = Field("DZ", pattern=r"^[0-9A-Z]{2}$")
    on_account_document_type: str = Field("DZ", pattern=r"^[0-9A-Z]{2}$")
    clearing_function: str = Field("Z_CONCILIADOR_CLEARING", validate_default=True)
    document_post_function: str = Field("Z_CONCILIADOR_ACC_DOC_POST", validate_default=True)
    reverse_function: str = Field("Z_CONCILIADOR_RESET_REVERSE", validate_default=True)
    customer_read: Literal["rfc_read_table", "function", "odata"] = "rfc_read_table"
    customer_function: str = Field("Z_CONCILIADOR_CUSTOMERS", validate_default=True)
    tax_id_field: Literal["STCD1", "STCD2"] = "STCD1"
    open_items_read: Literal["per_customer", "bulk"] = "per_customer"
    page_size: int = Field(5000, ge=100, le=100_000)
    # SAP's own decimals per currency (TCURX) are read with BAPI_CURRENCY_GETDECIMALS; these are
    # used only when SAP cannot be asked (the user lacks S_RFC for it).
    currency_decimals: dict[str, int] = Field(
        default_factory=dict, description="Fallback decimals per currency, as SAP's TCURX has them (COP = 0 ...).")
    logon_pause_seconds: float = Field(900.0, ge=0, le=86400)
    s4: S4Settings = Field(default_factory=S4Settings)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if "@" in value:
            # Never echo it: the part before "@" is a user and likely a password.
            raise ValueError("base_url must not carry a user or password (user@host); set user and password instead")
        if not re.fullmatch(r"https?://[^/\s]+", value):
            raise ValueError(f"{value!r} must be the scheme, host and port only, e.g. https://sap.example.com:44300")
        return value

    @field_validator("currency_decimals")
    @classmethod
    def _decimals(cls, value: dict[str, int]) -> dict[str, int]:
        out = {}
        for currency, decimals in value.items():
            currency = currency.strip().upper()
            if not re.fullmatch(r"[A-Z0-9]{1,5}", currency) or not 0 <= decimals <= 6:
                raise ValueError(f"currency_decimals: {currency!r} = {decimals} is not a currency key with 0 to 6 "
                                 "decimals")
            out[currency] = decimals
        return out

    @field_validator("user", "company_code")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.strip().upper()

    @field_validator("clearing_function", "document_post_function", "reverse_function", "customer_function")
    @classmethod
    def _function(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip().upper()
        if not _FUNCTION.fullmatch(value):
            raise ValueError(f"{value!r} is not a function module name")
        if info.field_name == "document_post_function" and value == "BAPI_ACC_DOCUMENT_POST":
            raise ValueError(
                "BAPI_ACC_DOCUMENT_POST cannot be called directly over /sap/bc/soap/rfc: every SOAP call is its own "
                "session, so the BAPI_TRANSACTION_COMMIT of a second call commits nothing and the document is lost. "
                "Name the remote-enabled wrapper that calls it and commits (docs/sap.md, Z_CONCILIADOR_ACC_DOC_POST)")
        return value

    @field_validator("ca_bundle")
    @classmethod
    def _relative_to_config(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        base = (info.context or {}).get("base_dir")
        if value is not None and base and not value.is_absolute():
            value = (Path(base) / value).resolve()
        if value is not None and not value.is_file():
            raise ValueError(f"the CA bundle {value} does not exist")
        return value

    @model_validator(mode="after")
    def _tls(self) -> "SapSettings":
        if self.base_url.startswith("http://") and not self.allow_http:
            # Basic logon: the SAP user's password would cross the network readable by anyone on it.
            raise ValueError(f"base_url {self.base_url} is plain HTTP: SAP's logon would send the password in clear. "
                             "Use the ICM's HTTPS port (https://host:443NN), or set allow_http = true for a test "
                             "system on a trusted network")
        if self.ca_bundle is not None and not self.verify_tls:
            raise ValueError("ca_bundle is set but verify_tls is false: remove one of them")
        if self.customer_read == "odata" and self.backend != "s4_odata":
            raise ValueError('customer_read = "odata" reads API_BUSINESS_PARTNER, which only S/4HANA has: set '
                             'backend = "s4_odata", or customer_read = "function" or "rfc_read_table" for ECC')
        return self
