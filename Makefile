# Thin wrappers over scripts/: each target is idempotent and fast on a second call.
.PHONY: setup run test test-deep lint bench down status compose-up compose-down

setup:
	@scripts/setup.sh

run: setup
	@scripts/run.sh

test: setup
	@scripts/test.sh

# The long detector-only runs (every fault, a quiet lab) that `make test` leaves out.
test-deep: setup
	@scripts/test.sh -m deep tests

lint: setup
	@scripts/lint.sh

bench: setup
	@.venv/bin/python scripts/bench.py
	@.venv/bin/python scripts/bench_actions.py
	@.venv/bin/python scripts/bench_chaos.py
	@.venv/bin/python scripts/bench_observability.py
	@.venv/bin/python scripts/bench_agent.py
	@.venv/bin/python scripts/bench_intake.py
	@.venv/bin/python scripts/bench_idle_lab.py
	@.venv/bin/python scripts/bench_console.py
	@.venv/bin/python scripts/bench_gameday.py

status:
	@.venv/bin/breakfix status

down:
	@.venv/bin/breakfix down

# The lab as one container per service on a Docker engine (scripts/compose.sh); volumes are
# kept by compose-down (`scripts/compose.sh down --volumes` removes them).
compose-up:
	@scripts/compose.sh up

compose-down:
	@scripts/compose.sh down
