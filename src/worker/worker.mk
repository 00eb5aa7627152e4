# caresync-worker: included by the top Makefile, which defines BUILD,
# CFLAGS_CORE, SAN_FLAGS, LIBS_CORE and the rule for libcaresync.a.
#
#   make worker          $(BUILD)/caresync-worker
#   make test-worker     the worker's Perl suite (t/worker/*.t) under prove
#   make bench-worker    jobs/s and CPU per job against 50 ms fakes

WORKER_BIN   = $(BUILD)/caresync-worker
# one folder a layer (cw_worker.h is the table of contents)
WORKER_LAYERS = engine crm clients maps jobs ops
WORKER_SRCS  = $(foreach l,$(WORKER_LAYERS),$(wildcard src/worker/$(l)/cw_*.c))
WORKER_OBJS  = $(patsubst src/worker/%.c,$(BUILD)/worker/%.o,$(WORKER_SRCS))
WORKER_HDRS  = $(wildcard src/worker/*.h src/worker/*/*.h src/*.h)
WORKER_LIBS  = -lhiredis -ljansson -lcurl -lssl -lcrypto

.PHONY: worker test-worker bench-worker

# plain `make` builds the worker too
all: worker

worker: $(WORKER_BIN)

$(BUILD)/worker/%.o: src/worker/%.c $(WORKER_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_CORE) -Isrc/worker -c $< -o $@

# --version prints VERSION (the packages' version too)
CW_VERSION := $(shell cat VERSION 2>/dev/null || echo unknown)
$(BUILD)/worker/engine/cw_main.o: CFLAGS_CORE += -DCW_VERSION='"$(CW_VERSION)"'
$(BUILD)/worker/engine/cw_main.o: $(wildcard VERSION)

$(WORKER_BIN): $(WORKER_OBJS) $(BUILD)/libcaresync.a
	$(CC) $(SAN_FLAGS) $(WORKER_OBJS) $(BUILD)/libcaresync.a \
	    $(WORKER_LIBS) -o $@

# A driver of the Salesforce client alone, for t/worker/040-salesforce.t
WORKER_PROBE = $(BUILD)/cw-sf-probe
WORKER_LIB_OBJS = $(filter-out $(BUILD)/worker/engine/cw_main.o,$(WORKER_OBJS))

$(WORKER_PROBE): t/worker/cw_sf_probe.c $(WORKER_LIB_OBJS) \
                 $(BUILD)/libcaresync.a $(WORKER_HDRS)
	$(CC) $(CFLAGS_CORE) -Isrc/worker $< $(WORKER_LIB_OBJS) \
	    $(BUILD)/libcaresync.a $(WORKER_LIBS) $(SAN_FLAGS) -o $@

# The pure functions, in C (t/worker/005-unit.t runs it)
WORKER_UNIT = $(BUILD)/cw-unit

$(WORKER_UNIT): t/worker/cw_unit.c $(WORKER_LIB_OBJS) \
                $(BUILD)/libcaresync.a $(WORKER_HDRS)
	$(CC) $(CFLAGS_CORE) -Isrc/worker $< $(WORKER_LIB_OBJS) \
	    $(BUILD)/libcaresync.a $(WORKER_LIBS) $(SAN_FLAGS) -o $@

# CARESYNC_WORKER tells the tests which binary to run (the ASan one too);
# the module is for the end-to-end test (050-edge-e2e.t).
test-worker: worker $(WORKER_PROBE) $(WORKER_UNIT) $(MODULE)
	CARESYNC_WORKER=$(CURDIR)/$(WORKER_BIN) \
	CARESYNC_SF_PROBE=$(CURDIR)/$(WORKER_PROBE) \
	CARESYNC_UNIT=$(CURDIR)/$(WORKER_UNIT) prove -j2 t/worker/

bench-worker: worker
	CARESYNC_WORKER=$(CURDIR)/$(WORKER_BIN) perl bench/worker.pl

# `make test` and `make test-sanitize` run the worker's suite too (t/run
# leaves t/worker to these targets); the second with ASan + UBSan builds.
test: test-worker
test-sanitize: test-worker-sanitize

# the CSV reader and token sealing (t/worker/220-healthsherpa-unit.t)
WORKER_HS_UNIT = $(BUILD)/cw-hs-unit

$(WORKER_HS_UNIT): t/worker/cw_hs_unit.c $(WORKER_LIB_OBJS) \
                   $(BUILD)/libcaresync.a $(WORKER_HDRS)
	$(CC) $(CFLAGS_CORE) -Isrc/worker $< $(WORKER_LIB_OBJS) \
	    $(BUILD)/libcaresync.a $(WORKER_LIBS) $(SAN_FLAGS) -o $@

test-worker: $(WORKER_HS_UNIT)

.PHONY: test-worker-sanitize
test-worker-sanitize:
	@$(MAKE) --no-print-directory BUILD=build-san SANITIZE=1 test-worker
