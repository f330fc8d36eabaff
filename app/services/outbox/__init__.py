"""The transactional outbox: record events in the caller's transaction, deliver, look after them."""
