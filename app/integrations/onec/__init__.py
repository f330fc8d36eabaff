"""1C: customers, orders, their statuses and payments sent to the brand's 1C HTTP service."""
