"""State-dir initialisation: secrets, hosts file and the target's env file."""

import stat
from pathlib import Path

from breakfix.provision import prepare_state, sync_env
from lab.config import LabSettings
from lab.envfile import read_env, write_env
from lab.paths import StatePaths
from lab.secrets import read_secret
from lab.services import APP_PASSWORD


def test_prepare_state_is_idempotent_and_private(tmp_path: Path) -> None:
    settings = LabSettings(state_dir=tmp_path, db_proxy_port=6000)
    paths = StatePaths.at(tmp_path)
    prepare_state(settings=settings, paths=paths)
    password = read_secret(paths.secret(APP_PASSWORD))
    first = paths.target_env.read_text()
    prepare_state(settings=settings, paths=paths)
    assert read_secret(paths.secret(APP_PASSWORD)) == password
    assert paths.target_env.read_text() == first
    assert not (paths.env / "versions").exists()  # nothing changed, no new version
    for secret in paths.secrets.iterdir():
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.target_env.stat().st_mode) == 0o600
    env = read_env(paths.target_env)
    assert env["TARGET_DATABASE_URL"].endswith(f":{password}@127.0.0.1:6000/shop")
    assert "pricing-primary.breakfix.lab" in paths.hosts_file.read_text()


def test_sync_keeps_operator_choices_and_versions_the_old_file(tmp_path: Path) -> None:
    settings = LabSettings(state_dir=tmp_path)
    paths = StatePaths.at(tmp_path)
    prepare_state(settings=settings, paths=paths)
    env = read_env(paths.target_env)
    write_env(paths.target_env, {**env, "TARGET_PRICING_ROUTE": "fallback"})
    sync_env("target", settings=LabSettings(state_dir=tmp_path, db_proxy_port=7000), paths=paths)
    env = read_env(paths.target_env)
    assert env["TARGET_PRICING_ROUTE"] == "fallback"
    assert ":7000/" in env["TARGET_DATABASE_URL"]
    versions = sorted((paths.env / "versions").iterdir())
    assert len(versions) == 2
    assert "TARGET_PRICING_ROUTE=fallback" in versions[-1].read_text()


def test_operator_env_overrides_tunables_but_not_lab_owned_keys(tmp_path: Path) -> None:
    settings = LabSettings(state_dir=tmp_path / "state")
    paths = StatePaths.at(settings.state_dir)
    operator = tmp_path / ".env"
    operator.write_text(
        "TARGET_DB_POOL_SIZE=12\nTARGET_DATABASE_URL=postgresql://evil@elsewhere/x\n"
        "BREAKFIX_TARGET_PORT=9999\n"
    )
    prepare_state(settings=settings, paths=paths)
    sync_env("target", settings=settings, paths=paths, operator_env=operator)
    env = read_env(paths.target_env)
    assert env["TARGET_DB_POOL_SIZE"] == "12"
    assert "evil" not in env["TARGET_DATABASE_URL"]
    assert "BREAKFIX_TARGET_PORT" not in env


def test_db_route_decides_whether_the_target_goes_through_db_proxy(tmp_path: Path) -> None:
    settings = LabSettings(
        state_dir=tmp_path, db_proxy_port=6433, db_proxy_fallback_port=6434, target_db_port=5433
    )
    paths = StatePaths.at(tmp_path)
    prepare_state(settings=settings, paths=paths)
    assert ":6433/shop" in read_env(paths.target_env)["TARGET_DATABASE_URL"]
    write_env(paths.target_env, {**read_env(paths.target_env), "TARGET_DB_ROUTE": "fallback"})
    sync_env("target", settings=settings, paths=paths)
    # The fallback lane of db-proxy: another network path, still not target-db's own port.
    assert ":6434/shop" in read_env(paths.target_env)["TARGET_DATABASE_URL"]
