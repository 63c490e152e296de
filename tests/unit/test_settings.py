"""Settings come from HUOMA_* variables, with defaults, and errors that name the bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.scan.routing import RoutePolicy
from router.settings import SECTIONS, Settings, SettingsError, describe, markdown, sections


def test_defaults_need_no_environment() -> None:
    s = Settings.from_env({})
    assert s.database_url is None
    assert s.port == 8080
    assert s.max_distance_m == 5000.0
    assert s.admin_tokens == ()
    assert s.base_url == "http://127.0.0.1:8080"


def test_every_variable_is_read_and_typed() -> None:
    s = Settings.from_env(
        {
            "HUOMA_DATABASE_URL": "postgresql://u:p@db/huoma",
            "HUOMA_DATA_DIR": "/var/lib/huoma",
            "HUOMA_PORT": "9000",
            "HUOMA_HOST": "0.0.0.0",
            "HUOMA_MAX_DISTANCE_M": "1500.5",
            "HUOMA_ACCESS_LOG": "off",
            "HUOMA_ADMIN_TOKENS": "aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb",
            "HUOMA_PUBLIC_BASE_URL": "https://qr.example.com/",
            "HUOMA_TEST_DATABASE_URL": "ignored: it belongs to the tests",
        }
    )
    assert s.database_url == "postgresql://u:p@db/huoma"
    assert s.data_dir == Path("/var/lib/huoma")
    assert s.port == 9000
    assert s.max_distance_m == 1500.5
    assert s.access_log is False
    assert s.admin_tokens == ("aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb")
    assert s.base_url == "https://qr.example.com"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"HUOMA_PORT": "eighty"}, "HUOMA_PORT='eighty': expected a whole number"),
        ({"HUOMA_PORT": "70000"}, "HUOMA_PORT=70000: must be between 0 and 65535"),
        ({"HUOMA_MAX_DISTANCE_M": "-5"}, "HUOMA_MAX_DISTANCE_M=-5.0: must be a positive number"),
        ({"HUOMA_MAX_DISTANCE_M": "nan"}, "HUOMA_MAX_DISTANCE_M='nan': expected a finite number"),
        ({"HUOMA_ACCESS_LOG": "maybe"}, "HUOMA_ACCESS_LOG='maybe': expected true or false"),
        ({"HUOMA_LOG_LEVEL": "loud"}, "HUOMA_LOG_LEVEL='loud'"),
        ({"HUOMA_TIMEZONE": "Mars/Olympus"}, "HUOMA_TIMEZONE='Mars/Olympus'"),
        ({"HUOMA_PUBLIC_BASE_URL": "qr.example.com"}, "HUOMA_PUBLIC_BASE_URL='qr.example.com'"),
        ({"HUOMA_ADMIN_TOKENS": "short"}, "at least 16 characters"),
        ({"HUOMA_MAX_DISTANC_M": "5"}, "unknown setting HUOMA_MAX_DISTANC_M"),
    ],
)
def test_bad_values_are_errors_that_name_the_variable_and_the_value(
    env: dict[str, str], fragment: str
) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env)
    assert fragment in str(info.value)


def test_secrets_and_passwords_are_never_echoed_in_errors() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"HUOMA_ADMIN_TOKENS": "tiny-secret"})
    assert "tiny-secret" not in str(info.value)
    assert "sekrit" not in repr(Settings(secret="sekrit-sekrit-sekrit"))


def test_every_setting_is_documented() -> None:
    rows = describe()
    assert len(rows) == len(Settings.__dataclass_fields__)
    for name, default, meaning in rows:
        assert name.startswith("HUOMA_")
        assert default
        assert len(meaning) > 10


def test_the_readme_settings_table_matches_the_code() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    for name, default, meaning in describe():
        assert f"| `{name}` | `{default}` | {meaning} |" in readme, name


def test_the_readme_settings_tables_are_exactly_the_generated_ones() -> None:
    # Also catches a README row left behind by a setting that is gone (`huoma settings --markdown`).
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert markdown() in readme


def test_every_setting_belongs_to_one_section_and_every_section_has_settings() -> None:
    listed = [name for _, rows in sections() for name, _, _ in rows]
    assert sorted(listed) == sorted(name for name, _, _ in describe())
    assert [s.key for s, _ in sections()] == [s.key for s in SECTIONS]


def test_the_route_policy_is_the_routing_section() -> None:
    s = Settings(max_distance_m=1234.0, alternatives=7, sticky_s=0.0, expiry_margin_s=60.0)
    policy = RoutePolicy.from_section(s.section("routing"))
    assert policy == RoutePolicy(
        max_distance_m=1234.0,
        alternatives=7,
        coarse_accuracy_m=s.coarse_accuracy_m,
        pin_max_distance_m=s.pin_max_distance_m,
        expiry_margin_s=60.0,
        sticky_s=0.0,
    )
    with pytest.raises(KeyError):
        s.section("nowhere")


def test_every_rate_setting_is_one_half_of_one_limiter() -> None:
    s = Settings(rate_route_per_ip=7, rate_route_ip_burst=3, rate_admin_failures_burst=4)
    limits = s.rate_limits()
    assert limits["route_ip"] == (7, 3)
    assert limits["admin_failures"] == (10, 4)
    halves = sorted(v for limit in limits.values() for v in ("per_minute", "burst"))
    rate_fields = [n for n in Settings.__dataclass_fields__ if n.startswith("rate_")]
    assert len(halves) == len(rate_fields) == 2 * len(limits) == 14


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"port": 70000}, "HUOMA_PORT=70000: must be between 0 and 65535"),
        ({"port": "8080"}, "HUOMA_PORT='8080': expected a whole number"),
        ({"access_log": "no"}, "HUOMA_ACCESS_LOG='no': expected true or false"),
        ({"max_distance_m": float("inf")}, "HUOMA_MAX_DISTANCE_M=inf: must be a positive number"),
        ({"sticky_s": -0.5}, "HUOMA_STICKY_S=-0.5: must be between 0 and 31536000"),
        ({"db_pool_min": 5, "db_pool_max": 4}, "HUOMA_DB_POOL_MIN=5: must be between 0 and 4"),
        ({"log_level": "loud"}, "HUOMA_LOG_LEVEL='loud': use one of debug, info, warning, error"),
        ({"trusted_proxies": ("10.0.0.0/8", "x")}, "HUOMA_TRUSTED_PROXIES='10.0.0.0/8,x'"),
        ({"wecom_api_base": ""}, "HUOMA_WECOM_API_BASE='': expected an http(s) URL"),
        ({"group_provider": "wecom"}, "HUOMA_GROUP_PROVIDER=wecom needs HUOMA_WECOM_CORP_ID"),
        ({"wecom_corp_id": "ww1"}, "HUOMA_WECOM_SECRET must be set when HUOMA_WECOM_CORP_ID is"),
    ],
)
def test_settings_built_in_code_are_checked_like_the_environment(
    changes: dict[str, object], fragment: str
) -> None:
    with pytest.raises(SettingsError) as info:
        Settings(**changes)  # type: ignore[arg-type]
    assert fragment in str(info.value)


def test_repr_and_errors_never_show_a_secret_or_a_database_password() -> None:
    secrets = {
        "secret": "sekrit-sekrit-sekrit",
        "admin_tokens": ("token-token-token-1",),
        "wechat_jsapi_ticket": "ticket-sekrit",
        "alert_webhook_url": "https://qyapi.example/send?key=hook-sekrit",
        "wecom_corp_id": "ww1",
        "wecom_secret": "wecom-sekrit",
        "wecom_callback_token": "token-sekrit",
        "wecom_aes_key": "A" * 43,
    }
    s = Settings(database_url="postgresql://huoma:pg-sekrit@db/huoma", **secrets)  # type: ignore[arg-type]
    shown = repr(s)
    assert "postgresql://huoma:***@db/huoma" in shown
    for leak in ["pg-sekrit", "AAAAAAAAAA", *(v for v in secrets.values() if "sekrit" in v)]:
        assert leak not in shown
    assert "token-token" not in shown
    with pytest.raises(SettingsError) as info:
        Settings(alert_webhook_url="hook-sekrit")
    assert "hook-sekrit" not in str(info.value)
    assert "HUOMA_ALERT_WEBHOOK_URL" in str(info.value)
