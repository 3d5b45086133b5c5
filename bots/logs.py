"""How the process logs: text lines for a person at a terminal, or one JSON object a line
(`[log] format = "json"`) for a collector such as journald, Loki or Elasticsearch, which then
needs no pattern to take a line apart.

Logging starts as text before any configuration is read (a wrong setting must still be
reported); `botschaft run` switches to the configured format once it has its settings.
Neither format adds data to what the code logs, and the code logs no personal data at info
level (tests/bots/test_logs.py reads the log of a whole conversation to hold it to that).
"""

from __future__ import annotations

import logging

from pythonjsonlogger.json import JsonFormatter

TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")


def start(verbose: int, bot_running: bool) -> None:
    """Text on stderr: warnings, with -v info, with -vv debug. A running bot's own state
    changes are worth seeing by default (slixmpp's chatter is not); a one-off command says
    only what it was asked."""
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format=TEXT)
    if bot_running:
        logging.getLogger("bots").setLevel(min(level, logging.INFO))


def use(log_format: str) -> None:
    """Write every further line in `log_format`: one of FORMATS, as `[log] format` checks."""
    formatter = json_formatter() if log_format == "json" else logging.Formatter(TEXT)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)


def json_formatter() -> logging.Formatter:
    """time (ISO 8601, UTC), level, logger, message; exc_info with a traceback, if any."""
    return JsonFormatter("{levelname}{name}{message}", style="{", timestamp="time",
                         rename_fields={"levelname": "level", "name": "logger"})
