"""Catalog reads for the storefront and the 1C intake mutations."""
