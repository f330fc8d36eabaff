"""Pure business rules: no ORM, web, queue or HTTP imports (a test enforces it)."""
