"""Person- and store-level A/B tests: assignment, exposures and their statistics."""
