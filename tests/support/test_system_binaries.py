"""require_binary: found, skipped with how to install (not root), failed (root)."""

import os
from pathlib import Path

import pytest

from tests.support.system_binaries import require_binary


def fake_binary(directory: Path, name: str) -> Path:
    """An executable file called `name` in `directory`."""
    path = directory / name
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_the_first_name_found_is_returned(tmp_path: Path) -> None:
    fake_binary(tmp_path, "alertmanager")
    found = require_binary(
        "prometheus-alertmanager", "alertmanager", package="x", path=str(tmp_path)
    )
    assert found == str(tmp_path / "alertmanager")


def test_not_root_a_missing_binary_skips_saying_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_binary("promtool", package="prometheus", path=str(tmp_path))
    assert str(skipped.value) == (
        "promtool is not installed (Debian package prometheus); "
        "`make test` as root installs it, or: sudo apt-get install -y prometheus"
    )


def test_as_root_a_missing_binary_fails_the_setup_should_have_installed_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.delenv("BREAKFIX_SKIP_SYSTEM_DEPS", raising=False)
    with pytest.raises(pytest.fail.Exception) as failed:
        require_binary("amtool", package="prometheus-alertmanager", path=str(tmp_path))
    assert "amtool is not installed (Debian package prometheus-alertmanager)" in str(failed.value)
    assert "as root, `make test` (scripts/system_deps.sh) should have installed it" in str(
        failed.value
    )


def test_as_root_with_the_setup_skipped_a_missing_binary_skips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setenv("BREAKFIX_SKIP_SYSTEM_DEPS", "1")
    with pytest.raises(pytest.skip.Exception):
        require_binary("promtool", package="prometheus", path=str(tmp_path))


def test_by_default_usr_bin_is_searched_after_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert require_binary("sh", package="dash") == "/usr/bin/sh"
