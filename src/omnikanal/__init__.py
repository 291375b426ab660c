"""omnikanal: an omnichannel retail hub."""

__version__ = "0.1.0"
