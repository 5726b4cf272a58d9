"""The agent's HTTP API: intake webhooks, incidents, approvals, health and metrics."""
