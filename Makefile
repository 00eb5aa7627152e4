# caresync — build, test, bench.
#
#   make                 the nginx module (build/ngx_http_caresync_module.so)
#   make test            unit tests + Test::Nginx suite (installs what is missing)
#   make test-sanitize   the same, module and core built with ASan + UBSan
#   make fuzz            libFuzzer over the validators, bounded in time
#   make bench           ingestion: instructions per request (callgrind), then
#                        throughput and p99 vs return 200 and the OpenResty way
#   make bench-backlog   a worker's RSS while Redis is frozen
#   make bench-worker    the worker's jobs/s and CPU per job
#   make cost-core       instructions per request of cs_ingest() (callgrind)
#   make run             the whole system on localhost:8080, with stand-ins
#   make deb             Debian packages into build/deb (make test-deb installs)
#
# NGINX_SRC=/path/to/nginx-x.y.z builds against another nginx source tree;
# by default Debian's nginx-dev tree is copied and configured with the
# flags Debian's /usr/sbin/nginx was built with.

SHELL      := /bin/bash
BUILD      ?= build
NGINX_SRC  ?= /usr/share/nginx/src
SANITIZE   ?=

CC         ?= cc
CSTD        = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
WARN        = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
              -Wmissing-prototypes -Wno-unused-parameter
OPT        ?= -O2 -g
ifneq ($(SANITIZE),)
  SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined
endif
CFLAGS_CORE = $(CSTD) $(WARN) $(OPT) -fPIC $(SAN_FLAGS) -Isrc
LIBS_CORE   = -ljansson -lcrypto

CORE_SRCS   = $(wildcard src/cs_*.c)
CORE_OBJS   = $(patsubst src/%.c,$(BUILD)/core/%.o,$(CORE_SRCS))
UNIT_SRCS   = $(wildcard t/unit/test_*.c)
UNIT_BINS   = $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))

MODULE      = $(BUILD)/ngx_http_caresync_module.so
NGX_BUILD   = $(BUILD)/nginx

.PHONY: all module core unit test test-unit test-nginx test-sanitize \
        fuzz run deps clean bench bench-backlog cost-core

all: module

core: $(BUILD)/libcaresync.a

$(BUILD)/core/%.o: src/%.c $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_CORE) -c $< -o $@

$(BUILD)/libcaresync.a: $(CORE_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/unit/%: t/unit/%.c t/unit/cs_test.h $(BUILD)/libcaresync.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_CORE) -It/unit $< $(BUILD)/libcaresync.a $(LIBS_CORE) \
	    $(SAN_FLAGS) -o $@

unit: $(UNIT_BINS)

test-unit: unit
	@set -e; for t in $(UNIT_BINS); do echo "# $$t"; $$t; done

include ngx_module/build.mk
# the worker: build/caresync-worker, test-worker, bench-worker
-include src/worker/worker.mk
# libFuzzer harnesses over the validators: fuzz, fuzz-regress
-include t/fuzz/fuzz.mk
# Debian packages: deb, test-deb (installs them: build machines only)
-include packaging/deb.mk

deps:
	@.ci/install-deps build test

# The whole suite: C unit tests, then the Test::Nginx files against the
# stock /usr/sbin/nginx with the module loaded.
test: deps
	@$(MAKE) --no-print-directory module unit
	@$(MAKE) --no-print-directory test-unit
	@$(MAKE) --no-print-directory test-nginx

test-nginx: module
	TEST_NGINX_LOAD_MODULES=$(CURDIR)/$(MODULE) t/run

# The same suite with the module and the core built with ASan + UBSan.
# The stock nginx is not instrumented, so nginx alone is started with the
# runtime preloaded (through a wrapper: tools the tests run, such as ps,
# must not be).
ASAN_RT = $(shell $(CC) -print-file-name=libasan.so)
SAN_NGINX = build-san/nginx-asan
test-sanitize: deps
	@$(MAKE) --no-print-directory BUILD=build-san SANITIZE=1 module unit
	@$(MAKE) --no-print-directory BUILD=build-san SANITIZE=1 test-unit
	@printf '#!/bin/sh\nLD_PRELOAD=%s exec /usr/sbin/nginx "$$@"\n' \
	    '$(ASAN_RT)' > $(SAN_NGINX) && chmod +x $(SAN_NGINX)
	@rm -f build-san/asan.* build-san/ubsan.*
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:log_path=$(CURDIR)/build-san/asan \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$(CURDIR)/build-san/ubsan \
	TEST_NGINX_BINARY=$(CURDIR)/$(SAN_NGINX) \
	TEST_NGINX_LOAD_MODULES=$(CURDIR)/build-san/ngx_http_caresync_module.so \
	    t/run
	@if ls build-san/asan.* build-san/ubsan.* >/dev/null 2>&1; then \
	    echo "sanitizer reports:"; cat build-san/asan.* build-san/ubsan.* \
	        2>/dev/null | head -100; exit 1; fi

# The whole system with local stand-ins for the vendors (.ci/run-local):
# PORT, REDIS_PORT, FAKE_PORT choose the ports, RUN_ONCE=1 stops after the
# outcomes (exit 0 only if every payload ended as expected).
run:
	@.ci/install-deps build run
	@$(MAKE) --no-print-directory module worker
	BUILD=$(BUILD) .ci/run-local

# The ingestion figures of spec/bars.md, side by side in one run.
bench: deps module $(BUILD)/openloop
	@.ci/install-deps bench
	perl bench/ingest.pl

# The open-loop load of the latency figure (bench/openloop.c).
$(BUILD)/openloop: bench/openloop.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(WARN) $(OPT) $< -o $@

# What a frozen Redis costs a worker: idle and peak RSS (docs/performance.md).
bench-backlog: deps module
	perl bench/backlog-rss.pl

# Instructions per request of cs_ingest() alone, counted by callgrind
# (docs/performance.md; the nginx worker's are part 1 of make bench).
cost-core:
	bench/cost-core.sh

clean:
	rm -rf $(BUILD) t/servroot*
