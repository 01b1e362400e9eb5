"""Consumer lag and committed offsets per assigned partition, as Prometheus gauges."""

from __future__ import annotations

import contextlib
from typing import Any

from wiredesk import metrics
from wiredesk.bus import Consumer


class LagReporter:
    """Reports one runner's partitions; forgets partitions that moved to another member."""

    def __init__(self, stage_name: str, consumer: Consumer, log: Any) -> None:
        self.stage_name = stage_name
        self.consumer = consumer
        self.log = log
        self.reported: set[tuple[str, int]] = set()

    def report(self) -> None:
        """Lag and committed offset per assigned partition; partitions that moved to
        another member after a rebalance are dropped, so no stale series remains."""
        name = self.stage_name
        try:
            lags = self.consumer.lag()
            offsets = self.consumer.committed_offsets()
        except Exception as exc:
            self.log.debug("lag_failed", error=repr(exc))
            return
        for topic, partition in self.reported - set(lags):
            labels = (name, topic, str(partition))
            for gauge in (metrics.CONSUMER_LAG, metrics.CONSUMER_OFFSET):
                with contextlib.suppress(KeyError):
                    gauge.remove(*labels)
        for (topic, partition), lag in lags.items():
            metrics.CONSUMER_LAG.labels(name, topic, str(partition)).set(lag)
            if (topic, partition) in offsets:
                offset = offsets[(topic, partition)]
                metrics.CONSUMER_OFFSET.labels(name, topic, str(partition)).set(offset)
        self.reported = set(lags)
