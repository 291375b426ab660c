from tests.integration.commerce.conftest import shop  # noqa: F401  (the commerce retailer)
