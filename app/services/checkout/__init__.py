"""From cart to order: carts and their holds, placing and cancelling orders, the customer."""
