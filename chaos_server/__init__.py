"""The chaos server: fault injection with a write-ahead ledger, TTLs and a kill switch."""
