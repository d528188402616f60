"""Access and prediction logs through Python logging, as text or JSON lines.

The access log has one line per request; the prediction log one line per model
call (with the request ids it answered). Records go through a queue, so the
event loop never formats or writes a log line itself; the info lines of both
logs are not even records there: the loop (or a model thread) appends a tuple
to a deque, and a writer thread turns each batch into records every few
milliseconds. It never imports tornado,
the handlers, notebook/ or the CLI.
"""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from bentonb.errors import BentonbError

ACCESS = logging.getLogger("bentonb.access")
PREDICTION = logging.getLogger("bentonb.prediction")
SERVER = logging.getLogger("bentonb.server")

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


class _EnqueueHandler(logging.handlers.QueueHandler):
    """Hands records to the writer thread as they are: formatting happens there."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


_listener: logging.handlers.QueueListener | None = None
#: The handler that writes bentonb's logs, and the one the "bentonb" logger hands
#: records to (see :func:`_drain_lines`); set by :func:`configure_logging`.
_output: tuple[logging.Handler, logging.Handler] | None = None


def configure_logging(fmt: str = "text", level: int = logging.INFO) -> None:
    """Send bentonb's logs to stderr in ``text`` or ``json`` format, written by a
    background thread."""
    global _listener, _output
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    if _listener is not None:
        _listener.stop()
    records: queue.SimpleQueue = queue.SimpleQueue()
    _listener = logging.handlers.QueueListener(records, handler)
    _listener.start()
    root = logging.getLogger("bentonb")
    root.handlers[:] = [_EnqueueHandler(records)]
    root.setLevel(level)
    root.propagate = False
    _output = (handler, root.handlers[0])


#: Info lines waiting for the writer thread (access and prediction logs): appended by
#: the event loop or a model thread, taken by the writer (a deque's append and popleft
#: are atomic, so no lock). Each is (time, logger, message, args, extra).
_lines: deque[tuple] = deque()
_writer: threading.Thread | None = None
#: Seconds between two batches of log lines.
LINES_INTERVAL = 0.05


def _defer(logger: logging.Logger, message: str, args: tuple, extra: dict[str, Any]) -> None:
    """Log an INFO line from a busy thread: the record is built and written by the
    writer thread, within :data:`LINES_INTERVAL` seconds, with this moment's time."""
    global _writer
    _lines.append((time.time(), logger, message, args, extra))
    if _writer is None:
        _writer = threading.Thread(target=_write_lines, daemon=True, name="bentonb-log-lines")
        _writer.start()


def _write_lines() -> None:
    while True:
        time.sleep(LINES_INTERVAL)  # a batch's worth of lines gathers meanwhile
        _drain_lines()


def _only_to(logger: logging.Logger, enqueue: logging.Handler) -> bool:
    """Whether ``logger``'s records reach nothing but bentonb's own queue: no handler or
    filter of its own, enabled, and the "bentonb" logger as configure_logging set it
    (its one handler, no filter, not propagating further)."""
    parent = logger.parent
    return not logger.handlers and not logger.filters and not logger.disabled and \
        logger.propagate and parent is not None and parent.handlers == [enqueue] and \
        not parent.filters and not parent.disabled and not parent.propagate


#: Held while lines are taken and written: whoever drains (the lines thread, a flush,
#: the exit) returns only once every line taken before it is out, in order.
_draining = threading.Lock()


def _drain_lines() -> None:
    """Write out the info lines noted so far. Lines whose loggers lead only to
    bentonb's own output are formatted here and written in one piece (no queue hop to
    the writer thread and one write per batch, not per line); any other goes through
    its logger, to whatever handlers were added. A line that cannot be formatted is
    reported as logging reports it, and the others are written."""
    with _draining:
        output, direct, text, last = _output, {}, [], None
        while True:
            try:
                created, logger, message, args, extra = _lines.popleft()
            except IndexError:
                break
            record = logger.makeRecord(logger.name, logging.INFO, __file__, 0, message,
                                       args, None, extra=extra)
            record.created, record.msecs = created, (created % 1) * 1000
            record.relativeCreated = (created - logging._startTime) * 1000
            plain = direct.get(logger)
            if plain is None:
                plain = direct[logger] = output is not None and _only_to(logger, output[1])
            if not plain:
                logger.handle(record)
                continue
            try:
                text.append(output[0].format(record))
                last = record
            except Exception:  # noqa: BLE001 - as logging does: one bad line stops no other
                output[0].handleError(record)
        if text:
            _write_all(output[0], text, last)


def _write_all(handler: logging.Handler, text: list[str], last: logging.LogRecord) -> None:
    handler.acquire()  # the writer thread may be writing an error line
    try:
        handler.stream.write("\n".join(text) + "\n")
        handler.flush()
    except Exception:  # noqa: BLE001 - as logging does: a broken stderr stops no request
        handler.handleError(last)
    finally:
        handler.release()


def access_entry(method: str, uri: str, status: int, ms: float, remote: str | None,
                 rid: str | None) -> None:
    """Log one answered request (``METHOD URI STATUS 1.2ms``, with the method, path,
    status, latency, client address and request id as fields)."""
    if ACCESS.isEnabledFor(logging.INFO):
        _defer(ACCESS, "%s %s %d %.1fms", (method, uri, status, ms),
               {"method": method, "path": uri.partition("?")[0], "status": status,
                "latency_ms": round(ms, 2), "remote": remote, "request_id": rid})


def flush_logs() -> None:
    """Write out every record queued so far; logging goes on."""
    _drain_lines()
    if _listener is not None:
        _listener.stop()
        _listener.start()


@atexit.register
def stop_logging() -> None:
    """Write out every queued record and stop the writer (at exit, or before a worker
    process ends)."""
    global _listener, _output
    _drain_lines()
    _output = None  # lines noted from now on go through logging
    if _listener is not None:
        _listener.stop()
        _listener = None


#: Characters of a client-caused message kept in its warning line.
ONE_LINE_CHARS = 500


def _one_line(text: str) -> str:
    """``text`` as one line of bounded length: a message that echoes a client's input
    can neither start a line of its own in the log nor fill it."""
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= ONE_LINE_CHARS else text[:ONE_LINE_CHARS] + "..."


def log_call(api: str, request_ids: Sequence[str | None], items: int, seconds: float,
             outcomes: Sequence[tuple[bool, Any]]) -> None:
    """One prediction-log line per model call; one line per failed request: an error
    with its traceback when the server failed, a one-line warning when the request was
    refused as the client's mistake (a 4xx: no traceback for a client to flood the
    log with)."""
    failed = [(rid, err) for rid, (ok, err) in zip(request_ids, outcomes) if not ok]
    for rid, err in failed:
        extra = {"api": api, "request_id": rid}
        if isinstance(err, BentonbError) and err.status_code < 500:
            cause = err.__cause__
            PREDICTION.warning("%s refused request %s (%d): %s%s", api, rid, err.status_code,
                               _one_line(str(err)),
                               f" (the API raised {type(cause).__name__}: "
                               f"{_one_line(str(cause))})" if cause is not None else "",
                               extra=extra)
        else:
            PREDICTION.error("%s failed for request %s", api, rid, exc_info=err, extra=extra)
        err.__bentonb_logged__ = True
    if PREDICTION.isEnabledFor(logging.INFO):
        _defer(PREDICTION, "%s %d item(s) in %d request(s) %.1fms",
               (api, items, len(request_ids), seconds * 1000),
               {"api": api, "items": items, "request_ids": list(request_ids),
                "failed": len(failed), "model_ms": round(seconds * 1000, 2)})
