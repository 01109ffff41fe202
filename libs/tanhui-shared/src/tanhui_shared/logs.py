"""Structured JSON log lines carrying the request id and trace ids, one line per record,
uvicorn's own included."""
from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from .context import causation_id_var, request_id_var
from .tracing import log_ids

# uvicorn's loggers: its dictConfig gives them handlers of their own (plain text); ours take over.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        if causation_id_var.get():
            line["event_id"] = causation_id_var.get()
        ids = log_ids()
        if ids is not None:
            line["trace_id"], line["span_id"] = ids
        for key, value in getattr(record, "fields", {}).items():
            line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # kafka-python is chatty at INFO (every connection and rebalance step).
    logging.getLogger("kafka").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per outgoing call is noise
    # uvicorn configured its loggers before it called our app factory (`--factory`), which runs
    # this before uvicorn logs "Started server process": from there on its lines are ours too.
    # A logger left without handlers and not propagating is one uvicorn switched off (its access
    # log under --no-access-log: it asks `hasHandlers()`), and stays off.
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        if logger.handlers:
            logger.handlers[:] = []
            logger.propagate = True
    logging.captureWarnings(True)  # warnings.warn lines, else printed raw to stderr


def uvicorn_log_config(service: str, level: str = "INFO") -> dict:
    """uvicorn's `log_config` with our formatter, for a process that starts uvicorn itself (the
    gateway): its supervisor's lines, before any app exists, are JSON as well."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter, "service": service}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json",
                                "stream": "ext://sys.stderr"}},
        "loggers": {name: {"handlers": ["stderr"], "level": level.upper(), "propagate": False}
                    for name in ("uvicorn", "uvicorn.access")},  # uvicorn.error: via uvicorn
    }
