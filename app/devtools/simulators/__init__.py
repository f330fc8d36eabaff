"""Local stand-ins for 1C and RetailCRM: real HTTP, in-memory state, failures on demand.

They validate requests the way the real systems do (auth, content types, required fields,
formats), so a client that passes against them speaks the real protocol. Never used in
production: tests and local development start them with `server.LocalServer`.
"""
