"""The bot's Prometheus metrics, counted on the message path whether or not a web server
serves them (bots/web.py, /metrics): kept apart from it, so a bot without `[web] listen`
never loads Twisted.

The message path's counts are plain numbers, turned into Prometheus' metrics only when
/metrics is read (`_Tallies`): a prometheus_client Counter or Histogram takes a lock and
several calls at every message, a tenth of what the bot itself spends on a `ping`."""

from __future__ import annotations

import bisect
import itertools
import time

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

HANDLER_BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10)  # seconds


class Metrics:
    """The bot's Prometheus metrics, in a registry of its own. The message path counts with
    `received`, `handled` and `sent`, on the event loop."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.started = time.time()
        self.messages_in = 0
        self.messages_out = 0
        self.handler_counts = [0] * (len(HANDLER_BUCKETS) + 1)  # per bucket, the last: +Inf
        self.handler_seconds = 0.0
        self.registry.register(_Tallies(self))
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

    def received(self) -> None:
        """A chat message for the bot came."""
        self.messages_in += 1

    def handled(self, seconds: float) -> None:
        """A message was answered `seconds` after it came."""
        self.handler_counts[bisect.bisect_left(HANDLER_BUCKETS, seconds)] += 1
        self.handler_seconds += seconds

    def sent(self, count: int = 1) -> None:
        """Messages went out: an answer, or the outbox's once the server has them."""
        self.messages_out += count


class _Tallies(Collector):
    """The message path's counts as Prometheus metrics, made when /metrics is read."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def collect(self):
        metrics = self.metrics
        yield CounterMetricFamily("botschaft_messages_in", "Chat messages received",
                                  value=metrics.messages_in, created=metrics.started)
        yield CounterMetricFamily("botschaft_messages_out", "Messages sent: answers, and the "
                                  "outbox's once the server has them",
                                  value=metrics.messages_out, created=metrics.started)
        counts = list(itertools.accumulate(metrics.handler_counts))
        yield HistogramMetricFamily(
            "botschaft_handler_seconds", "Time from a message to its answer",
            buckets=[(floatToGoString(bound), count)
                     for bound, count in zip(HANDLER_BUCKETS, counts)] + [("+Inf", counts[-1])],
            sum_value=metrics.handler_seconds)
