"""The packages' import contracts (issue 14), checked by import-linter on the real tree:
layered with no package importing one above it (so no cycles), and the kit (`lab`)
importing no service and not the lab itself (`breakfix`). No lab needed."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(
    config: Path, *, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache", "--no-logo"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_the_packages_keep_their_import_contracts() -> None:
    done = _lint(ROOT / "pyproject.toml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout, done.stdout


def test_a_kit_module_importing_a_service_breaks_the_contract(tmp_path: Path) -> None:
    """The same contracts over a copy of the kit with one module importing the agent: the
    check names the import (it can fail)."""
    kit = tmp_path / "lab"
    kit.mkdir()
    (kit / "__init__.py").write_text("")
    (kit / "leak.py").write_text("from agent.model import Alert\n")
    (tmp_path / "agent").mkdir()
    (tmp_path / "agent" / "__init__.py").write_text("")
    (tmp_path / "agent" / "model.py").write_text("Alert = object\n")
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["agent", "lab"]\n\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "The kit imports no service"\ntype = "forbidden"\n'
        'source_modules = ["lab"]\nforbidden_modules = ["agent"]\n'
    )
    done = _lint(config, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "lab.leak -> agent.model" in done.stdout, done.stdout
