"""Partners in GraphQL: their webhook subscriptions and deliveries (webhooks:manage), partner
apps and their tokens (admin), and the rate limit on partner tokens."""
