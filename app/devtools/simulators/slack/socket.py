"""Socket Mode: `apps.connections.open` tickets, the websocket, envelopes and their acks."""

from __future__ import annotations

import asyncio
import json
import uuid

from starlette.requests import Request
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket

from app.devtools.simulators.slack.state import APP_ID, Click, Json, SlackState

POLICY_VIOLATION = 1008  # closing before accept: the handshake is answered HTTP 403


class SlackSocket(SlackState):
    """The app's side opens `/socket?ticket=...`; clicks then come as `interactive` envelopes."""

    def routes(self) -> list[BaseRoute]:
        return [*super().routes(), WebSocketRoute("/socket", self._socket)]

    def socket_url(self, request: Request) -> str:
        """A new single-use `ws://` URL on the host the request came to."""
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        return f"ws://{request.url.netloc}/socket?ticket={ticket}&app_id={APP_ID}"

    async def send_envelope(self, payload: Json) -> Click:
        """Send `payload` as an `interactive` envelope to the newest connection; wait for the
        ack up to `ack_timeout` and record whether and when it came."""
        if not self.sockets:
            raise RuntimeError("no Socket Mode client is connected")
        websocket = self.sockets[-1]  # Slack picks one of the app's connections
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": "interactive",
            "payload": payload,
            "accepts_response_payload": False,
        }
        body = json.dumps(envelope, ensure_ascii=False)
        record = Click(str(websocket.url), {}, body.encode(), payload, via="socket")
        record.envelope_id = envelope_id
        self.clicks.append(record)
        acked: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = acked
        record.sent_at = self.clock()
        try:
            await websocket.send_text(body)
            record.acked_at = await asyncio.wait_for(acked, self.ack_timeout)
        except TimeoutError:
            pass  # Slack shows the person an error; acked_at stays None
        finally:
            self._acks.pop(envelope_id, None)
        return record

    async def disconnect_sockets(self, reason: str = "refresh_requested") -> None:
        """Ask every connected app to reconnect, as Slack does before it moves a connection."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "simulator"}}
        for websocket in list(self.sockets):
            await websocket.send_json(message)

    async def _socket(self, websocket: WebSocket) -> None:
        ticket = websocket.query_params.get("ticket", "")
        if ticket not in self._tickets:
            await websocket.close(code=POLICY_VIOLATION)
            return
        self._tickets.discard(ticket)
        await websocket.accept()
        self.sockets.append(websocket)
        self.connections += 1
        try:
            await websocket.send_json(_hello(len(self.sockets)))
            await self._receive_acks(websocket)
        finally:
            self.sockets.remove(websocket)

    async def _receive_acks(self, websocket: WebSocket) -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text") or (message.get("bytes") or b"").decode("utf-8", "replace")
            try:
                envelope_id = json.loads(text).get("envelope_id")
            except (ValueError, AttributeError):
                continue  # Slack ignores what it cannot read
            acked = self._acks.get(str(envelope_id))
            if acked is not None and not acked.done():
                acked.set_result(self.clock())


def _hello(connections: int) -> Json:
    return {
        "type": "hello",
        "num_connections": connections,
        "debug_info": {
            "host": "simulator",
            "build_number": 1,
            "approximate_connection_time": 18060,
        },
        "connection_info": {"app_id": APP_ID},
    }
