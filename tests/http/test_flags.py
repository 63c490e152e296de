"""Yes/no words: one vocabulary for query flags, boolean settings and the `active` column, and a
flag that is not a yes or a no is refused (a misspelt dry run must never write)."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.errors import BadInput
from router.flags import FALSE_WORDS, TRUE_WORDS, FlagError, is_blank, parse_flag
from router.ops.uploads import Table, validate_stores
from router.params import flag_param
from router.settings import Settings, SettingsError
from tests.conftest import ADMIN_TOKEN, store_row

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
STORES_CSV = (
    "store_id,name,city,address,lat,lng,coord\nS1,人民广场店,上海,x,31.2304,121.4737,gcj02\n"
)


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def spellings(word: str) -> list[str]:
    """Ways ops write a word: as is, upper case, full width (a Chinese input method), padded."""
    return [
        word,
        word.upper(),
        word.title(),
        full_width(word.upper()),
        f"  {word}\t",
        f"\u3000{word}",
    ]


@pytest.mark.parametrize(
    ("raw", "value"),
    [(s, True) for w in TRUE_WORDS for s in spellings(w)]
    + [(s, False) for w in FALSE_WORDS for s in spellings(w)],
)
def test_every_spelling_of_every_word_is_read_as_its_truth(raw: str, value: bool) -> None:
    assert parse_flag(raw) is value


@pytest.mark.parametrize("raw", ["maybe", "2", "-1", "ture", "yess", "o n", "是的", "①", "", "  "])
def test_anything_else_is_refused_with_the_words_listed(raw: str) -> None:
    with pytest.raises(FlagError) as info:
        parse_flag(raw)
    assert "true: 1, true, yes" in str(info.value)
    assert "false: 0, false, no" in str(info.value)


# ---- the three places that read flags agree -----------------------------------------------


def api_reads(raw: str) -> bool | None:
    try:
        return flag_param({"dry_run": raw}, "dry_run")
    except BadInput:
        return None


def setting_reads(raw: str) -> bool | None:
    try:
        return Settings.from_env({"HUOMA_ACCESS_LOG": raw}).access_log
    except SettingsError:
        return None


def upload_reads(raw: str) -> bool | None:
    row = store_row("S1", active=raw)
    rows, errors, _ = validate_stores(Table(tuple(row), [(2, row)]))
    if errors:
        assert [e.column for e in errors] == ["active"], errors
        return None
    return rows[0].active


words = st.sampled_from(TRUE_WORDS + FALSE_WORDS)
spelt = st.builds(lambda w, i: spellings(w)[i], words, st.integers(0, 5))
near_misses = st.builds(lambda w, extra: w + extra, words, st.text(min_size=1, max_size=2))


@settings(max_examples=400, deadline=None)
@given(raw=st.one_of(spelt, near_misses, st.text(max_size=8)))
def test_the_api_the_settings_and_uploads_accept_exactly_the_same_words(raw: str) -> None:
    # What an empty value means is each place's own choice (README "Yes/no words").
    if is_blank(raw):
        # An empty query flag is absent (false); an empty setting is refused; an empty `active`
        # cell is not given: a re-upload keeps the stored value, a new store is active (None).
        assert (api_reads(raw), setting_reads(raw), upload_reads(raw)) == (False, None, None)
        return
    try:
        expected: bool | None = parse_flag(raw)
    except FlagError:
        expected = None
    assert api_reads(raw) == setting_reads(raw) == upload_reads(raw) == expected


def test_the_openapi_document_lists_the_same_words() -> None:
    from importlib import resources

    import yaml

    doc = yaml.safe_load(resources.files("router.web").joinpath("openapi.yaml").read_text())
    assert doc["components"]["schemas"]["Flag"]["enum"] == list(TRUE_WORDS + FALSE_WORDS)
    flags = [
        p
        for path in doc["paths"].values()
        for op in path.values()
        if isinstance(op, dict)
        for p in op.get("parameters", [])
        if p.get("schema") == {"$ref": "#/components/schemas/Flag"}
    ]
    assert {p["name"] for p in flags} == {"dry_run", "open", "ocr"}  # ocr: group-pictures ZIP


# ---- over HTTP ------------------------------------------------------------------------------


@pytest.mark.db
@pytest.mark.parametrize("word", ["on", "ON", "ｙｅｓ", " 1 ", "是", "启用", "开", "t"])
async def test_dry_run_in_any_true_word_is_a_dry_run_and_writes_nothing(
    pool: asyncpg.Pool, make_client: Any, word: str
) -> None:
    client = await make_client()
    response = await client.post(
        "/admin/api/uploads/stores",
        data=STORES_CSV.encode(),
        params={"filename": "stores.csv", "dry_run": word},
        headers=AUTH,
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    assert (body["dry_run"], body["inserted"]) == (True, 1)
    assert await pool.fetchval("SELECT count(*) FROM stores") == 0


@pytest.mark.db
@pytest.mark.parametrize("word", ["maybe", "2", "ture", "是的", "yes please"])
async def test_a_dry_run_flag_that_is_no_word_is_a_400_and_writes_nothing(
    pool: asyncpg.Pool, make_client: Any, word: str
) -> None:
    client = await make_client()
    response = await client.post(
        "/admin/api/uploads/stores",
        data=STORES_CSV.encode(),
        params={"filename": "stores.csv", "dry_run": word},
        headers=AUTH,
    )
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "bad_flag"
    assert error["message"].startswith(f"dry_run={word!r} is neither true nor false")
    assert "true: 1, true, yes, y, on, t, 是, 启用, 开" in error["message"]
    assert await pool.fetchval("SELECT count(*) FROM stores") == 0


@pytest.mark.db
@pytest.mark.parametrize(("word", "written"), [("", 1), ("off", 1), ("否", 1), ("0", 1)])
async def test_an_empty_or_false_dry_run_writes(
    pool: asyncpg.Pool, make_client: Any, word: str, written: int
) -> None:
    client = await make_client()
    response = await client.post(
        "/admin/api/uploads/stores",
        data=STORES_CSV.encode(),
        params={"filename": "stores.csv", "dry_run": word},
        headers=AUTH,
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["dry_run"] is False
    assert await pool.fetchval("SELECT count(*) FROM stores") == written


@pytest.mark.db
async def test_the_alerts_open_flag_takes_the_same_words(
    pool: asyncpg.Pool, make_client: Any
) -> None:
    # A kind the app's keeper neither raises nor resolves, so its sweeps cannot change the counts.
    await pool.execute(
        "INSERT INTO alerts (kind, store_id, message, resolved_at) "
        "VALUES ('test_note', 'S1', 'open', NULL), ('test_note', 'S2', 'resolved', now())"
    )
    client = await make_client()

    async def total(flag: str) -> Any:
        response = await client.get("/admin/api/alerts", params={"open": flag}, headers=AUTH)
        return response.status, (await response.json()).get("total")

    # The keeper may raise alerts of its own meanwhile: compare with what the table holds.
    for word in ("1", "是", "ＯＮ", " yes "):
        opened = await pool.fetchval("SELECT count(*) FROM alerts WHERE resolved_at IS NULL")
        assert await total(word) == (200, opened), word
    for word in ("0", "否", "off", ""):
        every = await pool.fetchval("SELECT count(*) FROM alerts")
        assert await total(word) == (200, every), word
    assert 0 < opened < every
    status, _ = await total("open")
    assert status == 400
