"""Admin-scoped operations: the outbox and finance actions on payments."""
