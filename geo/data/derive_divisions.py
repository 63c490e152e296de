"""Derive divisions.csv (China's administrative divisions with a centre point each) from the
PyPI package cpca 0.5.5, whose resources/adcodes.csv lists 3,511 divisions (provinces, cities,
districts and counties) by their 12-digit code with a centre longitude and latitude.

    pip download cpca==0.5.5 --no-deps -d /tmp/cpca
    python geo/data/derive_divisions.py /tmp/cpca/cpca-0.5.5-py3-none-any.whl \\
        > geo/data/divisions.csv

The centres are AMap's (GCJ-02): 虹口区 121.505133,31.2646 is AMap's district centre. Output:
adcode (6 digits), level (province, city, district), parent (6 digits, "" for a province), name,
lng, lat; rows without a centre are left out. A municipality's "市辖区"/"县" city rows are
named after the municipality (上海市), so a store whose city is 上海 finds them."""

from __future__ import annotations

import csv
import io
import sys
import zipfile

MUNICIPAL = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as z:
        text = z.read("cpca/resources/adcodes.csv").decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    names = {r["adcode"][:6]: r["name"] for r in rows}
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["adcode", "level", "parent", "name", "lng", "lat"])
    for r in sorted(rows, key=lambda r: r["adcode"]):
        if not r["longitude"] or not r["latitude"]:
            continue  # withdrawn divisions (邯郸县) and "市辖区" placeholders have no centre
        code = r["adcode"][:6]
        if code.endswith("0000"):
            level, parent = "province", ""
        elif code.endswith("00"):
            level, parent = "city", code[:2] + "0000"
        else:
            level, parent = "district", code[:4] + "00"
            if parent not in names:  # a county-level city under a province directly
                parent = code[:2] + "0000"
        name = r["name"]
        if level == "city" and name in MUNICIPAL:
            name = names.get(code[:2] + "0000", name)
        out.writerow([code, level, parent, name, r["longitude"], r["latitude"]])


if __name__ == "__main__":
    main(sys.argv[1])
