# mod_pvlaunch: `make` builds build/mod_pvlaunch.so; `make test` runs every
# test; `make run` starts a demo Apache. Each target installs the Debian
# packages it needs first.

APXS       ?= $(shell command -v apxs 2>/dev/null || echo /usr/bin/apxs)
CXX        ?= g++
BUILD      := build
PYTHON     := /usr/bin/python3

HTTPD_INC   = $(shell $(APXS) -q INCLUDEDIR 2>/dev/null)
APR_INC     = $(shell $(APXS) -q APR_INCLUDEDIR 2>/dev/null)
HTTPD_DEFS  = $(shell $(APXS) -q EXTRA_CPPFLAGS 2>/dev/null)
LIBEXECDIR  = $(shell $(APXS) -q LIBEXECDIR 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wno-missing-field-initializers
OPT      ?= -O2 -g
SANITIZE ?=
CXXFLAGS += -std=c++17 $(OPT) $(WARN) -fPIC -fvisibility=hidden $(SANITIZE)
CPPFLAGS += -I$(HTTPD_INC) -I$(APR_INC) $(HTTPD_DEFS)

CORE_SRC   := $(wildcard src/core/*.cpp)
DAEMON_SRC := $(wildcard src/daemon/*.cpp)
HTTPD_SRC  := $(wildcard src/httpd/*.cpp) mod_pvlaunch.cpp
CORE_OBJ   := $(CORE_SRC:%.cpp=$(BUILD)/obj/%.o)
MOD_OBJ    := $(CORE_OBJ) $(DAEMON_SRC:%.cpp=$(BUILD)/obj/%.o) $(HTTPD_SRC:%.cpp=$(BUILD)/obj/%.o)
UNIT_SRC   := $(wildcard tests/unit/test_*.c tests/unit/test_*.cpp)
UNIT_BIN   := $(BUILD)/unit_tests

.PHONY: all deps install test unit integration run bench clean format

all: deps $(BUILD)/mod_pvlaunch.so

deps:
	@sh scripts/ensure-deps.sh build

$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -MMD -MP -c $< -o $@

# ap_* and apr_* symbols come from the httpd binary: no -z defs here.
$(BUILD)/mod_pvlaunch.so: $(MOD_OBJ)
	$(CXX) -shared $(SANITIZE) -o $@ $^ -ljansson -lapr-1 -laprutil-1

$(UNIT_BIN): $(CORE_OBJ) $(wildcard tests/unit/*.cpp) $(wildcard tests/unit/*.h)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -Isrc -o $@ $(wildcard tests/unit/*.cpp) $(CORE_OBJ) \
		-ljansson -lcmocka

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

test:
	@sh scripts/ensure-deps.sh test
	$(MAKE) $(BUILD)/mod_pvlaunch.so $(UNIT_BIN)
	valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		$(UNIT_BIN)
	$(PYTHON) -m pytest -q -p no:cacheprovider tests

run:
	@sh scripts/ensure-deps.sh run
	$(MAKE) $(BUILD)/mod_pvlaunch.so
	$(PYTHON) scripts/run_demo.py

$(BUILD)/bench/ready_app: bench/ready_app.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $<

$(BUILD)/bench/table_size: bench/table_size.cpp $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -Isrc -o $@ $< $(CORE_OBJ) -ljansson

# Figures against same-run baselines, written to bench/RESULTS.md.
bench:
	@sh scripts/ensure-deps.sh bench
	$(MAKE) $(BUILD)/mod_pvlaunch.so $(BUILD)/bench/ready_app $(BUILD)/bench/table_size
	$(PYTHON) bench/run_bench.py

format:
	clang-format -i $(CORE_SRC) $(DAEMON_SRC) $(HTTPD_SRC) src/*/*.h

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
