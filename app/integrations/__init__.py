"""Clients and wire mappings for the systems we tell about our state (1C, RetailCRM, ...).

Each system has `client.py` (transport, auth, timeouts, typed errors from `errors.py`) and
`mapping.py` (pure translation of `app.domain.outbound` records into the system's wire format).
"""
