"""Scan events, nothing lost: a local append-only journal first, batched into PostgreSQL after.

Every /route answer (and every customer page served) is one line appended to this worker's
journal file with a single write(2) *before* the answer is sent: once the kernel has it, killing
the process loses nothing (a power cut can lose what the OS had not written back; see the README).
A flusher copies new lines into `scan_events` in batches; each event carries an id chosen here,
inserts skip ids already present, and the flushed offset is saved only after the transaction
commits, so a replay after a crash or an outage inserts every event exactly once.

Journal lines are CSV rows in `scan_events` column order (the time as Unix seconds, the event's
kind last), so the flusher streams byte ranges of the file straight into COPY: no Python work per
event.

Each worker holds an exclusive flock on its own journal file. A file nobody holds belongs to a
worker that is gone; any worker adopts it, replays it and deletes it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

log = logging.getLogger(__name__)


def _num(value: float | None, fmt: bytes) -> bytes:
    return b"" if value is None else fmt % value


def approx(value: float | None) -> float | None:
    """A coordinate rounded to 0.001 degree: about 100 m, never the raw fix."""
    return None if value is None else round(value, 3)


class EventKind(StrEnum):
    """What an event records (`kind` in scan_events); the funnel's steps count by kind."""

    PAGE_VIEW = "page_view"  # the customer page (/s/{entry}) served: an entry, no location
    SCAN = "scan"  # a /route answer that is a new showing (or no showing): the funnel's scan
    # A sticky repeat: the visitor's valid sticky token for this store answered with the group
    # it holds, again. RENEWAL when the page said it is renewing its own link (renew=1), REPEAT
    # otherwise (the same customer asking again). Neither is a scan or a new showing.
    REPEAT = "repeat"
    RENEWAL = "renewal"


# The marker in a journal file's name saying its lines end with the event kind. Files without it
# were written before kinds existed: their lines are all scans (`router.store.journal`).
KINDED = "-k"


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanEvent:
    """One scan's outcome as the journal records it.

    `entry` and `visitor` must already be validated ([A-Za-z0-9_-]); store and group ids come
    CSV-quoted (`router.scan.catalogue.csv_field`, serialized once per catalogue). The location is
    the customer's, in its own system `coord`; the journal keeps it rounded (`approx`).
    """

    at: float  # Unix seconds
    outcome: str  # a routing Outcome, or "bad_input" ("" for a page view)
    kind: EventKind = EventKind.SCAN
    entry: str | None = None
    store_csv: bytes = b""
    group_csv: bytes = b""
    visitor: str | None = None
    distance_m: float | None = None
    accuracy_m: float | None = None
    lat: float | None = None
    lng: float | None = None
    coord: str | None = None


@dataclass(slots=True)
class JournalFile:
    path: Path
    fd: int
    flushed: int  # bytes of this file already in PostgreSQL

    @property
    def offset_path(self) -> Path:
        return self.path.with_suffix(".offset")

    def save_offset(self) -> None:
        tmp = self.path.with_suffix(".offset.tmp")
        tmp.write_text(str(self.flushed))
        os.replace(tmp, self.offset_path)


def read_offset(path: Path) -> int:
    try:
        return int(path.with_suffix(".offset").read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


class Journal:
    """This worker's journal: `append` on the hot path, `flush` from a background task."""

    def __init__(self, directory: Path, max_bytes: int, rotate_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.rotate_bytes = rotate_bytes
        self._prefix = secrets.token_hex(8)
        self._prefix_bytes = self._prefix.encode()
        self._counter = 0
        self._current: JournalFile | None = None
        self._size = 0
        self.written = 0
        self.flushed_events = 0
        self.dropped = 0
        self._last_drop_log = 0.0

    # ---- writing (hot path) -----------------------------------------------------------------

    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = int(time.time() * 1000)
        name = f"events-{os.getpid()}-{stamp}-{self._prefix[:6]}{KINDED}.jsonl"
        path = self.directory / name
        # Created and locked under a name other workers do not look at, then renamed: a journal
        # is never visible unlocked, so no worker can take a live one for an orphan (one did:
        # it replayed the empty new file, deleted it, and the owner wrote on into nowhere).
        hidden = self.directory / f".{name}.new"
        fd = os.open(hidden, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(hidden, path)
        self._current = JournalFile(path, fd, 0)
        self._size = 0

    def backlog(self) -> int:
        """Bytes written but not yet in PostgreSQL (this worker's current file)."""
        current = self._current
        return 0 if current is None else self._size - current.flushed

    def append(self, event: ScanEvent) -> bool:
        """Journal one event (one write(2)). False when it had to be dropped."""
        current = self._current
        if current is None:
            return self._drop("the journal is not open")
        if self._size - current.flushed >= self.max_bytes:
            return self._drop(f"the journal holds {self.max_bytes} unflushed bytes")
        self._counter += 1
        e = event
        line = b"%s%016x,%.3f,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n" % (
            self._prefix_bytes,
            self._counter,
            e.at,
            e.entry.encode() if e.entry else b"",
            e.store_csv,
            e.group_csv,
            e.visitor.encode() if e.visitor else b"",
            e.outcome.encode(),
            _num(e.distance_m, b"%.1f"),
            _num(e.accuracy_m, b"%.1f"),
            _num(approx(e.lat), b"%.3f"),
            _num(approx(e.lng), b"%.3f"),
            e.coord.encode() if e.coord else b"",
            e.kind.encode(),
        )
        try:
            os.write(current.fd, line)
        except OSError as exc:
            return self._drop(f"cannot write the journal: {exc}")
        self._size += len(line)
        self.written += 1
        return True

    def _drop(self, why: str) -> bool:
        self.dropped += 1
        now = time.monotonic()
        if now - self._last_drop_log > 10.0:
            self._last_drop_log = now
            log.error("scan event dropped (%d so far): %s", self.dropped, why)
        return False

    # ---- what the flusher (router.store.journal) needs --------------------------------------

    @property
    def current(self) -> JournalFile | None:
        """The file this worker appends to (None before `open` and after `close`)."""
        return self._current

    def flushed(self, count: int) -> None:
        """`count` events of the current file are in PostgreSQL (its offset saved); a large,
        fully flushed file is replaced by a new one."""
        self.flushed_events += count
        current = self._current
        if (
            current is not None
            and current.flushed >= self.rotate_bytes
            and current.flushed == self._size
        ):
            self._rotate(current)

    def _rotate(self, old: JournalFile) -> None:
        self.open()
        # Gone before its lock is: nobody can adopt a file that is being retired.
        for p in (old.path, old.offset_path):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        os.close(old.fd)

    def close(self) -> None:
        if self._current is not None:
            os.close(self._current.fd)
            self._current = None
