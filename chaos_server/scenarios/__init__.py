"""Chaos scenarios: YAML experiments of inject / wait / check / revert steps."""
