"""Loyalty: a points ledger earned and redeemed on every channel, tiers and rewards."""
