"""Inbound from 1C and RetailCRM: shop receipts, order status, manager-made changes."""
