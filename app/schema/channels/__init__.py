"""1C's inbound mutations of issue 15: shop till receipts and order status."""
