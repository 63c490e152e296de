"""A worker's lease ledger: what it holds, so that a killed worker's displays come back.

Beside its journal, each worker keeps `leases-<pid>-<tag>.ledger` (the tag is its journal's). Its
first line is a checkpoint taken at one instant: the journal file and how many bytes of it were
written, then the displays held per group (`c NAME BYTES`, `h GROUP N` lines). After it, one line
per change: `g GROUP N` when PostgreSQL granted displays (written once booked), `r GROUP N` when
displays were taken out of the book to be returned (written before the return is sent: a return
whose answer is lost is counted as returned, so a replay never returns twice). Every checkpoint
rewrites the file (atomically).

When the worker's journal is replayed (`router.store.journal.adopt_orphans`), what it held when it
died is the checkpoint, plus the grants, minus the returns, minus the displays it showed after
the checkpoint: its journal's scans with an `ok` outcome past the checkpoint's byte. Those go back
to PostgreSQL. A ledger whose checkpoint names another journal file (the worker died within a
checkpoint of rotating its journal) cannot be counted: its displays stay spent (a cap is never
exceeded) and are logged and counted as stranded. So do those of a worker whose journal had
dropped events (a full disk): the checkpoint then names no journal.
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

_JOURNAL_RE = re.compile(r"events-(\d+)-\d+-([0-9a-f]{6})-k\.jsonl")
# A journal line's fields (router.scan.journal): group id, outcome and kind by position.
_GROUP, _OUTCOME, _KIND = 4, 6, 12


def ledger_path(journal_path: Path) -> Path | None:
    """The ledger kept beside a journal file (None for a name no worker of this release makes)."""
    m = _JOURNAL_RE.fullmatch(journal_path.name)
    if m is None:
        return None
    return journal_path.with_name(f"leases-{m.group(1)}-{m.group(2)}.ledger")


class Ledger:
    """The writing side, in the worker (every call is synchronous: no await between a book change
    and its line)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.changed = True

    def note(self, kind: str, items: dict[int, int]) -> None:
        """`g` (granted) or `r` (taken out to be returned) for `items`, one write(2)."""
        lines = "".join(f"{kind} {pk} {n}\n" for pk, n in items.items() if n > 0)
        if not lines:
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, lines.encode())
        finally:
            os.close(fd)
        self.changed = True

    def checkpoint(
        self, journal_name: str, journal_bytes: int, held: dict[int, int], *, complete: bool = True
    ) -> None:
        """`complete`: every showing is in the journal (False once the journal dropped events:
        showings it lost cannot be counted, so a replay returns nothing)."""
        name = journal_name if complete else "-"
        body = f"c {name} {journal_bytes}\n" + "".join(f"h {pk} {n}\n" for pk, n in held.items())
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(body)
        os.replace(tmp, self.path)
        self.changed = False


def read_ledger(path: Path) -> tuple[str | None, int, dict[int, int]]:
    """(journal file named by the checkpoint, its byte offset, displays held per group after
    the ledger's grants and returns)."""
    name: str | None = None
    offset = 0
    held: dict[int, int] = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue  # a line cut short: its change never completed
        kind, a, b = parts
        try:
            if kind == "c":
                name, offset, held = a, int(b), {}
            elif kind in ("h", "g"):
                held[int(a)] = held.get(int(a), 0) + int(b)
            elif kind == "r":
                held[int(a)] = held.get(int(a), 0) - int(b)
        except ValueError:
            continue
    return name, offset, held


def shown_after(journal_path: Path, offset: int) -> dict[str, int]:
    """Displays shown per group id in a journal file's lines past `offset` (new showings: scans
    answered `ok`; sticky repeats show nothing new)."""
    with journal_path.open("rb") as f:
        f.seek(offset)
        data = f.read()
    end = data.rfind(b"\n")
    shown: dict[str, int] = {}
    if end < 0:
        return shown
    for row in csv.reader(io.StringIO(data[: end + 1].decode("utf-8", "replace"))):
        if len(row) > _KIND and row[_OUTCOME] == "ok" and row[_KIND] == "scan":
            shown[row[_GROUP]] = shown.get(row[_GROUP], 0) + 1
    return shown
