"""Messages to customers (e-mail, SMS): logged until a provider is set up."""
