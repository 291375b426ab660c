"""Idempotency-Key handling shared by every POST (Stripe's rules)."""
