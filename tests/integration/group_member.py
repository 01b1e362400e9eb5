"""One Kafka group member in its own process (as a worker is): polls and prints its
assignment as a JSON line after every poll, until SIGTERM (then it closes its consumer:
a static member does not leave the group) or the time is up.

    python -m tests.integration.group_member BOOTSTRAP NAMESPACE INSTANCE_ID|- SECONDS [ASSIGNOR]
"""

from __future__ import annotations

import json
import signal
import sys
import time

from wiredesk.bus.kafka import KafkaBus


def main(argv: list[str]) -> int:
    bootstrap, namespace, instance, seconds = argv[:4]
    assignor = argv[4] if len(argv) > 4 else "cooperative-sticky"
    bus = KafkaBus(
        bootstrap,
        namespace=namespace,
        group_instance_id=None if instance == "-" else instance,
        assignor=assignor,
    )
    consumer = bus.consumer(["items"], "g")
    deadline = time.monotonic() + float(seconds)
    stopped: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopped.append(signum))
    try:
        while time.monotonic() < deadline and not stopped:
            consumer.poll(10, 1.0)
            owned = sorted(p for _, p in consumer.assignment())
            print(json.dumps({"t": time.time(), "owned": owned}), flush=True)
    finally:
        consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
