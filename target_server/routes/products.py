"""Product routes, including the price quoted by the pricing upstream."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from target_server import products as service
from target_server.deps import IdPath, PricingDep, SessionDep
from target_server.schemas import INT4_MAX, PriceOut, ProductCreate, ProductOut, ProductUpdate

router = APIRouter(prefix="/products", tags=["products"])


@router.get("", response_model=list[ProductOut])
def list_products(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT4_MAX)] = 0,
    category: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> list[ProductOut]:
    """Products by id, paginated, optionally filtered by category."""
    rows = service.list_products(session=session, limit=limit, offset=offset, category=category)
    return [ProductOut.model_validate(row) for row in rows]


@router.post("", response_model=ProductOut, status_code=201)
def create_product(body: ProductCreate, session: SessionDep) -> ProductOut:
    """Create a product with its opening stock."""
    return ProductOut.model_validate(service.create_product(session=session, data=body))


@router.get("/{product_id}", response_model=ProductOut)
def get_product(product_id: IdPath, session: SessionDep) -> ProductOut:
    """One product."""
    return ProductOut.model_validate(service.get_product(session=session, product_id=product_id))


@router.patch("/{product_id}", response_model=ProductOut)
def update_product(product_id: IdPath, body: ProductUpdate, session: SessionDep) -> ProductOut:
    """Change a product's name, description or category."""
    product = service.update_product(session=session, product_id=product_id, data=body)
    return ProductOut.model_validate(product)


@router.delete("/{product_id}", status_code=204)
def delete_product(product_id: IdPath, session: SessionDep) -> Response:
    """Delete a product that has never been ordered."""
    service.delete_product(session=session, product_id=product_id)
    return Response(status_code=204)


@router.get("/{product_id}/price", response_model=PriceOut)
def get_price(product_id: IdPath, session: SessionDep, pricing: PricingDep) -> PriceOut:
    """The product's price from the upstream, through the disk cache."""
    # get_sku ends the transaction: no pooled connection is held while the upstream answers.
    sku = service.get_sku(session=session, product_id=product_id)
    result = pricing.price(sku)
    return PriceOut(
        product_id=product_id,
        sku=sku,
        price_cents=result.quote.price_cents,
        currency=result.quote.currency,
        source=result.quote.source,
        cached=result.cached,
        stale=result.stale,
    )
