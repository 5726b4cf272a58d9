"""Where signals are kept: an in-memory ring for the recent window, ops-db for the longer run."""
