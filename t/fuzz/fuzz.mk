# caresync — libFuzzer harnesses over the core's validators and parsers.
#
# Included from the top Makefile (`-include t/fuzz/fuzz.mk`), which sets
# BUILD, CORE_SRCS and LIBS_CORE; also usable alone:
#   make -f t/fuzz/fuzz.mk fuzz
#
#   make fuzz              build with clang + ASan/UBSan, seed the corpora
#                          from the fixtures, run every harness for
#                          FUZZ_SECONDS (default 60), print a summary; fails
#                          if any harness found a crash, leak, timeout or
#                          broken invariant (inputs in $(BUILD)/fuzz/crashes/)
#   make fuzz-regress      run every harness once over t/fuzz/regress/<h>/
#                          and t/fuzz/seeds/<h>/, no fuzzing (CI)
#   make fuzz-build        just the binaries, in $(BUILD)/fuzz/
#   make fuzz-<harness>    fuzz one harness, e.g. make fuzz-fuzz_time
#
# Knobs: FUZZ_SECONDS, FUZZ_CC (clang-14), FUZZ_FLAGS (extra libFuzzer
# flags, e.g. -use_value_profile=1), FUZZ_FIXTURES, FUZZ_ONLY
# (a subset of harness names).  `make -j` runs harnesses in parallel.

FUZZ_HERE      := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

BUILD          ?= build
CORE_SRCS      ?= $(wildcard src/cs_*.c)
LIBS_CORE      ?= -ljansson -lcrypto

FUZZ_CC        ?= clang-14
FUZZ_SECONDS   ?= 60
FUZZ_FLAGS     ?=
FUZZ_FIXTURES  ?= $(or $(CARESYNC_FIXTURES),../shared/fixtures)
FUZZ_DIR        = $(BUILD)/fuzz

FUZZ_SAN        = -fsanitize=address,undefined -fno-sanitize-recover=all \
                  -fno-omit-frame-pointer
FUZZ_CFLAGS     = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
                  -g -O1 -Wall -Wextra -Wno-unused-parameter $(FUZZ_SAN) \
                  -Isrc -I$(FUZZ_DIR) -I$(FUZZ_HERE)
FUZZ_RUN_FLAGS  = -rss_limit_mb=2048 -timeout=5 -print_final_stats=1 \
                  $(FUZZ_FLAGS)

# A harness is built when its source is there and so is the core API it
# drives (the Hint/action kinds and cs_sig arrive separately).
FUZZ_HAVE_HINT   := $(shell grep -qs CS_WEBHOOK_HINT src/cs_ingest.h && echo y)
FUZZ_HAVE_ACTION := $(shell grep -qs CS_API_HINT_SYNC src/cs_ingest.h && echo y)
FUZZ_HAVE_SIG    := $(if $(wildcard src/cs_sig.h src/cs_sig.c),y)

FUZZ_ALL        = $(patsubst $(FUZZ_HERE)/%.c,%,$(wildcard $(FUZZ_HERE)/fuzz_*.c))
FUZZ_SKIP       = $(if $(FUZZ_HAVE_HINT),,fuzz_ingest_hint) \
                  $(if $(FUZZ_HAVE_ACTION),,fuzz_ingest_action) \
                  $(if $(FUZZ_HAVE_SIG),,fuzz_sig)
FUZZ_ONLY      ?=
FUZZ_NAMES      = $(filter-out $(FUZZ_SKIP),$(or $(FUZZ_ONLY),$(FUZZ_ALL)))
FUZZ_BINS       = $(addprefix $(FUZZ_DIR)/,$(FUZZ_NAMES))

FUZZ_CORE_OBJS  = $(patsubst src/%.c,$(FUZZ_DIR)/core/%.o,$(CORE_SRCS))
FUZZ_CORE_LIB   = $(FUZZ_DIR)/libcaresync-fuzz.a
FUZZ_VOCAB      = $(FUZZ_DIR)/cs_fuzz_vocab.h

.PHONY: fuzz fuzz-build fuzz-corpus fuzz-regress \
        $(addprefix fuzz-run-,$(FUZZ_ALL)) $(addprefix fuzz-,$(FUZZ_ALL))

fuzz-build: $(FUZZ_BINS)

# the core, instrumented for coverage but without libFuzzer's main
$(FUZZ_DIR)/core/%.o: src/%.c $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_CORE_LIB): $(FUZZ_CORE_OBJS)
	@rm -f $@
	ar rcs $@ $^

# the core's string literals: what answers may be made of
$(FUZZ_VOCAB): $(CORE_SRCS) $(wildcard src/*.h) $(FUZZ_HERE)/gen-vocab.sh
	@mkdir -p $(dir $@)
	$(FUZZ_HERE)/gen-vocab.sh $(FUZZ_CC) src $(CORE_SRCS) > $@.tmp
	@mv -f $@.tmp $@

$(FUZZ_DIR)/fuzz_%: $(FUZZ_HERE)/fuzz_%.c $(wildcard $(FUZZ_HERE)/*.h) \
                    $(FUZZ_VOCAB) $(FUZZ_CORE_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_CORE_LIB) \
	    $(LIBS_CORE) -o $@

# the worker's reading of JSON: built with the worker files it drives
FUZZ_WORKER_JSON_SRCS = src/worker/engine/cw_env.c src/worker/engine/cw_util.c

$(FUZZ_DIR)/fuzz_worker_json: $(FUZZ_HERE)/fuzz_worker_json.c \
                              $(FUZZ_WORKER_JSON_SRCS) $(wildcard src/worker/*/*.h) \
                              $(wildcard $(FUZZ_HERE)/*.h) $(FUZZ_VOCAB) \
                              $(FUZZ_CORE_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc/worker -fsanitize=fuzzer $< \
	    $(FUZZ_WORKER_JSON_SRCS) $(FUZZ_CORE_LIB) $(LIBS_CORE) -o $@

# the worker's readers of Redis' answers: its bounded reply objects and
# cw_cluster.c behind hiredis's reply parser 
FUZZ_REDIS_REPLY_SRCS = src/worker/engine/cw_cluster.c \
                   src/worker/engine/cw_redis_io.c src/worker/engine/cw_util.c

$(FUZZ_DIR)/fuzz_redis_reply: $(FUZZ_HERE)/fuzz_redis_reply.c \
                              $(FUZZ_REDIS_REPLY_SRCS) \
                              $(wildcard src/worker/engine/*.h) \
                              $(wildcard $(FUZZ_HERE)/*.h) $(FUZZ_VOCAB) \
                              $(FUZZ_CORE_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc/worker -fsanitize=fuzzer $< \
	    $(FUZZ_REDIS_REPLY_SRCS) $(FUZZ_CORE_LIB) $(LIBS_CORE) -lhiredis -lssl \
	    -o $@

# corpora: seeded from the fixtures (again whenever they or the seeds
# change), then grown by the runs; never committed
FUZZ_SEED_DEPS  = $(FUZZ_HERE)/mkcorpus.sh \
                  $(wildcard $(FUZZ_FIXTURES)/*/*) \
                  $(wildcard $(FUZZ_HERE)/seeds/*/*)

$(FUZZ_DIR)/corpus/%/.seeded: $(FUZZ_SEED_DEPS)
	@$(FUZZ_HERE)/mkcorpus.sh $* $(dir $@) $(FUZZ_FIXTURES) \
	    $(FUZZ_HERE)/seeds

fuzz-corpus: $(foreach h,$(FUZZ_NAMES),$(FUZZ_DIR)/corpus/$(h)/.seeded)

# one harness, bounded; the verdict goes to results/<h> for the summary
$(addprefix fuzz-run-,$(FUZZ_ALL)): fuzz-run-%: $(FUZZ_DIR)/% \
                                    $(FUZZ_DIR)/corpus/%/.seeded
	@$(FUZZ_HERE)/run.sh $* $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_HERE) \
	    $(FUZZ_RUN_FLAGS)

fuzz: $(addprefix fuzz-run-,$(FUZZ_NAMES))
	@$(FUZZ_HERE)/summary.sh $(FUZZ_DIR) $(FUZZ_NAMES)

$(addprefix fuzz-,$(FUZZ_ALL)): fuzz-%: fuzz-run-%
	@$(FUZZ_HERE)/summary.sh $(FUZZ_DIR) $*

# the committed reproducers and hand seeds, each run once
fuzz-regress: $(FUZZ_BINS)
	@$(FUZZ_HERE)/regress.sh $(FUZZ_DIR) $(FUZZ_HERE) $(FUZZ_NAMES)
