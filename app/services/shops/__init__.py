"""Shop confirmations: ask a shop's staff in Slack, apply their answer or their silence."""
