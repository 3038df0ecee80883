from pathlib import Path

import pytest

from welcomebot.errors import SettingsError
from welcomebot.secret import Secret
from welcomebot.settings import ENV_VARS, HostPort, Settings, load_settings


def test_defaults_when_environment_is_empty():
    settings = load_settings({})
    assert settings == Settings()
    assert (settings.asset_quota_guild, settings.asset_quota_total) == (10_000_000, 2_000_000_000)
    assert (settings.backup_interval, settings.backup_keep) == (None, 24)
    assert settings.token is None
    assert settings.database_url == "sqlite:///./welcomebot-data/welcomebot.sqlite3"
    assert settings.http_addr == HostPort("127.0.0.1", 8080)
    assert settings.log_level == "INFO"


def test_every_variable_is_read():
    env = {
        "DISCORD_BOT_TOKEN": "MTIz.abc.def",
        "WELCOMEBOT_DATABASE_URL": "postgresql://bot:pw@db:5432/welcome",
        "WELCOMEBOT_DATA_DIR": "/var/lib/welcomebot",
        "WELCOMEBOT_HTTP_ADDR": "[::1]:9000",
        "WELCOMEBOT_LOG_LEVEL": "warn",
        "WELCOMEBOT_LOG_FORMAT": "TEXT",
        "WELCOMEBOT_API_BASE": "http://127.0.0.1:5000/api/v10/",
        "WELCOMEBOT_CDN_BASE": "http://127.0.0.1:5001",
        "WELCOMEBOT_ASSET_QUOTA_GUILD": "5MiB",
        "WELCOMEBOT_ASSET_QUOTA_TOTAL": "1.5gb",
        "WELCOMEBOT_BACKUP_INTERVAL": "1h30m",
        "WELCOMEBOT_BACKUP_KEEP": "48",
        "WELCOMEBOT_GUILD_GRACE": "3d",
        "WELCOMEBOT_RETENTION": "7d",
    }
    s = load_settings(env)
    assert s.token == Secret("MTIz.abc.def")
    assert s.database_url == "postgresql://bot:pw@db:5432/welcome"
    assert s.data_dir == Path("/var/lib/welcomebot")
    assert s.http_addr == HostPort("::1", 9000)
    assert str(s.http_addr) == "[::1]:9000"
    assert s.log_level == "WARNING"
    assert s.log_format == "text"
    assert s.api_base == "http://127.0.0.1:5000/api/v10"
    assert s.cdn_base == "http://127.0.0.1:5001"
    assert (s.asset_quota_guild, s.asset_quota_total) == (5 * 2**20, 1_500_000_000)
    assert (s.backup_interval, s.backup_keep) == (5400.0, 48)
    assert s.retention == 7 * 86400
    assert s.guild_grace == 3 * 86400
    assert len(ENV_VARS) == len(env)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("WELCOMEBOT_HTTP_ADDR", "8080", "expected HOST:PORT"),
        ("WELCOMEBOT_HTTP_ADDR", "localhost:http", "expected HOST:PORT"),
        ("WELCOMEBOT_HTTP_ADDR", "127.0.0.1:99999", "between 0 and 65535"),
        ("WELCOMEBOT_HTTP_ADDR", "bad host:80", "expected HOST:PORT"),
        ("WELCOMEBOT_HTTP_ADDR", "256.1.1.1:80", "expected HOST:PORT"),
        ("WELCOMEBOT_HTTP_ADDR", "10.0.0:80", "expected HOST:PORT"),
        ("WELCOMEBOT_DATABASE_URL", "postgresql://u:p@db:99999/x", "between 0 and 65535"),
        ("WELCOMEBOT_DATABASE_URL", "postgresql://u:p@db:/x", "port number"),
        ("WELCOMEBOT_DATABASE_URL", "postgresql://u:p@256.1.1.1:5432/x", "not a host name"),
        ("WELCOMEBOT_DATABASE_URL", "mysql://x", "sqlite:/// or postgresql://"),
        ("WELCOMEBOT_DATABASE_URL", "sqlite://", "sqlite:///relative"),
        ("WELCOMEBOT_DATABASE_URL", "postgresql:///db", "postgresql://user:password@host"),
        ("WELCOMEBOT_LOG_LEVEL", "loud", "DEBUG, INFO, WARNING, ERROR"),
        ("WELCOMEBOT_LOG_FORMAT", "xml", "json or text"),
        ("WELCOMEBOT_API_BASE", "discord.com/api", "http:// or https://"),
        ("WELCOMEBOT_CDN_BASE", "https://u:p@cdn", "without user"),
        ("WELCOMEBOT_ASSET_QUOTA_GUILD", "ten megs", "expected a size such as 10MB"),
        ("WELCOMEBOT_ASSET_QUOTA_TOTAL", "0", "above zero"),
        ("WELCOMEBOT_BACKUP_INTERVAL", "30", "expected a duration such as 30m"),
        ("WELCOMEBOT_BACKUP_INTERVAL", "1h 2x", "expected a duration such as 30m"),
        ("WELCOMEBOT_BACKUP_INTERVAL", "10s", "at least 1m"),
        ("WELCOMEBOT_BACKUP_KEEP", "0", "at least 1"),
        ("DISCORD_BOT_TOKEN", "", "empty"),
        ("DISCORD_BOT_TOKEN", "Bot abc", "remove the leading 'Bot '"),
        ("DISCORD_BOT_TOKEN", "abc def", "no spaces"),
    ],
)
def test_bad_values_name_the_variable_and_what_is_expected(name, value, expected):
    with pytest.raises(SettingsError) as info:
        load_settings({name: value})
    message = str(info.value)
    assert message.startswith(f"{name}: ")
    assert expected in message
    assert "\n" not in message


def test_data_dir_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(SettingsError, match="is a file"):
        load_settings({"WELCOMEBOT_DATA_DIR": str(f)})


def test_bad_token_is_not_echoed():
    with pytest.raises(SettingsError) as info:
        load_settings({"DISCORD_BOT_TOKEN": "Bot sekrit-token-value"})
    assert "sekrit" not in str(info.value)


def test_public_view_masks_token_and_database_password():
    s = load_settings({"DISCORD_BOT_TOKEN": "tok.en.value", "WELCOMEBOT_DATABASE_URL": "postgresql://bot:hunter2@db/x"})
    public = s.public()
    assert "tok.en.value" not in str(public)
    assert "hunter2" not in str(public)
    assert public["database_url"] == "postgresql://bot:****@db/x"


def test_secret_never_shows_its_value():
    secret = Secret("very-secret")
    assert "very-secret" not in repr(secret)
    assert "very-secret" not in str(secret)
    assert "very-secret" not in f"{secret}"
    assert "very-secret" not in f"{secret!r:>40}"
    assert "very-secret" not in repr(Settings(token=secret))
    assert secret.reveal() == "very-secret"
    with pytest.raises(TypeError):
        __import__("pickle").dumps(secret)


def test_a_per_server_quota_above_the_total_is_refused():
    with pytest.raises(SettingsError) as info:
        load_settings({"WELCOMEBOT_ASSET_QUOTA_GUILD": "3GB", "WELCOMEBOT_ASSET_QUOTA_TOTAL": "2GB"})
    assert str(info.value).startswith("WELCOMEBOT_ASSET_QUOTA_GUILD: the per-server quota")
    assert "WELCOMEBOT_ASSET_QUOTA_TOTAL" in str(info.value)


@pytest.mark.parametrize("url", ["postgresql://u:p@db.internal:5432/x", "postgresql://u:p@[::1]:5432/x",
                                 "postgresql://u@10.0.0.5/x", "postgresql://u@h1:5432,h2:5433/x",
                                 "postgresql:///x?host=/run/postgresql"])  # fmt: skip
def test_good_postgres_urls_pass(url):
    assert load_settings({"WELCOMEBOT_DATABASE_URL": url}).database_url == url


def test_retention_defaults_to_30_days_and_refuses_less_than_a_day():
    assert load_settings({}).retention == 30 * 86400
    with pytest.raises(SettingsError, match=r"WELCOMEBOT_RETENTION.*at least 1d"):
        load_settings({"WELCOMEBOT_RETENTION": "12h"})


def test_guild_grace_defaults_to_7_days_and_refuses_less_than_an_hour():
    assert load_settings({}).guild_grace == 7 * 86400
    with pytest.raises(SettingsError, match=r"WELCOMEBOT_GUILD_GRACE.*at least 1h"):
        load_settings({"WELCOMEBOT_GUILD_GRACE": "10m"})
