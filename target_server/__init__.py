"""target_server package."""
