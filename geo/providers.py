"""Coordinate providers: who gave a coordinate decides its system and where its shift applies.

A store list copied from AMap, a Baidu picker, a GPS device or the page's `wx.getLocation` all
say "GCJ-02" or "BD-09" about mainland China, and disagree about Hong Kong, Macau and Taiwan. What
each does there, and the evidence (README "Coordinate providers" has the table):

- AMap (高德): GCJ-02 in the mainland, Hong Kong and Macau. Heytea's official store list, taken
  from AMap, has Times Square (Hong Kong) 576 m from its WGS-84 position and 20 m from the GCJ-02
  transform of it; https://github.com/antct/city-vein/issues/1 (Hong Kong bus data from AMap is
  shifted). Taiwan: unconfirmed, assumed WGS-84 as Tencent's and Huawei's maps document, and
  because https://github.com/hujiulong/gcoord/issues/235 (Baidu -> AMap in Taiwan) is answered
  "Taiwan's coordinates need no conversion".
- Tencent (腾讯): "在中国大陆、香港、澳门都是返回腾讯位置服务坐标；在中国台湾地区以及海外地区返回的
  是WGS84坐标" (https://lbs.qq.com/faq/latlngFaq).
- WeChat's `wx.getLocation({type: 'gcj02'})`: "coordinates usable by wx.openLocation", whose map
  is Tencent's (https://developers.weixin.qq.com/minigame/dev/api/location/wx.getLocation.html).
  Its rule outside the mainland is undocumented; assumed Tencent's, because that is the map it is
  made for.
- Baidu (百度): "百度地图SDK在国内（包括港澳台）使用的是BD09LL坐标 ...
  在海外地区，统一使用WGS84坐标"
  (https://lbsyun.baidu.com/docs/android?title=androidsdk%2Fguide%2Ftool%2Fcoordinate).
  BD-09 is GCJ-02 shifted again, so Hong Kong, Macau and Taiwan are assumed to carry both shifts.
- GPS (a device, WGS-84, Google Earth): never shifted.
- The plain codes wgs84, gcj02, bd09 keep Huoma's first rule: GCJ-02 only in the mainland, BD-09
  everywhere. An upload that names a provider gets the provider's rule.
"""

from __future__ import annotations

import enum
import unicodedata

from geo.coords import Coord, CoordError, CoordSystem, Shift


class Provider(enum.StrEnum):
    AMAP = "amap"
    TENCENT = "tencent"
    BAIDU = "baidu"
    GPS = "gps"
    WECHAT = "wechat"
    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"

    @property
    def system(self) -> CoordSystem:
        return _SYSTEM[self]

    @property
    def shift(self) -> Shift:
        return _SHIFT[self]

    def coord(self, lat: float, lng: float, system: CoordSystem | None = None) -> Coord:
        """A coordinate this provider gave, in its own system unless `system` says otherwise (the
        page's wx.getLocation may ask for wgs84)."""
        return Coord(lat, lng, self.system if system is None else system, self.shift)

    @classmethod
    def parse(cls, text: str) -> Provider:
        """Ops' words for a coordinate source: 高德, AMap, 腾讯地图, GPS设备, 火星坐标, BD-09...
        Case, spaces, full-width forms, hyphens and underscores are ignored."""
        provider = WORDS.get(normalize(text))
        if provider is None:
            raise CoordError(UNKNOWN_MESSAGE.format(text=text.strip()[:40]))
        return provider


def normalize(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if not ch.isspace() and ch not in "-_·.()（）")


_SYSTEM = {
    Provider.AMAP: CoordSystem.GCJ02,
    Provider.TENCENT: CoordSystem.GCJ02,
    Provider.WECHAT: CoordSystem.GCJ02,
    Provider.BAIDU: CoordSystem.BD09,
    Provider.GPS: CoordSystem.WGS84,
    Provider.WGS84: CoordSystem.WGS84,
    Provider.GCJ02: CoordSystem.GCJ02,
    Provider.BD09: CoordSystem.BD09,
}
_SHIFT = {
    Provider.AMAP: Shift.MAINLAND_HK_MACAU,
    Provider.TENCENT: Shift.MAINLAND_HK_MACAU,
    Provider.WECHAT: Shift.MAINLAND_HK_MACAU,
    Provider.BAIDU: Shift.MAINLAND_HK_MACAU_TAIWAN,
    Provider.GPS: Shift.MAINLAND,  # WGS-84 is never shifted: any rule gives the same place
    Provider.WGS84: Shift.MAINLAND,
    Provider.GCJ02: Shift.MAINLAND,
    Provider.BD09: Shift.MAINLAND,
}

# The words each provider is written as, before normalize(); each is also its own value.
_WORDS_BY_PROVIDER: dict[Provider, tuple[str, ...]] = {
    Provider.AMAP: ("高德", "高德地图", "AMap", "Gaode", "AutoNavi", "高德坐标"),
    Provider.TENCENT: ("腾讯", "腾讯地图", "Tencent", "QQ地图", "QQMap", "腾讯坐标"),
    Provider.BAIDU: ("百度", "百度地图", "Baidu", "百度坐标"),
    Provider.GPS: ("GPS", "GPS设备", "谷歌地球", "Google Earth", "GoogleEarth", "设备定位"),
    Provider.WECHAT: ("微信", "WeChat", "wx"),
    Provider.WGS84: ("WGS-84", "WGS84", "WGS", "地球坐标"),
    Provider.GCJ02: ("GCJ-02", "GCJ02", "GCJ", "火星坐标", "火星坐标系", "国测局坐标"),
    Provider.BD09: ("BD-09", "BD09", "BD09LL", "BD"),
}
WORDS: dict[str, Provider] = {
    normalize(word): provider
    for provider, words in _WORDS_BY_PROVIDER.items()
    for word in (provider.value, *words)
}
ACCEPTED_ZH = "高德、腾讯、百度、GPS（WGS-84、谷歌地球）、GCJ-02（火星坐标）、BD-09"
ACCEPTED_EN = "amap, tencent, baidu, gps (wgs84, google earth), gcj02, bd09"
UNKNOWN_MESSAGE = (
    "坐标来源「{text}」无法识别，请填：" + ACCEPTED_ZH + " / unknown coordinate source {text!r}; "
    "use one of: " + ACCEPTED_EN
)
