"""Where GCJ-02 applies: mainland China's outline at every land border and at Hong Kong and Macau.

Coordinates are the places' own, as Wikipedia or GeoNames give them (town centres, checkpoints,
stations), each at least a few hundred metres from the border in OpenStreetMap, the outline's
source, so that the source's own error cannot decide the case.
"""

from __future__ import annotations

import pytest

from geo.mainland import in_mainland_china

# (WGS-84 lat, lng)
INSIDE = {
    # Russia, on the Amur, Argun and Ussuri
    "Heihe, across the Amur from Blagoveshchensk": (50.2450, 127.4900),
    "Fuyuan, where the Amur meets the Ussuri": (48.3647, 134.2945),
    "Manzhouli, by Zabaykalsk": (49.5978, 117.3781),
    "Mohe, on the upper Amur": (52.9722, 122.5378),
    "Suifenhe, on the Primorye border": (44.3986, 131.1478),
    "Hunchun, by the Tumen": (42.8679, 130.3577),
    # North Korea, on the Yalu and Tumen
    "Dandong, across the Yalu from Sinuiju": (40.1244, 124.3944),
    "Ji'an, across the Yalu from Manpo": (41.1231, 126.1939),
    "Tumen city, across the Tumen from Namyang": (42.9667, 129.8431),
    # Mongolia
    "Erenhot, by Zamyn-Uud": (43.6531, 111.9770),
    # Kazakhstan, Kyrgyzstan, Tajikistan, Pakistan
    "Khorgas, by the Kazakh border": (44.2144, 80.4200),
    "Kashgar, by a lake the source leaves as a hole": (39.4700, 75.9897),
    "Tashkurgan, below the Khunjerab Pass": (37.7722, 75.2272),
    # Nepal, Bhutan, India (the line of actual control as OpenStreetMap draws it)
    "Zhangmu, above Kodari": (27.9883, 85.9811),
    "Gyirong town": (28.8533, 85.2947),
    "Yadong, in the Chumbi valley": (27.4833, 88.9000),
    # Myanmar, Laos, Vietnam
    "Ruili, across the Shweli from Muse": (24.0127, 97.8517),
    "Mengla": (21.4591, 101.5645),
    "Mohan, by Boten": (21.1857, 101.6934),
    "Hekou, across the Nanxi from Lao Cai": (22.5094, 103.9590),
    "Pingxiang, Guangxi": (22.0977, 106.7567),
    "Dongxing, across the Beilun from Mong Cai": (21.5475, 107.9715),
    # Islands
    "Haikou, Hainan": (20.0440, 110.1999),
    "Sanya, Hainan": (18.2528, 109.5119),
    "Yongxing (Woody) Island, Sansha, Paracels": (16.8340, 112.3380),
    "Xiamen, Siming, 8 km from Kinmen": (24.4798, 118.0894),
    "Pingtan island": (25.5000, 119.7833),
    "Zhoushan": (29.9856, 122.2072),
    # Shenzhen, Zhuhai
    "Dongmen, Luohu, Shenzhen": (22.5450, 114.1180),
    "Futian port, Shenzhen": (22.5173, 114.0665),
    "Huanggang, Shenzhen": (22.5262, 114.0797),
    "Shatoujiao, Yantian": (22.5580, 114.2360),
    "Gongbei port, Zhuhai": (22.2172, 113.5494),
    "Hengqin, west of Cotai": (22.1200, 113.5200),
}
OUTSIDE = {
    "Blagoveshchensk": (50.2667, 127.5333),
    "Zabaykalsk": (49.6486, 117.3283),
    "Khabarovsk": (48.4833, 135.0833),
    "Pogranichny": (44.4000, 131.3833),
    "Sinuiju": (40.1006, 124.3981),
    "Manpo": (41.1453, 126.2953),
    "Zamyn-Uud": (43.7167, 111.9000),
    "Zharkent": (44.1667, 80.0000),
    "Kodari": (27.9700, 85.9600),
    "Muse": (23.9833, 97.9000),
    "Boten": (21.1667, 101.6667),
    "Lao Cai": (22.4833, 103.9667),
    "Dong Dang": (21.9333, 106.7000),
    "Mong Cai": (21.5246, 107.9661),
    "Lo Wu station, Hong Kong": (22.5283, 114.1133),
    "Lok Ma Chau station, Hong Kong": (22.5147, 114.0656),
    "Sha Tau Kok, Hong Kong": (22.5440, 114.2230),
    "Border Gate, Macau": (22.2150, 113.5495),
    "Cotai, Macau": (22.1430, 113.5640),
    "Kinmen, Jincheng": (24.4326, 118.3170),
    "Matsu, Nangan": (26.1598, 119.9432),
    "Taipei": (25.0330, 121.5654),
    "Singapore": (1.3521, 103.8198),
}


@pytest.mark.parametrize("place", sorted(INSIDE))
def test_gcj02_applies_at_border_towns_on_the_chinese_side(place: str) -> None:
    assert in_mainland_china(*INSIDE[place])


@pytest.mark.parametrize("place", sorted(OUTSIDE))
def test_gcj02_does_not_apply_just_across_the_border(place: str) -> None:
    assert not in_mainland_china(*OUTSIDE[place])
