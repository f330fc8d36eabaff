"""RetailCRM API v5: customers, orders, order statuses and payments for the shop's CRM."""
