"""Use cases: each opens its transaction, calls the domain, and raises typed domain errors."""
