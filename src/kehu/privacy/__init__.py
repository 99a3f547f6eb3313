"""Consent ledger, data-subject requests, retention and the record of processing (PIPL)."""
