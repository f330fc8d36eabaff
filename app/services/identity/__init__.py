"""The identity graph: source records, links, suggestions, Customer 360, consents, privacy."""
