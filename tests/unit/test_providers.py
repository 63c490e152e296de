"""Coordinate providers: ops' words for them, the regions their shift covers, and conversions
checked against an independent reference.

The reference is `prcoords`' raw transforms (`check_china=False`), applied where the case itself
says the provider shifts: which region shifts is what is under test, so it is not taken from
either library's "in China" test.
"""

from __future__ import annotations

import unicodedata

import prcoords
import pytest
import shapely
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from geo.areas import parse_area
from geo.coords import Coord, CoordError, CoordSystem, Shift, to_system, to_wgs84
from geo.distance import haversine_m
from geo.providers import _WORDS_BY_PROVIDER, Provider
from geo.regions import Region, region_of

TIMES_SQUARE = (22.2783, 114.1822)  # Heytea, Times Square, Causeway Bay, Hong Kong (WGS-84)
SENADO = (22.1935, 113.5391)  # Largo do Senado, Macau
TAIPEI_101 = (25.0339, 121.5645)
KINMEN = (24.4325, 118.3187)  # Jincheng, Kinmen (Taiwan-administered, off Xiamen)
PEOPLES_SQUARE = (31.2304, 121.4737)  # Shanghai
SINGAPORE = (1.2834, 103.8607)


def gcj(p: tuple[float, float]) -> tuple[float, float]:
    g = prcoords.wgs_gcj(p, False)
    return g.lat, g.lon


def bd(p: tuple[float, float]) -> tuple[float, float]:
    b = prcoords.gcj_bd(prcoords.wgs_gcj(p, False))
    return b.lat, b.lon


def metres(a: tuple[float, float], c: Coord) -> float:
    return haversine_m(a[0], a[1], c.lat, c.lng)


@pytest.mark.parametrize(
    ("point", "region"),
    [
        (TIMES_SQUARE, Region.HONG_KONG),
        ((22.3193, 114.1694), Region.HONG_KONG),  # Mong Kok
        ((22.4960, 114.1280), Region.HONG_KONG),  # Sheung Shui, by the Shenzhen River
        (SENADO, Region.MACAU),
        ((22.1300, 113.5600), Region.MACAU),  # Coloane
        (TAIPEI_101, Region.TAIWAN),
        (KINMEN, Region.TAIWAN),
        ((22.6273, 120.3014), Region.TAIWAN),  # Kaohsiung
        (PEOPLES_SQUARE, Region.MAINLAND),
        ((22.5431, 114.0579), Region.MAINLAND),  # Futian, Shenzhen
        ((22.2710, 113.5767), Region.MAINLAND),  # Gongbei, Zhuhai
        ((24.4798, 118.0894), Region.MAINLAND),  # Xiamen
        (SINGAPORE, Region.ABROAD),
        ((37.5665, 126.9780), Region.ABROAD),  # Seoul
    ],
)
def test_each_place_is_in_its_region(point: tuple[float, float], region: Region) -> None:
    assert region_of(*point) is region


def _variants(word: str) -> list[str]:
    full_width = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in word)
    spaced = " ".join(word)
    return [word, word.upper(), word.lower(), full_width, f"  {spaced}  ", word.replace("-", "")]


@pytest.mark.parametrize(
    ("word", "provider"),
    [(w, p) for p, words in _WORDS_BY_PROVIDER.items() for w in (p.value, *words)],
)
def test_every_word_ops_write_names_its_provider(word: str, provider: Provider) -> None:
    for variant in _variants(word):
        assert Provider.parse(variant) is provider, variant
    # Hyphens as Excel and IMEs type them are ignored too.
    assert Provider.parse(unicodedata.normalize("NFKC", word).replace("-", "－")) is provider


@pytest.mark.parametrize(
    ("word", "provider"),
    [
        ("高德", Provider.AMAP),
        ("AMap", Provider.AMAP),
        ("高德地图", Provider.AMAP),
        ("腾讯", Provider.TENCENT),
        ("Tencent", Provider.TENCENT),
        ("腾讯地图", Provider.TENCENT),
        ("QQ地图", Provider.TENCENT),
        ("百度", Provider.BAIDU),
        ("Baidu", Provider.BAIDU),
        ("百度地图", Provider.BAIDU),
        ("GPS", Provider.GPS),
        ("谷歌地球", Provider.GPS),
        ("Google Earth", Provider.GPS),
        ("GPS设备", Provider.GPS),
        ("WGS-84", Provider.WGS84),
        ("WGS84", Provider.WGS84),
        ("GCJ-02", Provider.GCJ02),
        ("火星坐标", Provider.GCJ02),
        ("BD-09", Provider.BD09),
        ("wgs84", Provider.WGS84),
        ("gcj02", Provider.GCJ02),
        ("bd09", Provider.BD09),
    ],
)
def test_the_words_of_the_brief_parse(word: str, provider: Provider) -> None:
    assert Provider.parse(word) is provider


def test_every_gps_word_means_wgs84_whatever_its_name() -> None:
    for word in ("GPS", "WGS-84", "谷歌地球", "GPS设备"):
        assert Provider.parse(word).system is CoordSystem.WGS84


def test_an_unknown_word_is_refused_in_chinese_first_with_the_accepted_words() -> None:
    with pytest.raises(CoordError) as caught:
        Provider.parse("北斗")
    message = str(caught.value)
    assert message.startswith("坐标来源「北斗」无法识别，请填：高德、腾讯、百度")
    assert "/ unknown coordinate source '北斗'" in message
    assert "amap, tencent, baidu" in message


def test_amap_in_hong_kong_is_shifted_heytea_times_square_lands_on_its_real_place() -> None:
    uploaded = Provider.AMAP.coord(*gcj(TIMES_SQUARE))
    assert metres(TIMES_SQUARE, to_wgs84(uploaded)) < 0.01
    # The same numbers as a plain gcj02 keep Huoma's first rule: Hong Kong unshifted, ~590 m off.
    plain = Provider.GCJ02.coord(*gcj(TIMES_SQUARE))
    assert 500 < metres(TIMES_SQUARE, to_wgs84(plain)) < 650


def test_tencent_and_wechat_shift_macau_like_amap() -> None:
    for provider in (Provider.TENCENT, Provider.WECHAT, Provider.AMAP):
        assert metres(SENADO, to_wgs84(provider.coord(*gcj(SENADO)))) < 0.01


def test_amap_and_tencent_leave_taiwan_and_abroad_in_wgs84() -> None:
    for provider in (Provider.AMAP, Provider.TENCENT, Provider.WECHAT):
        for place in (TAIPEI_101, KINMEN, SINGAPORE):
            real = to_wgs84(provider.coord(*place))
            assert (real.lat, real.lng) == place


def test_baidu_shifts_taiwan_hong_kong_and_macau_and_leaves_abroad_in_wgs84() -> None:
    for place in (TAIPEI_101, KINMEN, TIMES_SQUARE, SENADO, PEOPLES_SQUARE):
        assert metres(place, to_wgs84(Provider.BAIDU.coord(*bd(place)))) < 0.01
    real = to_wgs84(Provider.BAIDU.coord(*SINGAPORE))
    assert (real.lat, real.lng) == SINGAPORE


def test_gps_is_never_moved() -> None:
    for place in (TIMES_SQUARE, SENADO, TAIPEI_101, PEOPLES_SQUARE, SINGAPORE):
        real = to_wgs84(Provider.GPS.coord(*place))
        assert (real.lat, real.lng) == place


def test_in_the_mainland_every_provider_agrees_with_the_plain_code() -> None:
    g = gcj(PEOPLES_SQUARE)
    for provider in (Provider.AMAP, Provider.TENCENT, Provider.WECHAT, Provider.GCJ02):
        assert metres(PEOPLES_SQUARE, to_wgs84(provider.coord(*g))) < 0.01


def test_a_provider_coordinate_converts_into_its_own_frame_exactly() -> None:
    """WGS-84 -> the provider's GCJ-02 is the reference's forward transform where it shifts."""
    for place in (TIMES_SQUARE, SENADO, PEOPLES_SQUARE):
        shifted = to_system(
            Coord(*place, CoordSystem.WGS84), CoordSystem.GCJ02, Shift.MAINLAND_HK_MACAU
        )
        assert metres(gcj(place), shifted) < 0.001
        back = to_wgs84(shifted)
        assert metres(place, back) < 0.01
    # Stored GCJ-02 (the plain rule) of an AMap Hong Kong store is its unshifted real place.
    stored = to_system(Provider.AMAP.coord(*gcj(TIMES_SQUARE)), CoordSystem.GCJ02, Shift.MAINLAND)
    assert metres(TIMES_SQUARE, stored) < 0.01


def test_across_the_shenzhen_river_an_amap_pair_keeps_its_true_distance() -> None:
    """Under AMap's rule both banks are shifted, so there is no fold at the border: a Lok Ma Chau
    (HK) store and a Futian (SZ) store, both from AMap, are as far apart as they really are."""
    hk = (22.5146, 114.0660)
    sz = (22.5240, 114.0660)
    a = to_wgs84(Provider.AMAP.coord(*gcj(hk)))
    b = to_wgs84(Provider.AMAP.coord(*gcj(sz)))
    assert metres(hk, a) < 0.01
    assert metres(sz, b) < 0.01


_SHIFTED_BY = {
    Provider.AMAP: {Region.MAINLAND, Region.HONG_KONG, Region.MACAU},
    Provider.TENCENT: {Region.MAINLAND, Region.HONG_KONG, Region.MACAU},
    Provider.WECHAT: {Region.MAINLAND, Region.HONG_KONG, Region.MACAU},
    Provider.BAIDU: {Region.MAINLAND, Region.HONG_KONG, Region.MACAU, Region.TAIWAN},
}


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    st.sampled_from(list(_SHIFTED_BY)),
    st.floats(21.8, 26.5),  # from Macau's islands to Matsu, across the Pearl River mouth,
    st.floats(113.3, 122.2),  # Shenzhen, Xiamen and the Taiwan Strait
)
def test_any_place_a_provider_gives_comes_back_to_where_it_is(
    provider: Provider, lat: float, lng: float
) -> None:
    """Whatever the region, a provider's coordinate of a real place (the reference's transform
    where the provider shifts, the place itself elsewhere) is read back as that place."""
    shifted = _SHIFTED_BY[provider]
    given_as = (lat, lng)
    if region_of(lat, lng) in shifted:
        given_as = bd(given_as) if provider is Provider.BAIDU else gcj(given_as)
    else:
        # Within ~600 m of a region the provider shifts, an unshifted coordinate can also be the
        # shifted image of a place inside it (the fold, as at the mainland's own edge): such a
        # coordinate is read as the shifted place, by the same rule as the mainland's. Only
        # unambiguous ones are checked here: no preimage (the reference's inverse) inside.
        c = prcoords.Coords(lat, lng)
        inverse = (
            prcoords.bd_wgs_bored(c, False)
            if provider is Provider.BAIDU
            else prcoords.gcj_wgs_bored(c, False)
        )
        assume(region_of(inverse.lat, inverse.lon) not in shifted)
    real = to_wgs84(provider.coord(*given_as))
    assert metres((lat, lng), real) < 0.01


def test_a_service_area_drawn_on_amap_in_hong_kong_covers_the_place_it_was_drawn_around() -> None:
    """~100 m around Times Square, as drawn on AMap (shifted there): read under AMap's rule it
    holds the real place; read as plain gcj02 it would lie ~590 m away."""
    ring = [gcj((TIMES_SQUARE[0] + dy, TIMES_SQUARE[1] + dx)) for dy, dx in _SQUARE]
    wkt = "POLYGON((" + ", ".join(f"{lng} {lat}" for lat, lng in ring) + "))"
    amap = parse_area(wkt, CoordSystem.GCJ02, into=CoordSystem.WGS84, shift=Provider.AMAP.shift)
    plain = parse_area(wkt, CoordSystem.GCJ02, into=CoordSystem.WGS84)
    here = shapely.Point(TIMES_SQUARE[1], TIMES_SQUARE[0])
    assert amap.contains(here)
    assert not plain.contains(here)


_SQUARE = [(-0.001, -0.001), (-0.001, 0.001), (0.001, 0.001), (0.001, -0.001), (-0.001, -0.001)]
