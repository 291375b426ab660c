"""Bulk imports: a retailer's customers, products, prices, stock and order history."""
