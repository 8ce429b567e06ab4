# mod_pvlaunch: `make` builds build/mod_pvlaunch.so; `make test` runs every
# test; `make run` starts a demo Apache. Each target installs the Debian
# packages it needs first.

APXS       ?= $(shell command -v apxs 2>/dev/null || echo /usr/bin/apxs)
CXX        ?= g++
BUILD      := build
PYTHON     := /usr/bin/python3
# Builds inside the test targets use every core (CI gives 2).
NPROC      := $(shell nproc 2>/dev/null || echo 2)

HTTPD_INC   = $(shell $(APXS) -q INCLUDEDIR 2>/dev/null)
APR_INC     = $(shell $(APXS) -q APR_INCLUDEDIR 2>/dev/null)
HTTPD_DEFS  = $(shell $(APXS) -q EXTRA_CPPFLAGS 2>/dev/null)
LIBEXECDIR  = $(shell $(APXS) -q LIBEXECDIR 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wno-missing-field-initializers
OPT      ?= -O2 -g
SANITIZE ?=
CXXFLAGS += -std=c++17 $(OPT) $(WARN) -fPIC -fvisibility=hidden $(SANITIZE)
CPPFLAGS += -I$(HTTPD_INC) -I$(APR_INC) $(HTTPD_DEFS) -Isrc

# Libraries of the core: JSON, and RE2 for sanitize regexps.
CORE_LIBS  := -ljansson -lre2 -lcurl
CORE_SRC   := $(wildcard src/core/*.cpp)
DAEMON_SRC := $(wildcard src/daemon/*.cpp)
HTTPD_SRC  := $(wildcard src/httpd/*.cpp) mod_pvlaunch.cpp
CORE_OBJ   := $(CORE_SRC:%.cpp=$(BUILD)/obj/%.o)
MOD_OBJ    := $(CORE_OBJ) $(DAEMON_SRC:%.cpp=$(BUILD)/obj/%.o) $(HTTPD_SRC:%.cpp=$(BUILD)/obj/%.o)
UNIT_SRC   := $(wildcard tests/unit/test_*.c tests/unit/test_*.cpp)
UNIT_BIN   := $(BUILD)/unit_tests

.PHONY: all deps install test test-plain test-asan unit integration run bench fuzz fuzz-brief \
	soak clean format format-check coverage

all: deps $(BUILD)/mod_pvlaunch.so

deps:
	@sh scripts/ensure-deps.sh build

$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -MMD -MP -c $< -o $@

# ap_* and apr_* symbols come from the httpd binary: no -z defs here.
$(BUILD)/mod_pvlaunch.so: $(MOD_OBJ)
	$(CXX) -shared $(SANITIZE) $(LDFLAGS) -o $@ $^ $(CORE_LIBS) -lapr-1 -laprutil-1 -lcurl -lsystemd

# The Status-Location notifier on its own, for tests/test_notifier.py.
$(BUILD)/notifier_driver: tests/notifier_driver.cpp src/daemon/notifier.cpp src/core/log.cpp \
		src/core/url.cpp src/core/json.cpp
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -o $@ $^ -lcurl -ljansson

# The Slurm batch script on its own, for tests/integration/test_170_slurm.py.
$(BUILD)/slurm_script_driver: tests/slurm_script_driver.cpp $(CORE_OBJ)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -Isrc -o $@ tests/slurm_script_driver.cpp $(CORE_OBJ) $(CORE_LIBS)

$(UNIT_BIN): $(CORE_OBJ) $(wildcard tests/unit/*.cpp) $(wildcard tests/unit/*.h)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -Isrc -o $@ $(wildcard tests/unit/*.cpp) $(CORE_OBJ) \
		$(CORE_LIBS) -lcmocka

install: all
	install -d $(DESTDIR)$(LIBEXECDIR)
	install -m 644 $(BUILD)/mod_pvlaunch.so $(DESTDIR)$(LIBEXECDIR)/mod_pvlaunch.so

unit:
	@sh scripts/ensure-deps.sh test
	$(MAKE) $(BUILD)/mod_pvlaunch.so $(UNIT_BIN)
	$(UNIT_BIN)

integration:
	@sh scripts/ensure-deps.sh test
	$(MAKE) $(BUILD)/mod_pvlaunch.so
	$(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

# Everything CI runs: the plain suite (unit tests under valgrind, brief
# fuzzing, integration tests with the short soak), then the same unit and
# integration tests again with AddressSanitizer and UBSan.
test: test-plain test-asan

test-plain:
	@sh scripts/ensure-deps.sh test
	$(MAKE) format-check
	$(MAKE) -j$(NPROC) $(BUILD)/mod_pvlaunch.so $(UNIT_BIN) $(BUILD)/notifier_driver \
		$(BUILD)/slurm_script_driver $(BUILD)/web/index.html
	valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--suppressions=tests/unit/valgrind.supp $(UNIT_BIN)
	$(MAKE) coverage
	$(MAKE) fuzz-brief
	$(PYTHON) -m pytest -q -p no:cacheprovider tests

# Line coverage of the session state machine by the unit tests, with gcov:
# fails below COVERAGE_MIN percent.
COVERAGE_DIR := $(BUILD)/coverage
COVERAGE_SRC := src/core/session_machine.cpp
COVERAGE_MIN ?= 90

coverage:
	@sh scripts/ensure-deps.sh test
	$(MAKE) -j$(NPROC) BUILD=$(COVERAGE_DIR) OPT="-O0 -g --coverage" $(COVERAGE_DIR)/unit_tests
	find $(COVERAGE_DIR) -name '*.gcda' -delete
	$(COVERAGE_DIR)/unit_tests > $(COVERAGE_DIR)/unit_tests.log 2>&1 || \
		{ tail -40 $(COVERAGE_DIR)/unit_tests.log; exit 1; }
	@for src in $(COVERAGE_SRC); do \
		obj=$(COVERAGE_DIR)/obj/$${src%.cpp}.o; \
		gcov -n -o $$obj $$src | awk -v src="$$src" -v min=$(COVERAGE_MIN) ' \
			$$0 == "File '"'"'" src "'"'"'" { mine = 1; next } \
			mine && /^Lines executed:/ { split($$2, a, ":"); pct = a[2] + 0; \
				print "coverage: " src " lines " a[2] " " $$3 " " $$4 " (at least " min "%)"; \
				found = 1; mine = 0 } \
			END { if (!found) { print "coverage: no gcov data for " src; exit 1 } \
				if (pct < min) exit 1 }' || exit 1; \
	done

# The module and the unit tests built with -fsanitize=address,undefined into
# build/asan; apache2 itself is not instrumented, so the runtime is preloaded
# into it. Any report (written to build/asan/reports) fails the run.
ASAN_DIR     := $(BUILD)/asan
ASAN_FLAGS   := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
ASAN_REPORTS := $(CURDIR)/$(ASAN_DIR)/reports
# Of the Slurm tests (2 minutes), the three that cross most of the daemon's
# Slurm code: launch to delete, restarts and adoption, a launch cut short.
# Under the event MPM only (PVL_MPMS): the module's code is the same under
# prefork, whose process model the plain pass covers; this keeps make test
# within CI's budget.
ASAN_SLURM_TESTS := not test_170_slurm or post_answers or cut_short or survive_restarts_and_a_killed

test-asan:
	@sh scripts/ensure-deps.sh test
	$(MAKE) -j$(NPROC) BUILD=$(ASAN_DIR) OPT="-O1 -g" SANITIZE="$(ASAN_FLAGS)" \
		$(ASAN_DIR)/mod_pvlaunch.so $(ASAN_DIR)/unit_tests
	$(ASAN_DIR)/unit_tests
	rm -rf $(ASAN_REPORTS) && mkdir -p $(ASAN_REPORTS)
	PVL_MODULE=$(CURDIR)/$(ASAN_DIR)/mod_pvlaunch.so \
	PVL_SANITIZER_PRELOAD="$$($(CXX) -print-file-name=libasan.so) $$($(CXX) -print-file-name=libstdc++.so)" \
	PVL_SANITIZER_LOG_DIR=$(ASAN_REPORTS) PVL_MPMS=event \
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/integration \
			--ignore=tests/integration/test_100_packaging.py \
			-k "$(ASAN_SLURM_TESTS)"
	@if [ -n "$$(ls -A $(ASAN_REPORTS))" ]; then \
		echo "sanitizer reports in $(ASAN_REPORTS):"; ls $(ASAN_REPORTS); exit 1; fi

run:
	@sh scripts/ensure-deps.sh run
	$(MAKE) $(BUILD)/mod_pvlaunch.so $(BUILD)/web/index.html
	$(PYTHON) scripts/run_demo.py

# The demo page: the npm wslink client bundled with esbuild (versions pinned
# by web/package-lock.json) into build/web/.
WEB_SRC := web/build.sh web/package.json web/package-lock.json $(wildcard web/src/*)
$(BUILD)/web/index.html: $(WEB_SRC)
	sh web/build.sh

# 10,000 create/delete cycles mixed with bad requests, under event and
# prefork, then an account of ports, processes, fds and memory (tests/soak.py;
# SOAK_CYCLES to change the count), then a Slurm session reaching its job's
# --time (SOAK_SLURM=0 to skip; about two minutes). `make test` runs a short
# version of the cycles.
soak:
	@sh scripts/ensure-deps.sh soak
	$(MAKE) $(BUILD)/mod_pvlaunch.so
	$(PYTHON) tests/soak.py

$(BUILD)/bench/ready_app: bench/ready_app.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $<

$(BUILD)/bench/table_size: bench/table_size.cpp $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -Isrc -o $@ $< $(CORE_OBJ) $(CORE_LIBS)

# Figures against same-run baselines, written to bench/RESULTS.md.
bench:
	@sh scripts/ensure-deps.sh bench
	$(MAKE) $(BUILD)/mod_pvlaunch.so $(BUILD)/bench/ready_app $(BUILD)/bench/table_size
	$(PYTHON) bench/run_bench.py

# libFuzzer targets (clang): the launcher config parser, the request body
# handling and the template/sanitize engine. `make fuzz` runs each for
# FUZZ_SECONDS; `make test` runs each briefly and replays fuzz/regressions.
FUZZ_CXX     ?= clang++
FUZZ_FLAGS   := -std=c++17 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_TARGETS := config payload template
FUZZ_SECONDS ?= 60
FUZZ_CORE_OBJ := $(CORE_SRC:%.cpp=$(BUILD)/fuzz/obj/%.o)
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)

$(BUILD)/fuzz/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(CPPFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.cpp $(FUZZ_CORE_OBJ)
	$(FUZZ_CXX) $(CPPFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer -Isrc -o $@ $< $(FUZZ_CORE_OBJ) $(CORE_LIBS)

# A crash, a leak or a sanitizer report makes the fuzzer exit non-zero and
# leaves the input in fuzz/regressions/<target>/, replayed by every test run.
fuzz:
	@sh scripts/ensure-deps.sh test
	$(MAKE) $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(BUILD)/fuzz/corpus-$$t fuzz/regressions/$$t; \
		echo "fuzzing $$t for $(FUZZ_SECONDS) s"; \
		$(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-artifact_prefix=fuzz/regressions/$$t/ $(BUILD)/fuzz/corpus-$$t fuzz/corpus/$$t \
			> $(BUILD)/fuzz/$$t.log 2>&1 || { tail -40 $(BUILD)/fuzz/$$t.log; exit 1; }; \
		grep -E "DONE|Done" $(BUILD)/fuzz/$$t.log | tail -1; \
	done

fuzz-brief:
	$(MAKE) -j$(NPROC) $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/regressions/$$t; \
		$(BUILD)/fuzz/fuzz_$$t -runs=0 fuzz/regressions/$$t fuzz/corpus/$$t \
			> $(BUILD)/fuzz/$$t.log 2>&1 || { tail -40 $(BUILD)/fuzz/$$t.log; exit 1; }; \
		mkdir -p $(BUILD)/fuzz/brief-$$t; \
		$(BUILD)/fuzz/fuzz_$$t -max_total_time=5 -timeout=10 -artifact_prefix=$(BUILD)/fuzz/ \
			$(BUILD)/fuzz/brief-$$t fuzz/corpus/$$t > $(BUILD)/fuzz/$$t.log 2>&1 \
			|| { tail -40 $(BUILD)/fuzz/$$t.log; exit 1; }; \
		echo "fuzz $$t: $$(grep -E 'DONE' $(BUILD)/fuzz/$$t.log | tail -1)"; \
	done

.SECONDARY: $(FUZZ_CORE_OBJ)

# Every C and C++ file git tracks (outside web/), in the style of .clang-format.
FORMAT_SRC = $(shell git ls-files '*.c' '*.cpp' '*.h' 2>/dev/null | grep -v '^web/')

format:
	clang-format -i $(FORMAT_SRC)

format-check:
	@test -n "$(FORMAT_SRC)" || { echo "format-check: no git checkout, nothing to check"; exit 0; }; \
	clang-format --dry-run -Werror $(FORMAT_SRC) && \
		echo "format: $(words $(FORMAT_SRC)) files as .clang-format says"

clean:
	rm -rf $(BUILD)

# make deb, make rpm
include packaging/packaging.mk

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
