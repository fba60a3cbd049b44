"""Hand-offs between the video pipeline's threads: a worker that keeps its error, and queue
puts and gets that give up when the pipeline stops.

    from style_transfer.video.handoff import END, Worker, get, put, put_checked
    reader = Worker(lambda: produce(q, stop), "video-reader"); reader.start()
    while (item := get(q, stop)) is not END: ...
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

END = object()  # the marker a producer puts last


class Worker(threading.Thread):
    """A daemon thread that keeps its exception for the main thread to raise."""

    def __init__(self, target: Callable[[], None], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._target_fn = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as exc:
            self.error = exc


def put(q: queue.Queue, item: Any, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def get(q: queue.Queue, stop: threading.Event) -> Any:
    """Next item, or the end marker once ``stop`` is set and nothing is left."""
    while True:
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            if stop.is_set():
                return END


def put_checked(q: queue.Queue, item: Any, consumer: Worker) -> None:
    """Put, unless the consumer died: then raise its error instead of waiting forever."""
    while True:
        if consumer.error is not None:
            raise consumer.error
        if not consumer.is_alive():
            raise RuntimeError(f"{consumer.name} stopped")
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            continue
