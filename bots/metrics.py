"""The bot's Prometheus metrics, counted on the message path whether or not a web server
serves them (bots/web.py, /metrics): kept apart from it, so a bot without `[web] listen`
never loads Twisted."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """The bot's Prometheus metrics, in a registry of its own."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.messages_in = Counter("botschaft_messages_in", "Chat messages received",
                                   registry=self.registry)
        self.messages_out = Counter("botschaft_messages_out", "Messages sent: answers, and "
                                    "the outbox's once the server has them",
                                    registry=self.registry)
        self.handler_seconds = Histogram(
            "botschaft_handler_seconds", "Time from a message to its answer",
            buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10),
            registry=self.registry)
        self.handler_failures = Gauge("botschaft_handler_failures",
                                      "Commands whose handler raised, since start",
                                      registry=self.registry)
        self.outbox_depth = Gauge("botschaft_outbox_depth", "Outbox messages not yet done",
                                  registry=self.registry)
        self.outbox_age = Gauge("botschaft_outbox_oldest_age_seconds",
                                "Age of the oldest outbox message not yet done",
                                registry=self.registry)
        self.outbox_failed = Gauge("botschaft_outbox_failed",
                                   "Outbox messages that ended failed (refused, or given up "
                                   "after [outbox] max_attempts)", registry=self.registry)
        self.reconnects = Gauge("botschaft_reconnects", "Reconnections since start",
                                registry=self.registry)
        self.connected = Gauge("botschaft_connected", "1 while the XMPP session is up",
                               registry=self.registry)
        self.workers = Gauge("botschaft_workers", "Bot processes on this database that "
                             "reported in the last 90 s (this one included)",
                             registry=self.registry)
