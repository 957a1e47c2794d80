"""SAP connector benchmark against the emulator: `python bench/sap.py [--customers N --per-customer N --postings N]`.

The emulator runs in a child process (its own interpreter, so it does not share the connector's
GIL); this process is the connector, and its peak RSS is the connector's. It measures:

- reading the open items with BAPI_AR_ACC_GETOPENITEMS, one call per customer;
- reading them in bulk from BSID with RFC_READ_TABLE (pages of 5,000);
- posting payments that clear one invoice each through the FB05 wrapper (three calls a posting:
  the customer's open items, the balanced items looked up for the key, the clearing);
- S/4HANA mode: reading the open items from the OData cube, and the same number of payments in two
  steps (Journal Entry - Post, then the asynchronous clearing, waited for until it shows).

Defaults: 1,000 customers x 10 invoices = 10,000 open items, 1,000 postings. Figures are for
localhost: against a real SAP, each call costs SAP's own processing time too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"


def emulator(customers: int, per_customer: int) -> None:
    """Child: an emulator holding the book; prints its URL, serves until stdin closes."""
    sys.path.insert(0, str(TESTS))
    from emulators.sap import SapEmulator, seed

    emu = SapEmulator().start()
    emu.s4.clearing_delay = 0  # measure the connector, not the emulator's simulated background job
    seed.invoices(emu, customers, per_customer)
    print(json.dumps({"url": emu.url}), flush=True)
    sys.stdin.read()
    emu.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--per-customer", type=int, default=10)
    parser.add_argument("--postings", type=int, default=1000)
    parser.add_argument("--skip-s4", action="store_true", help="measure the ECC path only")
    parser.add_argument("--emulator", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.emulator:
        emulator(args.customers, args.per_customer)
        return

    sys.path.insert(0, str(TESTS))
    from conciliador import Application, Posting, PostingKind, logs
    from conciliador.plugins.sap import SapErp
    from emulators.sap import BANK_GL, PASSWORD, USER

    logs.configure("warning")
    child = subprocess.Popen([sys.executable, __file__, "--emulator", "--customers", str(args.customers),
                              "--per-customer", str(args.per_customer)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    try:
        url = json.loads(child.stdout.readline())["url"]
        settings = {"base_url": url, "client": "100", "user": USER, "password": PASSWORD, "company_code": "1000",
                    "timeout_seconds": 120, "gl_accounts": {"bank": BANK_GL},
                    "allow_http": True}  # the emulator on localhost

        def connector(**extra) -> SapErp:
            return SapErp(SapErp.Settings.model_validate({**settings, **extra}), company="bench")

        figures = {}
        for mode in ("per_customer", "bulk"):
            erp = connector(open_items_read=mode)
            started = time.perf_counter()
            items = list(erp.open_items())
            seconds = time.perf_counter() - started
            erp.close()
            figures[f"read_{mode}"] = {"items": len(items), "seconds": round(seconds, 2),
                                       "items_per_second": round(len(items) / seconds)}

        def post_all(erp: SapErp, items: list, prefix: str) -> dict:
            by_customer: dict[str, list] = {}
            for item in sorted(items, key=lambda i: i.document):
                by_customer.setdefault(item.customer_id, []).append(item)
            targets = [i for n in range(args.per_customer) for group in by_customer.values()
                       for i in group[n:n + 1]][: args.postings]
            started = time.perf_counter()
            for n, item in enumerate(targets):
                erp.post(Posting(key=f"{prefix}{n:0{16 - len(prefix)}d}", company="bench", kind=PostingKind.APPLY,
                                 customer_id=item.customer_id, currency=item.currency, amount=item.open_amount,
                                 value_date=dt.date.today(), bank_account="0123456789", bank_reference=f"B{n}",
                                 applications=(Application(document=item.document, reference=item.reference,
                                                           amount=item.open_amount, currency=item.currency),)))
            seconds = time.perf_counter() - started
            erp.close()
            return {"postings": len(targets), "seconds": round(seconds, 2),
                    "postings_per_second": round(len(targets) / seconds, 1)}

        figures["post"] = post_all(connector(), items, "BENCH")
        left = list(connector().open_items())
        figures["open_items_after"] = len(left)
        assert len(left) == len(items) - figures["post"]["postings"], f"{len(left)} open items after posting"
        if not args.skip_s4:
            s4 = {"backend": "s4_odata", "s4": {"clearing_wait_seconds": 30}}
            erp = connector(**s4)
            started = time.perf_counter()
            s4_items = list(erp.open_items())
            seconds = time.perf_counter() - started
            erp.close()
            figures["s4_read_odata"] = {"items": len(s4_items), "seconds": round(seconds, 2),
                                        "items_per_second": round(len(s4_items) / seconds)}
            assert {i.document for i in s4_items} == {i.document for i in left}
            figures["s4_post_two_steps"] = post_all(connector(**s4), s4_items, "BENCHS4")
        figures["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    finally:
        child.stdin.close()
        child.wait(30)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
