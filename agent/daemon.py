"""The long-running agent: inbox watcher, intake, matching, finance's resolutions, poster, workbooks.

One worker loop does the work in order (intake, resolutions, reconcile, post, exception workbooks),
one step and one transaction at a time, so a stop request is honoured between steps and never
leaves half-written state. The watchdog observer only wakes the loop; a full rescan at start and
every ``intake.rescan_seconds`` catches events that network shares drop (inbox and resolutions).
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import structlog
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from . import logs
from .config import Settings, load_config
from .errors import ConciliadorError, ConfigError
from .intake import Intake, Outcome, is_candidate
from .metrics import Metrics
from .sdnotify import notify, watchdog
from .poster import Poster
from .reconcile import ReconcileStats, pending_companies, reconcile
from .resolutions import ResolutionOutcome, Resolver, resolution_files, settled
from .report import daily_due, write_daily
from .runtime import Runtime, build_runtime
from .workbook import write_exception_files

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

log = structlog.get_logger(__name__)

TICK_SECONDS = 0.25
SNAPSHOT_RETRY_SECONDS = 30.0
ERROR_PAUSE_SECONDS = 5.0
REPORT_CHECK_SECONDS = 60.0
REPORT_RETRY_SECONDS = 3600.0


class AlreadyRunning(ConciliadorError):
    pass


class Progress(Protocol):
    """Where long work reports how far it got (a rich progress bar on a terminal)."""

    def stage(self, name: str, total: int) -> None: ...

    def advance(self, name: str) -> None: ...


class _NoProgress:
    def stage(self, name: str, total: int) -> None:
        pass

    def advance(self, name: str) -> None:
        pass


class _Heartbeat(_NoProgress):
    """The service's progress: a long round (thousands of postings) keeps feeding systemd's
    watchdog (sdnotify.watchdog() sends at most every few seconds), so only a loop that is truly
    stuck gets restarted."""

    def advance(self, name: str) -> None:
        watchdog()


@dataclass
class RunSummary:
    files: list[Outcome] = field(default_factory=list)
    reconcile: ReconcileStats = field(default_factory=ReconcileStats)
    posted: int = 0
    failed: int = 0
    deferred: int = 0
    pending: int = 0
    undecided: int = 0
    exception_files: list[Path] = field(default_factory=list)
    resolutions: list[ResolutionOutcome] = field(default_factory=list)


class _StableFiles:
    """Files in the inbox whose size and mtime have not changed for ``stable_seconds``, or that
    have a ``NAME.done`` marker beside them."""

    def __init__(self, stable_seconds: float) -> None:
        self.stable_seconds = stable_seconds
        self.seen: dict[Path, tuple[int, int, float]] = {}
        self.lock = threading.Lock()

    def add(self, path: Path) -> None:
        if is_candidate(path):
            with self.lock:
                self.seen.setdefault(path, (-1, -1, 0.0))

    def ready(self) -> list[Path]:
        now = time.monotonic()
        out = []
        with self.lock:
            for path, (size, mtime, since) in list(self.seen.items()):
                try:
                    st = path.stat()
                except FileNotFoundError:
                    del self.seen[path]
                    continue
                if (st.st_size, st.st_mtime_ns) != (size, mtime):
                    self.seen[path] = (st.st_size, st.st_mtime_ns, now)
                    since = now
                marked = path.with_name(path.name + ".done").exists()
                if marked or now - since >= self.stable_seconds:
                    out.append(path)
            for path in out:
                del self.seen[path]
        return sorted(out)


class _Wake(FileSystemEventHandler):
    def __init__(self, files: _StableFiles, wake: threading.Event) -> None:
        self.files, self.wake = files, wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            return
        for attr in ("src_path", "dest_path"):
            raw = getattr(event, attr, "")
            if raw:
                path = Path(raw if isinstance(raw, str) else raw.decode())
                if path.name.endswith(".done"):
                    path = path.with_name(path.name[: -len(".done")])
                self.files.add(path)
        self.wake.set()


class Agent:
    """A configured agent. ``run_once`` for scripts and schedulers, ``serve`` for the service."""

    def __init__(self, settings: Settings, runtime: Runtime | None = None) -> None:
        self.settings = settings
        self.rt = runtime or build_runtime(settings)
        self._lock_fh = _single_instance(self.rt.folders["state"])
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.reload_requested = threading.Event()
        self.intake = Intake(self.rt)
        self.poster = Poster(self.rt, self.stop)
        self.resolver = Resolver(self.rt)
        self._next_reconcile = 0.0
        self._next_report_check = 0.0
        self.progress: Progress = _NoProgress()
        self.metrics = Metrics()

    def close(self) -> None:
        self.metrics.close()
        self.rt.close()
        if self._lock_fh is not None:
            self._lock_fh.close()

    # -- one pass ----------------------------------------------------------------------------
    def inbox_files(self) -> list[Path]:
        return sorted(p for p in self.rt.folders["inbox"].iterdir() if p.is_file() and is_candidate(p))

    def run_once(self, progress: Progress | None = None) -> RunSummary:
        """Take everything now in the inbox, decide, drain the outbox, write the exceptions files."""
        summary = RunSummary()
        self.progress = progress or _NoProgress()
        try:
            files = self.inbox_files()
            self.progress.stage("files", len(files))
            self._take(files, summary)
            # The service's stable-file rule, in one look: a workbook still being saved waits for the next run.
            self._resolve(settled(resolution_files(self.rt), self.settings.intake.stable_seconds, self.stop), summary)
            self._work(summary, force=True)
        finally:
            self.progress = _NoProgress()
        summary.pending = self.rt.db.conn.execute(
            "SELECT count(*) FROM outbox WHERE state IN ('pending', 'in_flight')").fetchone()[0]
        summary.undecided = self.rt.db.conn.execute(
            "SELECT count(*) FROM statement_lines WHERE status = 'new'").fetchone()[0]
        return summary

    def _take(self, paths: list[Path], summary: RunSummary) -> None:
        for path in paths:
            if self.stop.is_set():
                break
            try:
                summary.files.append(self.intake.process(path))
            except OSError as exc:  # vanished, unreadable, or the archive cannot be written: next rescan
                log.error("file_not_taken", file=path.name, error=str(exc))
            self.progress.advance("files")

    def _resolve(self, paths: list[Path], summary: RunSummary) -> None:
        """Workbooks finance dropped into resolutions/: valid rows go to the outbox, before it is drained."""
        for path in paths:
            if self.stop.is_set():
                break
            try:
                summary.resolutions.append(self.resolver.process(path))
            except OSError as exc:  # vanished, unreadable, or the archive cannot be written: next rescan
                log.error("resolution_not_taken", file=path.name, error=str(exc))
            except Exception:  # e.g. the store locked: this file waits for the next rescan, the others go on
                log.exception("resolution_not_taken", file=path.name)

    def _work(self, summary: RunSummary, *, force: bool = False) -> None:
        """Reconcile, post, and rewrite the exceptions files if anything they show may have changed."""
        changed = force or bool(summary.files) or any(r.status != "waiting" for r in summary.resolutions)
        if not self.stop.is_set() and (force or time.monotonic() >= self._next_reconcile) and pending_companies(self.rt):
            stats = reconcile(self.rt)
            summary.reconcile = stats
            changed = changed or bool(stats.decided)
            if stats.failed_companies:
                self._next_reconcile = time.monotonic() + SNAPSHOT_RETRY_SECONDS
        if not self.stop.is_set():
            drained = self.poster.drain(self.progress)
            summary.posted += drained.posted
            summary.failed += drained.failed
            summary.deferred += drained.deferred
            # Postings done change the "applied" sheet (its ERP documents), failures the pending one.
            changed = changed or drained.failed > 0 or drained.posted > 0
        if changed:
            summary.exception_files = write_exception_files(self.rt)

    def reload(self) -> bool:
        """Re-read the configuration file. On any error the running configuration stays (the last
        good one), so a typo saved during a reload never stops the agent."""
        try:
            settings = load_config(self.settings.config_file)
            if settings.folders != self.settings.folders:
                raise ConfigError("[paths] cannot change while the agent runs; restart it to use new folders")
            runtime = build_runtime(settings, open_store=False)
        except ConciliadorError as exc:
            log.error("reload_failed", error=str(exc), config=str(self.settings.config_file))
            return False
        runtime.db = self.rt.db
        for connector in self.rt.connectors.values():
            connector.close()
        self.settings, self.rt = settings, runtime
        self.intake = Intake(runtime)
        self.poster = Poster(runtime, self.stop)
        self.resolver = Resolver(runtime)
        logs.configure(settings.logging.level, settings.logging.format)
        log.info("reloaded", config=str(settings.config_file), companies=sorted(runtime.connectors))
        return True

    def _daily_report(self) -> None:
        """Write the day's KPI report once ``[report] daily_at`` has passed; a failure (a full disk, an
        unwritable folder) is logged and tried again an hour later, never stopping the agent."""
        if time.monotonic() < self._next_report_check:
            return
        self._next_report_check = time.monotonic() + REPORT_CHECK_SECONDS
        try:
            if daily_due(self.settings, dt.datetime.now().astimezone()):
                write_daily(self.settings, self.rt.db.conn)
        except Exception:
            log.exception("report_failed", folder=str(self.settings.folders.reports))
            self._next_report_check = time.monotonic() + REPORT_RETRY_SECONDS

    # -- the service -------------------------------------------------------------------------
    def serve(self) -> None:
        """Run until SIGTERM/SIGINT (or :attr:`stop` is set by the caller); SIGHUP reloads."""
        cfg = self.settings.intake
        files = _StableFiles(cfg.stable_seconds)
        dropped = _StableFiles(cfg.stable_seconds)  # workbooks finance saves into resolutions/
        observer = Observer()
        observer.schedule(_Wake(files, self.wake), str(self.rt.folders["inbox"]), recursive=False)
        observer.schedule(_Wake(dropped, self.wake), str(self.rt.folders["resolutions"]), recursive=False)
        observer.start()
        if self.settings.metrics.listen:
            self.metrics.serve(self.settings.metrics.listen)
        # systemd (Type=notify) starts dependent units and counts the start timeout until this.
        notify("READY=1", f"STATUS=watching {self.rt.folders['inbox']}")
        log.info("agent_started", inbox=str(self.rt.folders["inbox"]), companies=sorted(self.rt.connectors),
                 formats=[f.name for f in self.rt.formats])
        next_rescan = 0.0
        self.progress = _Heartbeat()
        try:
            while not self.stop.is_set():
                if self.reload_requested.is_set():
                    self.reload_requested.clear()
                    if self.reload():
                        files.stable_seconds = dropped.stable_seconds = self.settings.intake.stable_seconds
                if time.monotonic() >= next_rescan:
                    for path in self.inbox_files():
                        files.add(path)
                    for path in resolution_files(self.rt):
                        dropped.add(path)
                    next_rescan = time.monotonic() + cfg.rescan_seconds
                try:
                    started = time.monotonic()
                    summary = RunSummary()
                    self._take(files.ready(), summary)
                    self._resolve(dropped.ready(), summary)
                    self._work(summary)
                    self.metrics.record(summary, self.rt.db, started)
                    self._daily_report()
                    # Only a loop that completes a round feeds systemd's watchdog (WatchdogSec=).
                    watchdog()
                except Exception:  # e.g. disk full, store locked too long: log, pause, go on
                    log.exception("step_failed")
                    self.stop.wait(ERROR_PAUSE_SECONDS)
                self.wake.wait(TICK_SECONDS)
                self.wake.clear()
        finally:
            notify("STOPPING=1")
            observer.stop()
            observer.join(timeout=5)
            self.metrics.close()
            log.info("agent_stopped")

    def install_signal_handlers(self) -> None:
        def _stop(signum, _frame) -> None:
            log.info("stop_requested", signal=signal.Signals(signum).name)
            self.stop.set()
            self.wake.set()

        def _reload(_signum, _frame) -> None:
            self.reload_requested.set()
            self.wake.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, _reload)


def _single_instance(state_folder: Path):
    """Hold an exclusive lock on the state folder for the life of the process (released by the OS
    even after SIGKILL), so two agents never post from the same outbox."""
    if fcntl is None:
        return None
    fh = open(state_folder / "conciliador.lock", "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise AlreadyRunning(f"Another conciliador is already running on the state folder {state_folder}.") from None
    return fh


def load_agent(config_path: Path | str | None) -> Agent:
    settings = load_config(config_path)
    if not settings.companies:
        raise ConfigError(f"{settings.config_file} configures no company: add a [companies.NAME] table "
                          "(see config.example.toml).")
    return Agent(settings)
