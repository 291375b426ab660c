"""Bulk imports: customers, products, prices, stock and orders from files, as durable jobs."""
