"""In-process fault hooks of the target (`/_faults/*`): leaks, hogs, error storms, latency."""
