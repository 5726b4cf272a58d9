"""Production variants of the catalogue's faults made by hand (issue 17, part 0): one maker
per variant of tests/knowledge/heldout/mechanisms.yaml, keyed by its id, or the reason it
cannot be made on this machine."""

from gameday.mechanisms.catalogue import MAKERS, Variant, load_variants

__all__ = ["MAKERS", "Variant", "load_variants"]
