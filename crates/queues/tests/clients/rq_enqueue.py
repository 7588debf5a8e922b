"""Enqueues jobs with RQ's own client (PyPI rq, pinned in scripts/requirements-queues.txt).

Usage: python rq_enqueue.py REDIS_URL QUEUE COUNT [at EPOCH_SECONDS]
  COUNT jobs now (enqueue_many, one pipeline per 1,000), or one job scheduled at EPOCH_SECONDS.
"""
import sys
from datetime import datetime, timezone

from redis import Redis
from rq import Queue

url, queue_name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
queue = Queue(queue_name, connection=Redis.from_url(url))
if len(sys.argv) > 4 and sys.argv[4] == "at":
    when = datetime.fromtimestamp(float(sys.argv[5]), timezone.utc)
    queue.enqueue_at(when, "os.getcwd")
else:
    left = count
    while left > 0:
        batch = min(left, 1000)
        queue.enqueue_many([Queue.prepare_data("os.getcwd") for _ in range(batch)])
        left -= batch
