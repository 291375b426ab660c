"""What a profile shows of its history: traits (latest by event time), channels, first/last
seen. Built up message by message, combined on merge, rebuilt from events on unmerge."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID


class Seen(Protocol):
    @property
    def traits(self) -> Mapping[str, Any]: ...
    @property
    def channel(self) -> str: ...
    @property
    def seen_at(self) -> datetime: ...


def _stamp(moment: datetime) -> str:
    # One fixed format, so stamps compare correctly as strings.
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None or (b is not None and b < a) else a


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None or (b is not None and b > a) else a


@dataclass
class ProfileProjection:
    id: UUID
    traits: dict[str, Any] = field(default_factory=dict)
    trait_times: dict[str, str] = field(default_factory=dict)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    first_seen: datetime | None = None
    last_seen: datetime | None = None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> "ProfileProjection":
        """From (id, traits, trait_times, channels, first_seen, last_seen) as just read:
        the documents are fresh from the database, so they are taken, not copied."""
        id_, traits, trait_times, channels, first_seen, last_seen = row
        return cls(
            id=id_,
            traits=traits or {},
            trait_times=trait_times or {},
            channels=channels or {},
            first_seen=first_seen,
            last_seen=last_seen,
        )

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "traits": self.traits,
            "trait_times": self.trait_times,
            "channels": self.channels,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
        }

    def _set_trait(self, name: str, value: Any, stamp: str) -> None:
        if self.trait_times.get(name, "") <= stamp:
            self.traits[name] = value
            self.trait_times[name] = stamp

    def _see_channel(self, channel: str, first: str, last: str, events: int) -> None:
        seen = self.channels.get(channel)
        if seen is None:
            self.channels[channel] = {"first_seen": first, "last_seen": last, "events": events}
            return
        seen["first_seen"] = min(seen["first_seen"], first)
        seen["last_seen"] = max(seen["last_seen"], last)
        seen["events"] = int(seen.get("events", 0)) + events

    def see(self, message: Seen) -> None:
        stamp = _stamp(message.seen_at)
        self._take_traits(message.traits, stamp)
        self._see_channel(message.channel, stamp, stamp, 1)
        self._seen_between(message.seen_at, message.seen_at)

    def take_traits(self, message: Seen) -> None:
        """Only the message's traits: its visit is told later (``add_visits``)."""
        self._take_traits(message.traits, _stamp(message.seen_at))

    def add_visits(self, channel: str, first: datetime, last: datetime, events: int) -> None:
        """``events`` messages on ``channel`` between ``first`` and ``last``, told at once."""
        self._see_channel(channel, _stamp(first), _stamp(last), events)
        self._seen_between(first, last)

    def _take_traits(self, traits: Mapping[str, Any], stamp: str) -> None:
        for name, value in traits.items():
            self._set_trait(name, value, stamp)

    def _seen_between(self, first: datetime | None, last: datetime | None) -> None:
        self.first_seen = _earliest(self.first_seen, first)
        self.last_seen = _latest(self.last_seen, last)

    def absorb(self, other: "ProfileProjection") -> None:
        """Take in a merged profile's history; the later value of each trait wins."""
        for name, value in other.traits.items():
            self._set_trait(name, value, other.trait_times.get(name, ""))
        for channel, seen in other.channels.items():
            self._see_channel(
                channel, seen["first_seen"], seen["last_seen"], int(seen.get("events", 0))
            )
        self._seen_between(other.first_seen, other.last_seen)
