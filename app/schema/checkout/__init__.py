"""Cart, order and payment for shoppers."""
