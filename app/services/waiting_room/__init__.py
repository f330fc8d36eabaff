"""The stock-aware waiting room in front of a drop (queueMode LOTTERY): state in redis,
admission budgeted by the drop's free units, passes checked at the cart and at checkout."""

from app.services.waiting_room.config import RoomConfig, queue_key
from app.services.waiting_room.passes import QueueGate, require_pass, require_passes
from app.services.waiting_room.room import (
    RoomFigures,
    WaiterView,
    join_queue,
    queue_status,
    room_figures,
    tick,
)

__all__ = [
    "QueueGate",
    "RoomConfig",
    "RoomFigures",
    "WaiterView",
    "join_queue",
    "queue_key",
    "queue_status",
    "require_pass",
    "require_passes",
    "room_figures",
    "tick",
]
