"""Code changes to the running API, made the way a deploy makes them: new code on disk and a
restart. The lab's target runs `python -m target_server` from the state dir, so a module in
that dir shadows an installed one; `uvicorn.py` there loads the real uvicorn and, in the
target's process only, applies the variant's change to the app it serves.

Each change is source text run inside the target with `app` (the ASGI app) bound; it may
rebind `app` to a wrapped one. Removing the file and restarting takes the change away.
"""

from dataclasses import dataclass, field
from pathlib import Path

from gameday.lab_handle import GamedayLab
from gameday.mechanisms.base import ensure_target, restart_target, settle

SHADOW = "uvicorn.py"

_LOADER = '''"""breakfix gameday mechanism: a code change shipped to the target."""
import importlib.machinery
import importlib.util
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
_path = [p for p in sys.path if os.path.abspath(p or ".") != _here]
_spec = importlib.machinery.PathFinder.find_spec(__name__, _path)
_real = importlib.util.module_from_spec(_spec)
sys.modules[__name__] = _real
_spec.loader.exec_module(_real)
_TARGET = sys.orig_argv[-1:] == ["target_server"]
{at_import}
if _TARGET:
    _run = _real.run

    def run(app, *args, **kwargs):
{at_run}
        return _run(app, *args, **kwargs)

    _real.run = run
'''


def _indent(source: str, spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + line if line.strip() else line for line in source.splitlines())


@dataclass
class CodePatch:
    """Ship `at_run` (and `at_import`, run when the target imports uvicorn) and restart."""

    fault: str
    at_run: str = "pass"
    at_import: str = ""
    shipped: Path | None = field(default=None, init=False)

    def make(self, lab: GamedayLab) -> None:
        self.shipped = lab.paths.root / SHADOW
        text = _LOADER.format(at_import=self.at_import, at_run=_indent(self.at_run, 8))
        self.shipped.write_text(text)
        restart_target(lab)
        self.after_restart(lab)

    def after_restart(self, lab: GamedayLab) -> None:
        """What the variant does once the new code runs (traffic, a dependency stopped)."""
        settle(lab, within_s=30.0)

    def clean(self, lab: GamedayLab) -> list[str]:
        if self.shipped is None or not self.shipped.exists():
            return []
        self.shipped.unlink()
        restart_target(lab)  # the running process still has the change
        return ["the code change was still deployed", *ensure_target(lab)]
