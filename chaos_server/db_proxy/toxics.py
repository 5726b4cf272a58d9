"""Toxics, as in Toxiproxy: named effects on a lane's connections, each hitting a connection
with probability `toxicity`, on one `stream` (upstream: client to DB; downstream: back)."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

Stream = Literal["upstream", "downstream"]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
MAX_MS = 3_600_000


class _Toxic(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: str = Field(pattern=NAME_PATTERN)
    toxicity: float = Field(1.0, ge=0.0, le=1.0)


class LatencyToxic(_Toxic):
    """Every chunk on `stream` waits latency_ms ± jitter_ms after it arrived."""

    type: Literal["latency"]
    stream: Stream = "downstream"
    latency_ms: int = Field(ge=0, le=MAX_MS)
    jitter_ms: int = Field(0, ge=0, le=MAX_MS)


class BandwidthToxic(_Toxic):
    """`stream` carries at most rate_kb_s KiB per second."""

    type: Literal["bandwidth"]
    stream: Stream = "downstream"
    rate_kb_s: int = Field(ge=1, le=10_000_000)


class ResetPeerToxic(_Toxic):
    """timeout_ms after it hits a connection, both its sockets are closed with a TCP RST."""

    type: Literal["reset_peer"]
    timeout_ms: int = Field(0, ge=0, le=MAX_MS)


class TimeoutToxic(_Toxic):
    """A blackhole: data on `stream` is dropped; the connection is closed after timeout_ms
    (0: never, until the toxic is removed)."""

    type: Literal["timeout"]
    stream: Stream = "downstream"
    timeout_ms: int = Field(0, ge=0, le=MAX_MS)


Toxic = Annotated[
    LatencyToxic | BandwidthToxic | ResetPeerToxic | TimeoutToxic, Field(discriminator="type")
]
TOXIC = TypeAdapter[Toxic](Toxic)


def stream_of(toxic: Toxic) -> Stream | None:
    """The stream a toxic acts on; None for one that acts on the whole connection."""
    return None if isinstance(toxic, ResetPeerToxic) else toxic.stream
