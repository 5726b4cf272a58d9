"""The game day's report: its versioned JSON schema, Markdown, charts and a single HTML page."""
