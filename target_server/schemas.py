"""Request and response bodies of the target API."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Request bodies are strict: JSON true is not a quantity of 1, nor "5" or 5.0 a count of 5.
# Postgres `integer` (int4): anything larger must be a 422 here, not a DataError later.
INT4_MAX = 2**31 - 1

Sku = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Category = Annotated[str, Field(min_length=1, max_length=64)]


class ProductCreate(BaseModel):
    """A new product and its opening stock."""

    model_config = ConfigDict(extra="forbid", strict=True)

    sku: Sku
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    category: Category = "general"
    quantity: int = Field(0, ge=0, le=INT4_MAX)


class ProductUpdate(BaseModel):
    """Fields of a product that may change; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    category: Category | None = None

    @field_validator("name", "description", "category", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Omitting a field keeps it; an explicit null would violate NOT NULL, so refuse it.
        if value is None:
            raise ValueError("may be omitted but not null")
        return value


class ProductOut(BaseModel):
    """A product as returned by the API."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    sku: str
    name: str
    description: str
    category: str
    created_at: datetime


class PriceOut(BaseModel):
    """A product's price as quoted by the pricing upstream (possibly from the cache)."""

    product_id: int
    sku: str
    price_cents: int
    currency: str
    source: str
    cached: bool
    stale: bool


class InventoryUpdate(BaseModel):
    """The new stock level of a product."""

    model_config = ConfigDict(extra="forbid", strict=True)

    quantity: int = Field(ge=0, le=INT4_MAX)


class InventoryOut(BaseModel):
    """A product's stock level."""

    model_config = ConfigDict(from_attributes=True)

    product_id: int
    quantity: int
    updated_at: datetime


class OrderItem(BaseModel):
    """One line of a new order."""

    model_config = ConfigDict(extra="forbid", strict=True)

    product_id: int = Field(ge=1, le=INT4_MAX)
    quantity: int = Field(ge=1, le=10_000)


class OrderCreate(BaseModel):
    """A new order: at least one line."""

    model_config = ConfigDict(extra="forbid", strict=True)

    items: list[OrderItem] = Field(min_length=1, max_length=100)


class OrderLineOut(BaseModel):
    """One line of a placed order."""

    model_config = ConfigDict(from_attributes=True)

    product_id: int
    quantity: int
    unit_price_cents: int


class OrderOut(BaseModel):
    """A placed or cancelled order."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str
    total_cents: int
    currency: str
    created_at: datetime
    lines: list[OrderLineOut]


class CheckResult(BaseModel):
    """The outcome of one readiness check."""

    ok: bool
    detail: str
    latency_ms: float


class Readiness(BaseModel):
    """Overall readiness and the result of each check."""

    status: str
    checks: dict[str, CheckResult]
