"""action_server package."""
