"""The log signature catalogue: named regular expressions, optionally per service."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_CATALOGUE = Path(__file__).resolve().parent.parent / "signatures.yaml"


class CatalogueError(ValueError):
    """The catalogue file is not a valid list of signatures."""


@dataclass(frozen=True)
class Signature:
    """One catalogue entry; `services` None means every service."""

    name: str
    regex: re.Pattern[str]
    services: frozenset[str] | None = None

    def applies_to(self, service: str) -> bool:
        return self.services is None or service in self.services


def parse_catalogue(data: object, *, source: str = "catalogue") -> list[Signature]:
    """Validate the YAML document: unique names, compilable regexes, services a list."""
    entries = data.get("signatures") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise CatalogueError(f"{source}: expected a non-empty `signatures:` list")
    out: list[Signature] = []
    for i, entry in enumerate(entries):
        where = f"{source}: signatures[{i}]"
        if not isinstance(entry, dict) or set(entry) - {"name", "regex", "services"}:
            raise CatalogueError(f"{where}: expected keys name, regex and optional services")
        name, pattern, services = entry.get("name"), entry.get("regex"), entry.get("services")
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise CatalogueError(f"{where}: name must be snake_case, got {name!r}")
        if not isinstance(pattern, str) or not pattern:
            raise CatalogueError(f"{where} ({name}): regex must be a non-empty string")
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise CatalogueError(f"{where} ({name}): bad regex: {exc}") from exc
        if services is not None and (
            not isinstance(services, list) or not all(isinstance(s, str) for s in services)
        ):
            raise CatalogueError(f"{where} ({name}): services must be a list of names")
        out.append(Signature(name, regex, frozenset(services) if services else None))
    names = [s.name for s in out]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CatalogueError(f"{source}: duplicate signature names {duplicates}")
    return out


def load_catalogue(path: Path | None = None) -> list[Signature]:
    """The catalogue at `path`, or the default one shipped with observability."""
    path = path or DEFAULT_CATALOGUE
    with open(path, encoding="utf-8") as handle:
        return parse_catalogue(yaml.safe_load(handle), source=str(path))


def matching(catalogue: Iterable[Signature], service: str, line: str) -> list[str]:
    """Names of the signatures of `service` that `line` matches."""
    return [s.name for s in catalogue if s.applies_to(service) and s.regex.search(line)]
