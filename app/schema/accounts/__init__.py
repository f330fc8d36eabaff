"""Customer accounts: sign-up, sessions, profile, addresses, order history."""
