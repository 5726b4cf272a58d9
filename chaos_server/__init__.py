"""chaos_server package."""
