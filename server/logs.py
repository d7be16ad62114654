"""Structured logging: one JSON object per line, with the request id when there is one.

python-socketio's and python-engineio's own loggers go through the same handler (their tracebacks
inside the record's ``exc``), at ERROR: they are given to the server as loggers
(:func:`library_logger`), so that the libraries never add a plain-text handler of their own. Their
lines never carry a request id: the socket.io server runs inside the HTTP request that opened the
first socket, whose id would otherwise stick to every line."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
LIBRARY_LOGGERS = ("socketio", "engineio")  # and their children (socketio.server, engineio.server, ...)

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def event_fields(record: logging.LogRecord) -> dict:
    return {k: v for k, v in record.__dict__.items() if k not in _RESERVED and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        rid = request_id.get()
        if rid and not _library(record.name):
            doc["request_id"] = rid
        doc.update(event_fields(record))
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={v}" for k, v in event_fields(record).items())
        rid = "" if _library(record.name) else request_id.get()
        head = (
            f"{time.strftime('%H:%M:%S', time.localtime(record.created))} {record.levelname:<7} {record.getMessage()}"
        )
        line = " ".join(p for p in (head, extra, f"request_id={rid}" if rid else "") if p)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _library(name: str) -> bool:
    return name.split(".", 1)[0] in LIBRARY_LOGGERS


def library_logger(name: str) -> logging.Logger:
    """A socket.io library logger for ``AsyncServer(logger=..., engineio_logger=...)``: given a
    logger, the libraries add no handler; ERROR (what they log at with ``logger=False``), through
    the root's JSON handler."""
    logger = logging.getLogger(name)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.ERROR)
    logger.propagate = True
    return logger


def setup_logging(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    for name in LIBRARY_LOGGERS:  # a handler a library added before this runs would write plain text
        for child in (name, f"{name}.server", f"{name}.client"):
            logging.getLogger(child).handlers.clear()
            library_logger(child)
