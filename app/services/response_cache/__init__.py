"""The shared response cache for anonymous catalog reads, with its live stock overlay:
`cache.ResponseCache` (the request side), `invalidation.catalog_changed` (the writers' side)."""
