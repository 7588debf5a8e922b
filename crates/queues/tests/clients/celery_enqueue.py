"""Sends tasks with Celery's own client on its Redis broker (PyPI celery, kombu).

Usage: [PREFIX=P] python celery_enqueue.py REDIS_URL QUEUE COUNT [published_at] [priority N]
  PREFIX sets kombu's transport option global_keyprefix (put before every key the broker uses).
  `published_at` adds properties.published_at (float epoch seconds) before publishing, as
  Judoscale's Celery adapter does; without it the message carries no publish time.
"""
import os
import sys
import time

from celery import Celery
from celery.signals import before_task_publish

url, queue, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
rest = sys.argv[4:]
app = Celery("autoscaled_test", broker=url)
if os.environ.get("PREFIX"):
    app.conf.broker_transport_options = {"global_keyprefix": os.environ["PREFIX"]}

if "published_at" in rest:
    @before_task_publish.connect
    def stamp(properties=None, **_):
        properties["published_at"] = time.time()

options = {}
if "priority" in rest:
    options["priority"] = int(rest[rest.index("priority") + 1])
for _ in range(count):
    app.send_task("tasks.add", args=[1, 2], queue=queue, **options)
