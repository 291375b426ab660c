import pytest

from omnikanal.inventory.geo import distance_km

STOCKHOLM = (59.3326, 18.0649)
GOTEBORG = (57.6996, 11.9746)
KOBENHAVN = (55.6786, 12.5760)


def test_distances_between_the_stores_are_those_on_the_map() -> None:
    # On the WGS 84 ellipsoid (Vincenty): 398.6 km and 228.0 km; a sphere is within 0.5 %.
    assert distance_km(*GOTEBORG, *STOCKHOLM) == pytest.approx(398.6, rel=0.005)
    assert distance_km(*GOTEBORG, *KOBENHAVN) == pytest.approx(228.0, rel=0.005)


def test_distance_is_symmetric_zero_at_the_point_and_at_most_half_the_world() -> None:
    assert distance_km(*STOCKHOLM, *STOCKHOLM) == 0
    assert distance_km(*STOCKHOLM, *KOBENHAVN) == pytest.approx(distance_km(*KOBENHAVN, *STOCKHOLM))
    assert distance_km(0, 0, 0, 180) == pytest.approx(20_015.1, abs=0.1)
    assert distance_km(90, 0, -90, 0) == pytest.approx(20_015.1, abs=0.1)
    assert distance_km(0, 179.5, 0, -179.5) == pytest.approx(111.2, abs=0.1)
