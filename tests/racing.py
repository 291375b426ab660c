"""Requests that race: each from its own thread, all released at once."""

import threading
from typing import Any

from fastapi.testclient import TestClient


def race(
    client: TestClient, headers: dict[str, str], path: str, bodies: list[Any], method: str = "PUT"
) -> list[int]:
    """Send each body to ``path`` from its own thread, all released at once."""
    barrier = threading.Barrier(len(bodies))
    statuses: list[int] = []
    lock = threading.Lock()

    def put(body: Any) -> None:
        barrier.wait()
        response = client.request(method, path, json=body, headers=headers)
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=put, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(statuses)
