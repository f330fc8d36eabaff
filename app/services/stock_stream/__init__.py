"""The one stock-change stream: after a commit moves on-hand or the buffer, the variant's new
availability is published once to a redis stream; every API process consumes it once.

Writers need nothing: `app/models/stock.py` notes every row it writes (with the version the
write returned) and each process's `StockPublisher` publishes the committed figures.
Consumers use the process's `StockFeed` (on the request context as `stock_feed`).
"""

from app.services.stock_stream.feed import FigureWatch, StockFeed
from app.services.stock_stream.figures import VariantStock, read_figures
from app.services.stock_stream.publisher import StockPublisher

__all__ = ["FigureWatch", "StockFeed", "StockPublisher", "VariantStock", "read_figures"]
