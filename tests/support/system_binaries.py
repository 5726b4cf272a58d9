"""Tests that run a system binary from a Debian package: find it, or skip or fail saying why.

`make test` installs the packages first when it runs as root (scripts/system_deps.sh), so as
root a missing binary is a failure: the setup should have installed it. Not root (or with
BREAKFIX_SKIP_SYSTEM_DEPS=1, which skips that setup), the test skips and says how to install it.
"""

import os
import shutil

import pytest

# Where Debian puts them, searched after the PATH (a PATH without /usr/bin still finds them).
SYSTEM_DIRS = ("/usr/bin",)


def find_binary(*names: str, path: str | None = None) -> str | None:
    """The first of `names` on `path` (default: the PATH, then /usr/bin), or None."""
    if path is None:
        path = os.pathsep.join([os.environ.get("PATH", os.defpath), *SYSTEM_DIRS])
    for name in names:
        found = shutil.which(name, path=path)
        if found:
            return found
    return None


def require_binary(*names: str, package: str, path: str | None = None) -> str:
    """The path of the first of `names`; skips when it is missing (fails as root)."""
    found = find_binary(*names, path=path)
    if found is not None:
        return found
    missing = f"{' or '.join(names)} is not installed (Debian package {package})"
    if os.geteuid() == 0 and os.environ.get("BREAKFIX_SKIP_SYSTEM_DEPS") != "1":
        pytest.fail(
            f"{missing}; as root, `make test` (scripts/system_deps.sh) should have installed it: "
            f"see its output, or run: apt-get install -y {package}"
        )
    pytest.skip(
        f"{missing}; `make test` as root installs it, or: sudo apt-get install -y {package}"
    )
