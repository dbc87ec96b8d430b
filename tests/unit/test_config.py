"""Settings: defaults, validation messages that name the setting, and secrets kept out of sight."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import load_settings
from core.errors import ConfigError

NO_FILE = Path("/nonexistent/secrets.toml")


def load(**env: str):
    return load_settings(env, secrets_file=NO_FILE)


def test_defaults_use_sqlite_under_data_dir(tmp_path: Path) -> None:
    s = load(LEDGERDESK_DATA_DIR=str(tmp_path))
    assert s.database_url == f"sqlite:///{tmp_path / 'ledgerdesk.db'}"
    assert s.stripe_api_base == "https://api.stripe.com"
    assert s.stripe_api_key is None
    assert s.team_timezone == "UTC"


def test_postgres_urls_are_normalised_to_psycopg() -> None:
    s = load(DATABASE_URL="postgres://u:pw@db:5432/ld")
    assert s.database_url == "postgresql+psycopg://u:pw@db:5432/ld"
    assert s.database_kind == "postgresql"
    assert "pw" not in s.public_summary()["database_url"]


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"STRIPE_API_KEY": "pk_test_123"}, "STRIPE_API_KEY"),
        ({"STRIPE_API_BASE": "localhost:12111"}, "STRIPE_API_BASE"),
        ({"STRIPE_ACCOUNTS": "acct_1,bogus"}, "STRIPE_ACCOUNTS"),
        ({"STRIPE_WEBHOOK_SECRET": "abc"}, "STRIPE_WEBHOOK_SECRET"),
        ({"TEAM_TIMEZONE": "Mars/Olympus"}, "TEAM_TIMEZONE"),
        ({"SYNC_INTERVAL_SECONDS": "soon"}, "SYNC_INTERVAL_SECONDS"),
        ({"SYNC_INTERVAL_SECONDS": "-5"}, "SYNC_INTERVAL_SECONDS"),
        ({"STRIPE_RATE_LIMIT": "0"}, "STRIPE_RATE_LIMIT"),
        ({"SMTP_URL": "http://mail"}, "SMTP_URL"),
        ({"OPENAI_BASE_URL": "not a url"}, "OPENAI_BASE_URL"),
    ],
)
def test_malformed_setting_names_itself(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(**env)
    assert named in str(err.value)


def test_secrets_never_show(tmp_path: Path) -> None:
    key = "sk_live_abcdef123456"
    s = load(STRIPE_API_KEY=key, STRIPE_WEBHOOK_SECRET="whsec_zzz", OPENAI_API_KEY="sk-openai-1")
    text = repr(s) + str(s.public_summary())
    for secret in (key, "whsec_zzz", "sk-openai-1"):
        assert secret not in text
    assert s.stripe_api_key is not None and s.stripe_api_key.reveal() == key
    assert s.stripe_mode == "live"


def test_bad_key_message_does_not_echo_the_key() -> None:
    with pytest.raises(ConfigError) as err:
        load(STRIPE_API_KEY="sk_test_has spaces")
    assert "has spaces" not in str(err.value)


def test_missing_key_explains_how_to_fix() -> None:
    with pytest.raises(ConfigError, match="STRIPE_API_KEY is not set"):
        load().require_stripe_key()


def test_secrets_file_is_read_and_env_wins(tmp_path: Path) -> None:
    f = tmp_path / "secrets.toml"
    f.write_text('TEAM_TIMEZONE = "Europe/Berlin"\nSTRIPE_ACCOUNTS = "acct_1A"\n')
    s = load_settings({"STRIPE_ACCOUNTS": "acct_2B"}, secrets_file=f)
    assert s.team_timezone == "Europe/Berlin"
    assert s.stripe_accounts == ("acct_2B",)


def test_broken_secrets_file_is_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "secrets.toml"
    f.write_text("TEAM_TIMEZONE = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({}, secrets_file=f)


def test_sandbox_mode() -> None:
    s = load(LEDGERDESK_SANDBOX="1", STRIPE_API_KEY="sk_test_sandbox")
    assert s.stripe_mode == "sandbox"
    assert load(STRIPE_API_KEY="rk_test_abc").stripe_mode == "test"


def test_stripe_accounts_all_means_every_connected_account() -> None:
    s = load(STRIPE_ACCOUNTS="all")
    assert s.connect_all and s.stripe_accounts == ()
    assert not load(STRIPE_ACCOUNTS="acct_1A").connect_all
    with pytest.raises(ConfigError, match="or set it to all"):
        load(STRIPE_ACCOUNTS="all,acct_1A")
