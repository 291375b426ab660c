"""Publishing domain events to a NATS JetStream stream, de-duplicated by event id."""

import logging

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import BadRequestError

logger = logging.getLogger("omnikanal.nats")


class JetStreamPublisher:
    def __init__(self, *, url: str, stream: str, subject_prefix: str) -> None:
        self.url = url
        self.stream = stream
        self.subject_prefix = subject_prefix
        self._client: Client | None = None
        self._js: JetStreamContext | None = None

    async def _jetstream(self) -> JetStreamContext:
        if self._js is None or self._client is None or not self._client.is_connected:
            self._client = await nats.connect(self.url, connect_timeout=5, max_reconnect_attempts=3)
            self._js = self._client.jetstream()
            config = StreamConfig(name=self.stream, subjects=[f"{self.subject_prefix}.>"])
            try:
                await self._js.add_stream(config)
            except BadRequestError:
                # The stream exists with other settings that its operator chose: keep them.
                logger.info("JetStream stream %s exists; using it as configured", self.stream)
        return self._js

    def subject(self, event_type: str) -> str:
        return f"{self.subject_prefix}.{event_type}"

    async def publish(self, *, event_id: str, event_type: str, body: bytes) -> None:
        js = await self._jetstream()
        # Nats-Msg-Id makes JetStream drop a re-sent event inside its duplicate window.
        await js.publish(self.subject(event_type), body, headers={"Nats-Msg-Id": event_id})

    async def close(self) -> None:
        if self._client is not None and self._client.is_connected:
            await self._client.drain()
        self._client = None
        self._js = None
