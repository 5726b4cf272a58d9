"""HTML rendering for the storefront page; every value is escaped."""

from collections.abc import Iterable
from html import escape

from target_server.models import Product

_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Breakfix shop</title></head>
<body>
<h1>Breakfix shop</h1>
<table>
<thead><tr><th>SKU</th><th>Name</th><th>Category</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</body>
</html>
"""


def render_products(products: Iterable[Product]) -> str:
    """A full HTML page listing `products`."""
    rows = "\n".join(
        f"<tr><td>{escape(p.sku)}</td><td>{escape(p.name)}</td><td>{escape(p.category)}</td></tr>"
        for p in products
    )
    return _PAGE.format(rows=rows)
