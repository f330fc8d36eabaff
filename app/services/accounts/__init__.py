"""Customer accounts: sign-up, sessions, passwords, recovery, profile, addresses, order history."""
