"""Partners' webhook receivers: checked addresses, signed requests, short timeouts."""
