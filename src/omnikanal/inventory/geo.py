"""Distances between locations and a customer, on the surface of the Earth."""

import math

# The mean Earth radius (IUGG), in kilometres.
EARTH_RADIUS_KM = 6371.0088


def distance_km(
    latitude: float, longitude: float, to_latitude: float, to_longitude: float
) -> float:
    """The great-circle distance by the haversine formula (within 0.5 % of the ellipsoid)."""
    phi1, phi2 = math.radians(latitude), math.radians(to_latitude)
    d_phi = phi2 - phi1
    d_lambda = math.radians(to_longitude - longitude)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))
