"""Settings come from HUOMA_* variables, with defaults, and errors that name the bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.settings import Settings, SettingsError, describe


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
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    for name, default, meaning in describe():
        assert f"| `{name}` | `{default}` | {meaning} |" in readme, name
