"""What `pip install .` (the Docker image) ships: every package and data file of the code."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).parents[2]


def _setuptools() -> dict[str, object]:
    config: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"][
        "setuptools"
    ]
    return config


def test_packages_are_found_by_discovery_not_by_a_hand_kept_list() -> None:
    config = _setuptools()
    # A list would have to be kept in step by hand; `find` discovers what is there.
    assert isinstance(config["packages"], dict) and "find" in config["packages"]
    include = config["packages"]["find"]["include"]  # type: ignore[index]
    installed = set(find_packages(where=str(ROOT), include=include))
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for top in ("router", "geo")
        for p in (ROOT / top).rglob("__init__.py")
    }
    assert found and found == installed, f"not installed: {sorted(found - installed)}"
    assert not any(name.startswith("tests") for name in installed)


def test_every_data_file_the_code_reads_is_shipped() -> None:
    data: dict[str, list[str]] = _setuptools()["package-data"]  # type: ignore[assignment]
    shipped = {
        path
        for package, globs in data.items()
        for pattern in globs
        for path in (ROOT / package.replace(".", "/")).glob(pattern)
    }
    needed = {
        *(ROOT / "router/store/migrations").glob("*.sql"),
        ROOT / "router/web/openapi.yaml",
        ROOT / "geo/data/mainland.geojson",
        ROOT / "geo/data/regions.geojson",
    }
    assert len(needed) > 5 and needed <= shipped


def test_the_router_package_itself_imports_nothing() -> None:
    # router/__init__.py runs on every import of the hot path (router.scan), which must stay free
    # of aiohttp and asyncpg; the import rules do not see what this file imports, so it stays empty.
    import ast

    tree = ast.parse((ROOT / "router" / "__init__.py").read_text())
    assert all(isinstance(node, ast.Expr) for node in tree.body)  # a docstring, nothing else
