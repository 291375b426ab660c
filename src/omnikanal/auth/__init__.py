"""Sources with write keys (channels ingesting) and secret keys with roles (staff, back ends)."""
