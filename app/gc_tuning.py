"""The garbage collector tuned for a serving process.

An API process builds its long-lived objects once (modules, the GraphQL schema, settings,
compiled plans) and then, per request, many short-lived ones (ORM rows, response dicts). With
the default thresholds (700, 10, 10) CPython ran ~11 young collections and every few requests
a full one over all of those long-lived objects: about a fifth of a catalog page's CPU
(bench/catalog_miss.py). `gc.freeze()` (Python 3.7+) moves everything alive at start-up out
of every later collection, and a larger first threshold collects a request's garbage cycles
once every few requests instead of several times in each. Reference counting still frees
everything that is not in a cycle at once, so memory stays bounded.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000  # allocations between young collections (CPython's default: 700)
OLDER_THRESHOLDS = (20, 20)  # young collections per middle one, middle ones per full one


def tune_for_serving() -> None:
    """Call once a process has built its app, before it serves: collect what start-up left,
    freeze the survivors, raise the thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
