"""YooKassa API v3: `client.YooKassaClient` (HTTP) and `mapping` (pure JSON translation)."""
