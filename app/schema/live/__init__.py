"""Live operations (subscriptions) over graphql-transport-ws and GraphQL over SSE.

One shared upstream execution per shareable document and variables (`hub.py`), fanned out to
every connection subscribed to it; each connection (`socket.py`, `sse.py`) holds a small
registration per operation and no task while idle. Keep-alives and the websocket's
connection-init timeout come from one timer per process (`clock.py`).
"""
