"""Partners: their apps and tokens, webhook subscriptions, the events recorded for them and
their delivery (docs/partners.md)."""
