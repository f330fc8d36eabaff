"""Slack: shop staff confirm the lines of online orders served from their shop's stock."""
