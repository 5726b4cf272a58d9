"""Diagnosis: the deterministic ranking of runbooks against the evidence (`rules`) and the
pipeline's diagnosing step that takes, retries or sets aside a look (`step`)."""
