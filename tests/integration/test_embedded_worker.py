import time
import uuid

from fastapi.testclient import TestClient

from omnikanal.app import create_app
from omnikanal.config import Settings
from omnikanal.uow import record_event, unit_of_work
from tests.factories import bearer, create_secret_key
from tests.integration.test_outbox import ThingHappened, WebhookReceiver


def test_serve_runs_the_worker_and_delivers_webhooks(settings: Settings) -> None:
    receiver = WebhookReceiver()
    app = create_app(
        settings.model_copy(update={"embedded_worker": True, "worker_poll_seconds": 0.1})
    )
    admin = bearer(create_secret_key(app.state.session_factory))
    try:
        with TestClient(app) as client:  # runs the lifespan, and with it the worker
            receiver.secret = client.post(
                "/v1/webhooks", json={"url": receiver.url}, headers=admin
            ).json()["secret"]
            with unit_of_work(app.state.session_factory) as session:
                event_id = record_event(session, ThingHappened(thing_id=uuid.uuid4(), note="x"))
            deadline = time.monotonic() + 10
            while not receiver.received and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        receiver.close()
    assert [m["id"] for m in receiver.received] == [str(event_id)]
