"""The ``conciliador`` command. A thin layer: each command parses options and calls the core."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from . import __version__
from . import logs
from .errors import ConciliadorError, ConfigError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="On-premise bank reconciliation agent.")
plugins_app = typer.Typer(no_args_is_help=True, help="Inspect installed plugins, or start a new one.")
app.add_typer(plugins_app, name="plugins")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks that print figures.")
app.add_typer(bench_app, name="bench")

out = Console()
err = Console(stderr=True)

EX_CONFIG = 78  # sysexits.h: configuration error (as Vector's validate uses it)
EX_PENDING = 3  # --once finished with lines or postings still waiting for the ERP

ConfigOption = Annotated[
    Optional[Path],
    typer.Option("--config", "-c", help="Configuration file (default: $CONCILIADOR_CONFIG or the platform's path)."),
]


def _allowlist(config: Path | None) -> list[str] | None:
    """``plugins.allow`` of the configuration given, or None (every installed plugin) without one."""
    if config is None:
        return None
    from .config import load_config

    try:
        return load_config(config).plugins.allow
    except ConciliadorError as exc:
        _fail(exc)


def _fail(exc: ConciliadorError) -> None:
    err.print(f"[bold red]error:[/] {exc}", highlight=False)
    raise typer.Exit(EX_CONFIG if isinstance(exc, ConfigError) else 1)


@app.command()
def run(config: ConfigOption = None,
        once: Annotated[bool, typer.Option("--once", help="Process what is waiting, drain the outbox, exit.")] = False) -> None:
    """Run the agent: watch the inbox, match, post, write exceptions."""
    from .daemon import load_agent

    try:
        agent = load_agent(config)
    except ConciliadorError as exc:
        logs.configure()
        _fail(exc)
    logs.configure(agent.settings.logging.level, agent.settings.logging.format)
    agent.install_signal_handlers()
    try:
        if once:
            with _progress() as progress:
                summary = agent.run_once(progress)
            if summary.undecided:
                companies = ", ".join(summary.reconcile.failed_companies)
                err.print(f"{summary.undecided} statement line(s) wait because the ERP of {companies or 'a company'} "
                          "could not be read (see the log); they are matched on the next run.")
            if summary.pending:
                err.print(f"{summary.pending} posting(s) still wait for the ERP; they are retried on the next run.")
            if summary.pending or summary.undecided:
                raise typer.Exit(EX_PENDING)
        else:
            agent.serve()
    finally:
        agent.close()


class _RichProgress:
    """rich progress bars, one per stage (files, postings), on the terminal's stderr."""

    LABELS = {"files": "Extractos", "postings": "Aplicaciones en el ERP"}

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=err, transient=False)
        self.tasks: dict[str, int] = {}

    def stage(self, name: str, total: int) -> None:
        self.tasks[name] = self.bar.add_task(self.LABELS.get(name, name), total=total)

    def advance(self, name: str) -> None:
        self.bar.advance(self.tasks[name])


@contextlib.contextmanager
def _progress():
    if not err.is_terminal:
        yield None
        return
    progress = _RichProgress()
    with progress.bar:
        yield progress


@app.command()
def check(config: ConfigOption = None) -> None:
    """Validate configuration, folders, state store and each company's ERP connection."""
    from .checks import run_checks

    logs.configure("error")
    results = run_checks(config)
    table = Table(title="conciliador check", show_lines=False)
    table.add_column("", width=4)
    table.add_column("check")
    table.add_column("detail", overflow="fold")
    for r in results:
        table.add_row("[green]ok[/]" if r.ok else "[bold red]FAIL[/]", r.name, r.detail)
    out.print(table)
    failed = [r for r in results if not r.ok]
    if failed:
        err.print(f"[bold red]{len(failed)} check(s) failed.[/]")
        raise typer.Exit(EX_CONFIG if failed[0].name == "configuration" else 1)
    out.print("[green]All checks passed.[/]")


@app.command()
def demo(dir: Annotated[Path, typer.Option("--dir", help="Workspace folder to create.")] = Path("demo"),
         force: Annotated[bool, typer.Option("--force", help="Recreate an existing demo workspace.")] = False,
         seed: Annotated[int, typer.Option(help="Seed for the generated data.")] = 2026) -> None:
    """Create a demo workspace (flat-file ERP, a bank statement) and process it end to end."""
    from .demo import create_workspace, run_demo

    try:
        config_path = create_workspace(dir, seed=seed, force=force)
    except ConciliadorError as exc:
        _fail(exc)
    run_demo(config_path, out)


@app.command()
def parse(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Bank statement file.")],
          as_json: Annotated[bool, typer.Option("--json", help="Print every line as JSON (one object per line).")] = False,
          config: ConfigOption = None) -> None:
    """Show what the agent reads from a bank file: format, account, period, balances, lines."""
    from .parsereport import parse_file
    from .pluginhost import PluginHost

    formats = PluginHost(allow=_allowlist(config)).load().bank_formats()
    on_line = (lambda line: print(line.model_dump_json())) if as_json else None
    report = parse_file(file, formats, on_line=on_line)
    if as_json:
        if report.error:
            err.print(f"[bold red]{file.name}:[/] {report.error}", highlight=False)
            raise typer.Exit(1)
        return
    _print_report(report)
    if report.error:
        raise typer.Exit(1)


def _print_report(report) -> None:
    scores = ", ".join(f"{name} {score:.2f}" for name, score in report.scores) or "none"
    out.print(f"[bold]{report.path.name}[/]  format: [cyan]{report.format or '-'}[/]  (scores: {scores})")
    for checked in report.statements:
        s = checked.summary
        period = f"{s.period_from or '?'} .. {s.period_to or '?'}"
        balance = f"opening {s.opening_balance}  closing {s.closing_balance}" if s.opening_balance is not None \
            or s.closing_balance is not None else "no balances"
        flag = f"  [bold yellow]balance break {checked.balance_break}[/]" if checked.balance_break is not None else ""
        out.print(f"  statement {s.statement_id or '-'}  account {s.account} {s.currency}  {period}  {balance}  "
                  f"lines {checked.line_count}{flag}", highlight=False)
    out.print(f"  lines {report.line_count}  credits {report.credit_sum}  debits {report.debit_sum}  "
              f"currencies {', '.join(sorted(report.currencies)) or '-'}", highlight=False)
    if report.first_lines:
        table = Table(title=f"first {len(report.first_lines)} lines")
        for column in ("date", "amount", "ccy", "bank ref", "payer", "remittance"):
            table.add_column(column, overflow="fold", justify="right" if column == "amount" else "left")
        for line in report.first_lines:
            table.add_row(str(line.booking_date), str(line.amount), line.currency, line.bank_reference,
                          line.payer_name, line.remittance[:60])
        out.print(table)
    if report.error:
        err.print(f"[bold red]refused:[/] {report.error}", highlight=False)


@plugins_app.command("list")
def plugins_list(config: ConfigOption = None,
                 as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show each plugin: name, version, source and the hooks it implements."""
    from .pluginhost import PluginHost

    logs.configure("error")
    host = PluginHost(allow=_allowlist(config)).load()
    if as_json:
        print(json.dumps([vars(i) for i in host.infos] , indent=2))
        return
    table = Table(title="conciliador plugins")
    for column in ("name", "version", "source", "hooks"):
        table.add_column(column, overflow="fold")
    for info in host.infos:
        table.add_row(info.name, info.version, info.source, "\n".join(info.hooks))
    out.print(table)
    for line in host.skipped + host.errors:
        err.print(line)


@bench_app.command("matching")
def bench_matching(lines: Annotated[int, typer.Option(help="Statement lines to generate.")] = 20_000,
                   items: Annotated[int, typer.Option(help="Open items in the ERP.")] = 100_000,
                   customers: Annotated[int, typer.Option(help="Customers.")] = 2_500,
                   seed: Annotated[int, typer.Option(help="Seed of the generated data set.")] = 2026,
                   as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False) -> None:
    """Generate a labeled Colombian data set and measure the matching engine against it."""
    from .matching import bench

    data = bench.generate(lines=lines, items=items, customers=customers, seed=seed)
    report = bench.run(data)
    figures = bench.summary(report) | {
        "net_of_withholding_share": bench.net_of_withholding_share(data), "seed": seed}
    missed = bench.check_targets(report, data)
    if as_json:
        print(json.dumps({"figures": figures, "targets_missed": missed, "categories": [
            dict(zip(("category", "lines", "auto_pct", "precision_pct", "correct_pct", "false_auto_pct", "suggest_hits"), r))
            for r in bench.format_report(report)]}, indent=2))
    else:
        table = Table(title=f"matching benchmark: {lines:,} lines, {data.item_count:,} open items, seed {seed}")
        for column in ("category", "lines", "auto %", "precision % (invoices)", "correct %", "false auto %",
                       "suggestions with answer in top 3"):
            table.add_column(column, justify="left" if column == "category" else "right")
        for row in bench.format_report(report):
            table.add_row(*row)
        out.print(table)
        for key, value in figures.items():
            out.print(f"  {key}: {value:.4f}" if isinstance(value, float) else f"  {key}: {value}", highlight=False)
        out.print("[green]All targets met.[/]" if not missed else "[bold red]Targets missed:[/] " + "; ".join(missed))
    if missed:
        raise typer.Exit(1)


@plugins_app.command("new")
def plugins_new(kind: Annotated[str, typer.Argument(help="erp or bank")],
                name: Annotated[str, typer.Argument(help="Plugin name, e.g. banco-andino or siesa.")],
                dir: Annotated[Optional[Path], typer.Option("--dir", help="Folder to create (default ./conciliador-NAME).")] = None) -> None:
    """Create a ready-to-install plugin package that passes the conformance kit."""
    from .scaffold import create, next_steps

    try:
        target = create(kind, name, dir)
    except ConciliadorError as exc:
        _fail(exc)
    print(next_steps(kind, target))


@app.command()
def report(config: ConfigOption = None,
           out_dir: Annotated[Optional[Path], typer.Option("--out", help="Folder to write into (default: [paths] reports).")] = None,
           start: Annotated[Optional[dt.datetime], typer.Option("--from", formats=["%Y-%m-%d"], help="First day, YYYY-MM-DD (default: [report] days before --to).")] = None,
           end: Annotated[Optional[dt.datetime], typer.Option("--to", formats=["%Y-%m-%d"], help="Last day, YYYY-MM-DD (default: today).")] = None,
           company: Annotated[Optional[str], typer.Option("--company", help="One company (default: all).")] = None) -> None:
    """Write the KPI report (HTML with charts, and the same figures as XLSX) from the state store."""
    from .config import load_config
    from .report import Period, write_report

    try:
        settings = load_config(config)
        last = end.date() if end else dt.date.today()
        period = Period(start.date(), last) if start else Period.ending(last, settings.report.days)
        paths = write_report(settings, period=period, company=company, out_dir=out_dir)
    except ConciliadorError as exc:
        _fail(exc)
    for path in paths:
        print(path)


@app.command()
def version() -> None:
    """Print the version."""
    print(f"conciliador {__version__} (Python {sys.version.split()[0]})")


@app.callback()
def _setup() -> None:
    # Quiet until a command has read its configuration's logging settings.
    logs.configure("warning")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
