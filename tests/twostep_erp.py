"""A flat-file ERP that posts a payment in two calls, as S/4HANA does (a journal entry, then the
clearing against it): step ``receipt`` writes ``receipts.csv``, step ``clear`` is the flat-file
posting that names the receipt. Imported by tests and by the child processes they kill."""

from __future__ import annotations

import csv
import io
import os
import sys
from collections.abc import Mapping

from conciliador import PermanentError, Posting, PostingResult
from conciliador.plugins.flatfile import FlatFileErp, _locked_append

RECEIPT_COLUMNS = ("key", "receipt")


class TwoStepErp(FlatFileErp):
    name = "twostep"

    def posting_steps(self, posting: Posting) -> tuple[str, ...]:
        return ("receipt", "clear")

    def post(self, posting: Posting) -> PostingResult:
        done = {"receipt": self.post_step(posting, "receipt", {})}
        return self.post_step(posting, "clear", done)

    def post_step(self, posting: Posting, step: str, done: Mapping[str, PostingResult]) -> PostingResult:
        if step == "receipt":
            with _locked_append(self.folder / "receipts.csv", RECEIPT_COLUMNS) as (fh, rows):
                receipt = f"RCPT-{rows + 1:06d}"
                fh.write(f"{posting.key},{receipt}\n".encode())
                fh.flush()
                os.fsync(fh.fileno())
            return PostingResult(key=posting.key, document=receipt)
        if step == "clear":
            if "receipt" not in done:
                raise PermanentError(f"clearing {posting.key} without its receipt")
            return super().post(posting.model_copy(update={"text": f"clears {done['receipt'].document}"}))
        raise PermanentError(f"no step {step!r}")

    def find_step(self, posting: Posting, step: str, done: Mapping[str, PostingResult]) -> PostingResult | None:
        if step == "receipt":
            return next((PostingResult(key=posting.key, document=r["receipt"]) for r in self.receipts()
                         if r["key"] == posting.key), None)
        return self.find_posting(posting.key)

    def receipts(self) -> list[dict[str, str]]:
        path = self.folder / "receipts.csv"
        return list(csv.DictReader(io.StringIO(path.read_text()))) if path.exists() else []


def run_once(config: str) -> None:
    """What a child process runs: one pass of the agent with the two-step ERP."""
    from conciliador.config import load_config
    from conciliador.daemon import Agent

    agent = Agent(load_config(config))
    agent.rt.connectors["acme"] = TwoStepErp(agent.rt.connectors["acme"].settings, company="acme")
    try:
        agent.run_once()
    finally:
        agent.close()


if __name__ == "__main__":
    run_once(sys.argv[1])
