# difycgi: the Dify app Service API as FastCGI programs.  Plain make.
PREFIX	?= /usr/local
DESTDIR	?=
BINDIR	 = $(PREFIX)/bin
CGIDIR	 = $(PREFIX)/lib/difycgi/cgi-bin
SHAREDIR = $(PREFIX)/share/difycgi

CC	?= cc
PKGS	 = fcgi json-c sqlite3 libpq libcurl yaml-0.1 duktape libcrypto libxml-2.0 \
	   poppler-glib libzip
DEPS_DEB = libfcgi-dev libjson-c-dev libsqlite3-dev libcurl4-openssl-dev \
	   libyaml-dev pkg-config lighttpd curl jq python3 sqlite3 duktape-dev libpq-dev \
	   python3-requests python3-yaml libssl-dev libxml2-dev \
	   libpoppler-glib-dev libzip-dev
# what the whole test suite needs besides (deployment tests, fuzzing)
TEST_DEB = clang libclang-rt-14-dev apache2 libapache2-mod-fcgid nginx \
	   spawn-fcgi lighttpd-mod-openssl openssl procps postgresql-15 \
	   postgresql-client-15 haproxy pgbouncer
# asked of pkg-config on first use, after `deps` has installed what was
# missing (a fresh machine has no .pc files when make starts)
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(shell pkg-config --cflags $(PKGS)))$(PKG_CFLAGS)
PKG_LIBS   = $(eval PKG_LIBS := $$(shell pkg-config --libs $(PKGS)))$(PKG_LIBS)

CFLAGS	?= -O2 -g
CFLAGS	+= -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread -Ilib $(PKG_CFLAGS) \
	   $(XCFLAGS)
LDLIBS	+= $(PKG_LIBS) -lpthread -lm

ifeq ($(SANITIZE),1)
BUILD	?= build-san
CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined
LDFLAGS	+= -fsanitize=address,undefined
else
BUILD	?= build
endif

LIB_SRC	 = $(sort $(wildcard lib/*.c lib/*/*.c))
LIB_OBJ	 = $(LIB_SRC:lib/%.c=$(BUILD)/lib/%.o) $(BUILD)/lib/migrations.o
LIB	 = $(BUILD)/libdify.a
PROGS	 = $(patsubst cgi-bin/%.c,$(BUILD)/cgi-bin/%.fcgi,$(wildcard cgi-bin/*.c))
TOOLS	 = $(BUILD)/dify-admin
UNITS	 = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
FUZZERS	 = $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
REPLAYS	 = $(FUZZERS:%=$(BUILD)/fuzz/%)
FUZZ_SECONDS ?= 60
CI_FUZZ_SECONDS ?= 15
SQL	 = $(sort $(wildcard sql/*.sql))
PG_SQL	 = $(sort $(wildcard sql/pg/*.sql))
HDRS	 = $(wildcard lib/*.h lib/*/*.h)

.PHONY: all test check run install uninstall clean lint deps bench bench-streams bench-growth fuzz fuzz-lib

all: deps-check layers $(LIB) $(PROGS) $(TOOLS) $(UNITS) $(REPLAYS) \
    $(BUILD)/tests/leaky.fcgi

# lib/ is one folder per subsystem, each behind its own header, layers
# one way (tools/check-layers.sh): a violation fails the build
layers:
	@sh tools/check-layers.sh
.PHONY: layers

deps-check:
	@$(MAKE) --no-print-directory deps
.PHONY: deps-check

# Install what is missing from Debian's packages (as root), or say how.
deps:
	@missing=""; for p in $(DEPS_DEB) $(EXTRA_DEB); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing \
	      || { apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	           apt-get install -y -q $$missing; }; \
	  else \
	    echo "missing packages; run: sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi

ifeq ($(V),1)
Q	 =
else
Q	 = @
endif

$(BUILD)/lib/%.o: lib/%.c $(HDRS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# sql/NNN_*.sql compiled in, so that every program migrates by itself
$(BUILD)/lib/migrations.c: $(SQL) $(PG_SQL) tools/embed-sql.sh
	@mkdir -p $(@D)
	$(Q)sh tools/embed-sql.sh $(SQL) --pg $(PG_SQL) > $@.tmp && mv $@.tmp $@

$(BUILD)/lib/migrations.o: $(BUILD)/lib/migrations.c
	$(Q)$(CC) $(CFLAGS) -Ilib -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(Q)$(AR) rcs $@ $^

$(BUILD)/cgi-bin/%.fcgi: cgi-bin/%.c $(LIB) $(HDRS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -Ilib $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/dify-admin: tools/dify-admin.c $(LIB) $(HDRS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -Ilib $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB) $(HDRS) tests/unit/unit.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -Ilib $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# defects on purpose, always sanitized: the harness's self-test
$(BUILD)/tests/leaky.fcgi: tests/tools/leaky.c
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -fno-omit-frame-pointer \
	    -fsanitize=address,undefined $(PKG_CFLAGS) -o $@ $< -lfcgi

# `make test` runs the suite on the normal build and again under ASan and
# UBSan, both on SQLite, then on the normal build again on PostgreSQL (a
# throwaway cluster, tests/pg.sh); `make SANITIZE=1 test` only the
# second pass, `make QUICK=1 test` only the first.
$(BUILD)/bench/reqcost: tests/bench/reqcost.c cgi-bin/conversation.c $(LIB) $(HDRS)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -Ilib $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/bench/hello.fcgi: tests/bench/hello.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

# requests/s, p99 and streaming overhead on SQLite and on PostgreSQL
# (BACKENDS) side by side, against a hello-world FastCGI program measured
# in the same run (see README, Performance)
bench: all $(BUILD)/bench/hello.fcgi $(BUILD)/bench/reqcost
	@EXTRA_DEB=wrk $(MAKE) --no-print-directory deps
	@BUILD=$(BUILD) bash tools/bench.sh

# fuzz targets built as replay programs over their corpus (make test runs
# them); a target with its own replay main() is linked without replay.c
$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/replay.c $(LIB) $(HDRS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -DFUZZ_REPLAY -Ilib $(LDFLAGS) -o $@ $< \
	    $$(grep -q '^#ifdef FUZZ_REPLAY' $< || echo tests/fuzz/replay.c) \
	    $(LIB) $(LDLIBS)

# libFuzzer: every target for FUZZ_SECONDS each (clang, ASan, UBSan)
fuzz-lib:
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang \
	    XCFLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" \
	    build-fuzz/libdify.a

fuzz: fuzz-lib
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tools/fuzz.sh $(FUZZERS)

# 500 concurrent streams, and latency as data grows on both backends (see
# README)
bench-streams: all
	@BUILD=$(BUILD) bash tools/bench-streams.sh

bench-growth: all
	@BUILD=$(BUILD) bash tools/bench-growth.sh

# the builds before a test run use every core, whatever make was given
JOBS	?= $(shell nproc 2>/dev/null || echo 2)
test:
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@$(MAKE) --no-print-directory deps EXTRA_DEB="$(TEST_DEB)"
	@command -v npm >/dev/null || $(MAKE) --no-print-directory deps \
	    EXTRA_DEB="nodejs npm"
	@# the SDK test's package, fetched here: the tests reach no network
	@[ -d tests/sdk/node_modules/dify-client ] || \
	    (cd tests/sdk && npm ci --no-audit --no-fund)
ifeq ($(SANITIZE),1)
	@BUILDS="$(BUILD)" sh tests/run.sh
else ifeq ($(QUICK),1)
	@BUILDS="$(BUILD)" sh tests/run.sh
else
	@$(MAKE) --no-print-directory -j$(JOBS) SANITIZE=1 all
	@$(MAKE) --no-print-directory -j$(JOBS) fuzz-lib
	@PASSES="$(BUILD):sqlite build-san:sqlite | build-san:postgresql" \
	    FUZZ="$(FUZZERS)" FUZZ_SECONDS=$(CI_FUZZ_SECONDS) sh tests/run.sh
endif

check: test

# exec: a SIGTERM to make reaches tools/run.sh, which stops the server
run: all
	@BUILD=$(BUILD) exec sh tools/run.sh

lint: layers
	@! grep -nE '\b(atoi|sprintf|strcpy|strcat|strtok|sscanf|gets)\(' \
	    lib/*/*.c cgi-bin/*.c tools/*.c || { echo "banned call"; exit 1; }

# install: programs, dify-admin and sql/; the spawn-fcgi wrapper and the
# systemd units; every server config filled in for these paths by
# tools/gen-deploy.sh (SERVER_NAME, WEB_USER, RUN_USER, RUNDIR, DATA_DIR
# may be given too), routing only the families built, under
# $(SHAREDIR)/conf; the programs' configuration
# and the wrapper's settings in $(SYSCONFDIR)/difycgi, never overwritten.
SBINDIR	    = $(PREFIX)/sbin
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR	   ?= $(PREFIX)/lib/systemd/system
CONFOUT	    = $(DESTDIR)$(SHAREDIR)/conf
ETCOUT	    = $(DESTDIR)$(SYSCONFDIR)/difycgi
GEN_DEPLOY  = sh tools/gen-deploy.sh --only-built $(BUILD)/cgi-bin \
	      PREFIX=$(PREFIX) BINDIR=$(BINDIR) \
	      SBINDIR=$(SBINDIR) CGIDIR=$(CGIDIR) SHAREDIR=$(SHAREDIR) \
	      SYSCONFDIR=$(SYSCONFDIR) $(foreach v,SERVER_NAME WEB_USER \
	      WEB_GROUP RUN_USER RUN_GROUP RUNDIR DATA_DIR TLS_CERT TLS_KEY \
	      HTTP_PORT HTTPS_PORT,$(if $($(v)),$(v)=$($(v))))

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(CGIDIR) \
	    $(DESTDIR)$(SHAREDIR)/sql/pg $(CONFOUT)/apache2 $(CONFOUT)/nginx \
	    $(CONFOUT)/many-machines \
	    $(CONFOUT)/lighttpd $(DESTDIR)$(UNITDIR) $(ETCOUT)
	install -m 755 $(TOOLS) $(DESTDIR)$(BINDIR)/
	install -m 755 $(PROGS) $(DESTDIR)$(CGIDIR)/
	install -m 644 $(SQL) $(DESTDIR)$(SHAREDIR)/sql/
	install -m 644 $(PG_SQL) $(DESTDIR)$(SHAREDIR)/sql/pg/
	$(GEN_DEPLOY) conf/difycgi-spawn.in > $(DESTDIR)$(SBINDIR)/difycgi-spawn
	chmod 755 $(DESTDIR)$(SBINDIR)/difycgi-spawn
	$(GEN_DEPLOY) 'conf/difycgi@.service.in' > '$(DESTDIR)$(UNITDIR)/difycgi@.service'
	$(GEN_DEPLOY) conf/difycgi.target.in > $(DESTDIR)$(UNITDIR)/difycgi.target
	for f in difycgi-fcgid difycgi-proxy-fcgi difycgi-cgi; do \
	    $(GEN_DEPLOY) apache-conf/$$f.conf.in > $(CONFOUT)/apache2/$$f.conf \
	    || exit 1; done
	$(GEN_DEPLOY) apache-conf/htaccess.in > $(CONFOUT)/apache2/htaccess
	install -m 644 apache-conf/README.md $(CONFOUT)/apache2/
	$(GEN_DEPLOY) conf/nginx-difycgi.conf.in > $(CONFOUT)/nginx/difycgi.conf
	$(GEN_DEPLOY) conf/lighttpd-difycgi.conf.in > $(CONFOUT)/lighttpd/50-difycgi.conf
	$(GEN_DEPLOY) conf/difycgi.conf.in > $(CONFOUT)/difycgi.conf
	$(GEN_DEPLOY) conf/haproxy-difycgi.cfg.in > $(CONFOUT)/many-machines/haproxy.cfg
	$(GEN_DEPLOY) conf/nginx-lb-difycgi.conf.in > $(CONFOUT)/many-machines/nginx-lb.conf
	$(GEN_DEPLOY) conf/pgbouncer-difycgi.ini.in > $(CONFOUT)/many-machines/pgbouncer.ini
	$(GEN_DEPLOY) conf/spawn.conf.in > $(CONFOUT)/spawn.conf
	test -e $(ETCOUT)/difycgi.conf || \
	    install -m 640 $(CONFOUT)/difycgi.conf $(ETCOUT)/difycgi.conf
	test -e $(ETCOUT)/spawn.conf || \
	    install -m 644 $(CONFOUT)/spawn.conf $(ETCOUT)/spawn.conf

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/dify-admin
	rm -rf $(DESTDIR)$(CGIDIR) $(DESTDIR)$(SHAREDIR)

clean:
	rm -rf build build-san build-fuzz
