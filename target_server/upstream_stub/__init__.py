"""A tiny pricing service standing in for a third-party API (primary and fallback)."""
