"""Recommendations (S11): models trained on every channel's history, served to any channel."""
