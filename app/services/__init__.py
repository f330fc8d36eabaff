"""Use cases: each opens its transaction, calls the domain, and raises typed domain errors.

One package per capability (catalog, inventory, checkout, payments, accounts, outbox); only the
ports every capability shares stay here: the job queue (`jobs`) and integration tokens (`tokens`).
"""
