"""Data protection: the access log, export and erasure across every domain, retention."""
