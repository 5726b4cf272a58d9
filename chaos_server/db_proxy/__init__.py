"""db-proxy: the TCP proxy between the target and target-db, where network faults happen."""
