"""What each hook kind accepts; bounds keep even an authorised caller from sinking the host."""

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class HookKind(StrEnum):
    """The in-process faults the target can be asked to carry."""

    memory_leak = "memory-leak"
    cpu_hog = "cpu-hog"
    error_storm = "error-storm"
    latency = "latency"


KEY_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
FaultKey = Annotated[str, Field(pattern=KEY_PATTERN)]


class HookBody(BaseModel):
    """Every hook is named by its caller's key, so a repeated POST is recognised."""

    model_config = ConfigDict(extra="forbid", strict=True)

    fault_key: FaultKey


class MemoryLeakParams(HookBody):
    """Allocate `rate_mb_s` MiB a second and hold it, up to `max_mb` MiB."""

    rate_mb_s: float = Field(16.0, gt=0, le=1024)
    max_mb: int = Field(256, ge=1, le=4096)


class CpuHogParams(HookBody):
    """`threads` busy threads, each spinning for `duty` of every 100 ms."""

    threads: int = Field(2, ge=1, le=16)
    duty: float = Field(1.0, gt=0, le=1.0)


class ErrorStormParams(HookBody):
    """Fail `ratio` of business requests with a 500."""

    ratio: float = Field(0.5, gt=0, le=1.0)


class LatencyParams(HookBody):
    """Hold every business request `delay_ms` ± `jitter_ms` before it is served."""

    delay_ms: int = Field(2000, ge=0, le=60_000)
    jitter_ms: int = Field(200, ge=0, le=10_000)


PARAMS: dict[HookKind, type[HookBody]] = {
    HookKind.memory_leak: MemoryLeakParams,
    HookKind.cpu_hog: CpuHogParams,
    HookKind.error_storm: ErrorStormParams,
    HookKind.latency: LatencyParams,
}
