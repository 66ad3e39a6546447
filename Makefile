# rowform's entry points. `make demo` and `make test` work from a clean clone
# on a machine with Go 1.26; `make test` also needs PostgreSQL's server
# binaries (initdb, pg_ctl) and OpenSSH's server (/usr/sbin/sshd, for the SSH
# tunnel tests), and installs them with apt-get when run as root.

GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
ACTIONLINT  ?= $(GO) run github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
BIN         := bin/rowform

.PHONY: all build demo demo-parquet parquet-files deps deps-comparator deps-postgres deps-sshd test test-examples vet staticcheck actionlint gofmt-check lint fmt clean bench

all: build

## build: compile the rowform binary to bin/rowform
build:
	$(GO) build -o $(BIN) ./cmd/rowform

## demo: the quickstart end to end on a throwaway PostgreSQL: validate, plan, apply, plan again; then its tests
demo: build deps-postgres
	$(GO) build -o bin/withpg ./internal/tools/withpg
	./$(BIN) -chdir=examples/quickstart validate
	ROWFORM=$(CURDIR)/$(BIN) ./bin/withpg -init examples/quickstart/schema.sql -- examples/quickstart/demo.sh
	@printf '\n$$ rowform test\n'
	@./$(BIN) -chdir=examples/quickstart test

## demo-parquet: examples/parquet on a throwaway PostgreSQL: Parquet files written by DuckDB, validate, plan, apply, plan again
demo-parquet: build deps-postgres
	$(GO) build -o bin/withpg ./internal/tools/withpg
	$(GO) build -o bin/genparquet ./internal/tools/genparquet
	./$(BIN) -chdir=examples/parquet validate
	ROWFORM=$(CURDIR)/$(BIN) GENPARQUET=$(CURDIR)/bin/genparquet ./bin/withpg -init examples/parquet/schema.sql -- examples/parquet/demo.sh
	@$(MAKE) --no-print-directory parquet-files
	@printf '\n$$ rowform test\n'
	@./$(BIN) -chdir=examples/parquet test

## parquet-files: write the Parquet files of examples/parquet (its generate.sql, run by DuckDB)
parquet-files:
	$(GO) build -o bin/genparquet ./internal/tools/genparquet
	cd examples/parquet && rm -rf exports && mkdir -p exports/usage && ../../bin/genparquet generate.sql

## deps: make sure PostgreSQL's server binaries and OpenSSH's sshd are there for the tests
deps: deps-postgres deps-sshd

## deps-sshd: OpenSSH's server and agent, for the SSH tunnel tests
deps-sshd:
	@if [ -x /usr/sbin/sshd ] && command -v ssh-agent >/dev/null 2>&1 && command -v ssh-add >/dev/null 2>&1; then \
		echo "deps: OpenSSH server found"; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "deps: /usr/sbin/sshd not found; installing the openssh-server package"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y openssh-server; \
	else \
		echo "deps: the SSH tunnel tests need OpenSSH's server (/usr/sbin/sshd) and ssh-agent/ssh-add." >&2; \
		echo "      Install them with 'sudo apt-get install -y openssh-server' (Debian/Ubuntu)," >&2; \
		echo "      then run make test again. The tests run sshd themselves, as root." >&2; \
		exit 1; \
	fi

## deps-postgres: PostgreSQL's server binaries, for the tests and the demo
deps-postgres:
	@if [ -n "$${ROWFORM_TEST_PG_URL:-}" ]; then \
		echo "deps: ROWFORM_TEST_PG_URL is set: tests use that server"; \
	elif command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "deps: PostgreSQL server binaries found"; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "deps: PostgreSQL server binaries not found; installing the postgresql package"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; \
	else \
		echo "deps: the tests need PostgreSQL's server binaries (initdb, pg_ctl), version 15 or later." >&2; \
		echo "      Install them, e.g. 'sudo apt-get install postgresql' (Debian/Ubuntu) or" >&2; \
		echo "      'brew install postgresql@15' (macOS), then run make test again; or point the" >&2; \
		echo "      tests at a running server with ROWFORM_TEST_PG_URL=postgres://user:pass@host/db." >&2; \
		exit 1; \
	fi

## test: vet, staticcheck, every test with the race detector (progress per package), and the examples' rowform tests
# MEMORY_TESTS bound memory or allocations, which they check only without
# the race detector (its allocations are not the code's): they run again
# without it.
MEMORY_TESTS := TestRejectedRowsMemory|TestRejectedRowsOutputMemory|TestBuildsAreBounded|TestUniqueIndexMemory|TestSelfReferenceMemory|TestDependencyParentsMemory

test: deps vet staticcheck actionlint
	$(GO) run ./internal/tools/testprogress -- -race -count=1 -timeout 60m ./...
	$(GO) test -count=1 -run '^($(MEMORY_TESTS))$$' ./executor ./cmd/rowform/internal/cli ./hclconfig
	$(MAKE) --no-print-directory test-examples

## test-examples: `rowform test` in every example that ships tests/*.rftest.hcl
test-examples: build deps-postgres parquet-files
	@for d in examples/*/; do \
		if ls "$$d"tests/*.rftest.hcl >/dev/null 2>&1; then \
			echo "rowform -chdir=$$d test"; \
			./$(BIN) -chdir="$$d" test || exit 1; \
		fi; \
	done

vet:
	$(GO) vet ./...

staticcheck:
	$(STATICCHECK) ./...

## actionlint: check the GitHub Actions workflow of examples/ci (fetched by go run at a pinned version)
actionlint:
	$(ACTIONLINT) examples/ci/*.yml

gofmt-check:
	@out="$$(gofmt -l .)"; \
	if [ -n "$$out" ]; then echo "gofmt: these files need formatting (run make fmt):"; echo "$$out"; exit 1; fi

## lint: gofmt, vet, staticcheck and actionlint, without running tests
lint: gofmt-check vet staticcheck actionlint

## fmt: format the Go code and the example configurations
fmt: build
	gofmt -w .
	@for d in $$(find examples -name '*.hcl' -exec dirname {} \; | sort -u); do \
		./$(BIN) -chdir="$$d" fmt || exit 1; \
	done

clean:
	rm -rf bin

## bench: plan/apply timings and peak memory beside L_read, L_load and naive-upsert baselines
## (BENCH_ROWS=100000,1000000 by default; BENCH_CASES=main|ratios|slowlink|large|parquet|all|targets|smoke;
## large is 10M rows and one run unless BENCH_ROWS/BENCH_RUNS say otherwise; slowlink needs pg_comparator)
BENCH_CASES ?= main
ifeq ($(BENCH_CASES),large)
BENCH_ROWS  ?= 10000000
BENCH_RUNS  ?= 1
endif
ifeq ($(BENCH_CASES),slowlink)
BENCH_ROWS  ?= 1000000
BENCH_RUNS  ?= 1
BENCH_DEPS  := deps-comparator
endif
BENCH_ROWS  ?= 100000,1000000
BENCH_RUNS  ?= 3
bench: build deps-postgres $(BENCH_DEPS)
	$(GO) build -o bin/bench ./internal/tools/bench
	./bin/bench -rowform $(BIN) -rows $(BENCH_ROWS) -cases $(BENCH_CASES) -runs $(BENCH_RUNS)

## deps-comparator: pg_comparator (Debian's postgresql-comparator, with its pgcmp extension), for BENCH_CASES=slowlink
deps-comparator:
	@if command -v pg_comparator >/dev/null 2>&1; then \
		echo "deps: pg_comparator found"; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "deps: pg_comparator not found; installing the postgresql-comparator package"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql-comparator; \
	else \
		echo "deps: BENCH_CASES=slowlink compares with pg_comparator: install it with" >&2; \
		echo "      'sudo apt-get install -y postgresql-comparator' (Debian/Ubuntu; it brings the pgcmp" >&2; \
		echo "      extension the bench loads into both clusters), then run make bench again." >&2; \
		exit 1; \
	fi
