"""The bot's Prometheus metrics, counted on the message path whether or not a web server
serves them (bots/web.py, /metrics).

The counts are plain numbers, turned into Prometheus' text format only when /metrics is read
(`exposition`): a prometheus_client Counter or Histogram takes a lock and several calls at
every message, a tenth of what the bot itself spends on a `ping`, and prometheus_client
(with the HTTP server code it brings) is imported only then, so a bot without `[web] listen`
never loads it, nor Twisted."""

from __future__ import annotations

import bisect
import itertools
import time

HANDLER_BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10)  # seconds
GAUGES = {  # set by bots/web.py before each reading
    "botschaft_handler_failures": "Commands whose handler raised, since start",
    "botschaft_outbox_depth": "Outbox messages not yet done",
    "botschaft_outbox_oldest_age_seconds": "Age of the oldest outbox message not yet done",
    "botschaft_outbox_failed": "Outbox messages that ended failed (refused, or given up after "
                               "[outbox] max_attempts)",
    "botschaft_reconnects": "Reconnections since start",
    "botschaft_connected": "1 while the XMPP session is up",
    "botschaft_workers": "Bot processes on this database that reported in the last 90 s "
                         "(this one included)",
}


class Metrics:
    """What the bot counts. The message path counts with `received`, `handled` and `sent`,
    on the event loop; `gauges` (names as in GAUGES) are set when /metrics is read."""

    def __init__(self):
        self.started = time.time()
        self.messages_in = 0
        self.messages_out = 0
        self.handler_counts = [0] * (len(HANDLER_BUCKETS) + 1)  # per bucket, the last: +Inf
        self.handler_seconds = 0.0
        self.gauges = dict.fromkeys(GAUGES, 0.0)

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


def exposition(metrics: Metrics) -> tuple[str, bytes]:
    """The metrics in Prometheus' text format: (content type, body)."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    registry.register(_Collected(metrics))
    return CONTENT_TYPE_LATEST, generate_latest(registry)


class _Collected:
    """The counts as Prometheus metric families (a collector for prometheus_client)."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def collect(self):
        from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                            HistogramMetricFamily)
        from prometheus_client.utils import floatToGoString

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
        for name, documentation in GAUGES.items():
            yield GaugeMetricFamily(name, documentation, value=metrics.gauges[name])
