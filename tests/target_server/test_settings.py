"""Settings: required variables, placeholders, the env file, and the exit code on errors."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from target_server.config import ConfigurationError, get_settings, load_settings


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TARGET_")}
    env.update(extra)
    return env


def run_target(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "target_server"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_missing_database_url_exits_2(tmp_path: Path) -> None:
    result = run_target(clean_env(TARGET_CACHE_DIR=str(tmp_path)))
    assert result.returncode == 2
    assert result.stderr == "configuration error: TARGET_DATABASE_URL: Field required\n"
    assert "Traceback" not in result.stderr


def test_placeholder_refused_in_lab(tmp_path: Path) -> None:
    result = run_target(
        clean_env(
            TARGET_ENVIRONMENT="lab",
            TARGET_CACHE_DIR=str(tmp_path),
            TARGET_DATABASE_URL="postgresql+psycopg2://app:change-me@127.0.0.1:1/shop",
        )
    )
    assert result.returncode == 2
    assert result.stderr.startswith("configuration error: TARGET_DATABASE_URL:")
    assert "change-me" in result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for key in list(os.environ):
        if key.startswith("TARGET_"):
            monkeypatch.delenv(key)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_placeholder_allowed_in_development(isolated_env: pytest.MonkeyPatch) -> None:
    isolated_env.setenv("TARGET_DATABASE_URL", "postgresql+psycopg2://app:change-me@h/db")
    isolated_env.setenv("TARGET_CACHE_DIR", "/tmp/cache")
    settings = load_settings()
    assert settings.environment == "development"
    assert "change-me" not in repr(settings)


def test_env_file_read_and_process_env_wins(
    isolated_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env_file = tmp_path / "target.env"
    env_file.write_text(
        "TARGET_DATABASE_URL=postgresql+psycopg2://app:s3cret@127.0.0.1:5433/shop\n"
        "TARGET_CACHE_DIR=/var/cache/file\n"
        "TARGET_PORT=8123\n"
        "TARGET_PRICING_ROUTE=fallback\n"
    )
    isolated_env.setenv("TARGET_ENV_FILE", str(env_file))
    isolated_env.setenv("TARGET_PORT", "8999")
    settings = get_settings()
    assert settings is get_settings()
    assert settings.port == 8999
    assert settings.cache_dir == Path("/var/cache/file")
    assert settings.pricing_route == "fallback"
    assert settings.pricing_url == "http://pricing-fallback.breakfix.lab:8011"
    assert settings.db_pool_size == 5
    assert settings.db_application_name == "breakfix-target"


def test_invalid_value_names_the_variable(isolated_env: pytest.MonkeyPatch) -> None:
    isolated_env.setenv("TARGET_DATABASE_URL", "postgresql+psycopg2://a:b@h/db")
    isolated_env.setenv("TARGET_CACHE_DIR", "/tmp/c")
    isolated_env.setenv("TARGET_DB_POOL_SIZE", "lots")
    isolated_env.setenv("TARGET_PRICING_ROUTE", "sideways")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert "TARGET_DB_POOL_SIZE" in message
    assert "TARGET_PRICING_ROUTE" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg2://app:s3cretpw@127.0.0.1:notaport/shop",
        "mysql://app:s3cretpw@127.0.0.1/shop",
        "not a url s3cretpw",
    ],
)
def test_malformed_database_url_is_a_configuration_error(
    isolated_env: pytest.MonkeyPatch, url: str
) -> None:
    isolated_env.setenv("TARGET_DATABASE_URL", url)
    isolated_env.setenv("TARGET_CACHE_DIR", "/tmp/c")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("TARGET_DATABASE_URL: ")
    assert "s3cretpw" not in message


def test_driver_must_be_installed(isolated_env: pytest.MonkeyPatch) -> None:
    # Plain postgresql:// means psycopg 3 in SQLAlchemy 2.1, which is not a dependency.
    isolated_env.setenv("TARGET_DATABASE_URL", "postgresql+nosuchdriver://a:b@h/db")
    isolated_env.setenv("TARGET_CACHE_DIR", "/tmp/c")
    with pytest.raises(ConfigurationError, match="TARGET_DATABASE_URL: .*driver"):
        load_settings()


def test_malformed_database_url_exits_2_without_traceback(tmp_path: Path) -> None:
    result = run_target(
        clean_env(
            TARGET_CACHE_DIR=str(tmp_path),
            TARGET_DATABASE_URL="postgresql+psycopg2://app:s3cretpw@127.0.0.1:notaport/shop",
        )
    )
    assert result.returncode == 2
    assert result.stderr.startswith("configuration error: TARGET_DATABASE_URL: ")
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert "s3cretpw" not in result.stderr
