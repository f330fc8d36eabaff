# The two commands of the README. Both install what they need (uv, then the locked packages).
.PHONY: run test uv bench-intake

UV := python3 -m uv

uv:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv

.venv: pyproject.toml uv.lock | uv
	@$(MAKE) --no-print-directory uv
	$(UV) sync --frozen --quiet
	@touch .venv

run: uv .venv
	$(UV) run --frozen vitrina dev

test: uv .venv
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	$(UV) run --frozen ruff check app tests bench
	$(UV) run --frozen ruff format --check app tests bench
	$(UV) run --frozen mypy
	$(UV) run --frozen pytest

bench-intake: uv .venv
	$(UV) run --frozen python bench/intake.py
