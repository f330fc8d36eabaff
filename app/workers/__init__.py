"""arq workers: jobs take ids, re-read state, are idempotent and retry with backoff."""
