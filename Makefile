# dynfs build.  `make` builds build/dynfs; `make test` runs every test;
# `make SANITIZE=address,undefined test` does it under ASan+UBSan (in a
# separate build directory); `make bench`, `make fuzz`, `make compdb`.

CC	?= cc
PKGS	:= fuse3 jansson libmicrohttpd libcrypto libcurl
PREFIX	?= /usr/local

WARN	:= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wno-unused-parameter -Werror
CFLAGS	?= -O2 -g
CFLAGS	+= -std=gnu11 $(WARN) -D_GNU_SOURCE -MMD -MP -pthread
CPPFLAGS += $(shell pkg-config --cflags $(PKGS))
LDLIBS	+= $(shell pkg-config --libs $(PKGS)) -pthread

ifneq ($(SANITIZE),)
BUILD	?= build/san
CFLAGS	+= -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all -O1
LDFLAGS	+= -fsanitize=$(SANITIZE)
else
BUILD	?= build
endif

ENGINE_SRC := $(sort $(wildcard engine/*.c))
FS_SRC	   := $(sort $(wildcard fs/*.c))
API_SRC	   := $(sort $(wildcard api/*.c))
SIGV4_SRC  := $(sort $(wildcard sigv4/*.c))
REMOTE_SRC := $(sort $(wildcard remote/*.c))
BACKEND_SRC := $(sort $(wildcard backend/*.c))
TEST_SRC   := $(sort $(wildcard tests/check_*.c))
FIX_SRC    := $(sort $(wildcard tests/fix_*.c))
SUITES	   := $(patsubst tests/check_%.c,%,$(filter-out tests/check_main.c,$(TEST_SRC)))

ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/%.o)
FS_OBJ	   := $(FS_SRC:%.c=$(BUILD)/%.o)
API_OBJ	   := $(API_SRC:%.c=$(BUILD)/%.o)
SIGV4_OBJ  := $(SIGV4_SRC:%.c=$(BUILD)/%.o)
REMOTE_OBJ := $(REMOTE_SRC:%.c=$(BUILD)/%.o)
BACKEND_OBJ := $(BACKEND_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ   := $(TEST_SRC:%.c=$(BUILD)/%.o) $(FIX_SRC:%.c=$(BUILD)/%.o)
FS_LIB_OBJ := $(filter-out $(BUILD)/fs/main.o,$(FS_OBJ))

all: $(BUILD)/dynfs

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/libengine.a: $(ENGINE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libfs.a: $(FS_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^ $(if $(FS_LIB_OBJ),,)

# The API front end (api/) sees only the engine's headers, and SigV4's.
$(API_OBJ) $(BUILD)/fs/main.o: CPPFLAGS += -Iengine -Isigv4
$(BUILD)/fs/main.o: CPPFLAGS += -Iremote

# SigV4 (sigv4/): signing and verifying, one implementation for api/ and remote/.
$(BUILD)/libsigv4.a: $(SIGV4_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The DynamoDB client (remote/): libcurl, SigV4, the engine's codec,
# expressions and schemas; no FUSE.
$(REMOTE_OBJ): CPPFLAGS += -Iengine -Isigv4

$(BUILD)/libremote.a: $(REMOTE_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The backend face (backend/): fs/ -> backend/ -> engine/ or remote/.
$(BUILD)/libbackend.a: $(BACKEND_OBJ)
	@rm -f $@
	ar rcs $@ $^ $(if $(BACKEND_OBJ),,)

$(BUILD)/libapi.a: $(API_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/dynfs: $(BUILD)/fs/main.o $(BUILD)/libfs.a $(BUILD)/libbackend.a $(BUILD)/libremote.a \
		$(BUILD)/libapi.a $(BUILD)/libengine.a $(BUILD)/libsigv4.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The unit test runner: one Check suite per tests/check_<module>.c, each
# exporting Suite *<module>_suite(void); the list is generated from the
# file names so adding a suite is adding a file.
$(BUILD)/tests/suites.h: $(TEST_SRC) Makefile
	@mkdir -p $(dir $@)
	@{ for s in $(SUITES); do echo "SUITE($$s)"; done; } > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

$(BUILD)/tests/check_main.o: $(BUILD)/tests/suites.h
$(BUILD)/tests/check_main.o: CPPFLAGS += -I$(BUILD)/tests
$(TEST_OBJ): CPPFLAGS += $(shell pkg-config --cflags check) -Iengine -Ifs -Iapi -Isigv4 -Iremote -Ibackend

$(BUILD)/check_all: $(TEST_OBJ) $(BUILD)/libfs.a $(BUILD)/libbackend.a $(BUILD)/libapi.a \
		$(BUILD)/libremote.a \
		$(BUILD)/libengine.a $(BUILD)/libsigv4.a
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs check) $(LDLIBS)

# The remote client's driver for tests/remote/run (real servers, fault proxy).
$(BUILD)/tests/remote/driver.o: CPPFLAGS += -Iengine -Isigv4 -Iremote

$(BUILD)/remote_driver: $(BUILD)/tests/remote/driver.o $(BUILD)/libremote.a $(BUILD)/libengine.a \
		$(BUILD)/libsigv4.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The remote client against dynfs serve, dynalite (if installed) and the fault proxy.
remote: $(BUILD)/dynfs $(BUILD)/remote_driver $(BUILD)/check_all
	tests/remote/run $(abspath $(BUILD))

check: unit
# Sanitizers slow the randomized suites down several times.
unit: $(BUILD)/check_all
	CK_TIMEOUT_MULTIPLIER=$(if $(SANITIZE),10,1) $(BUILD)/check_all

# The fault-injection shim for tests/e2e/t_faults.sh (LD_PRELOAD).
$(BUILD)/tests/faultshim.so: tests/faultshim.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) -Wno-missing-prototypes -O1 -g -shared -fPIC -o $@ $< -ldl

e2e: $(BUILD)/dynfs $(BUILD)/tests/faultshim.so
	DYNFS=$(abspath $(BUILD)/dynfs) FAULTSHIM=$(abspath $(BUILD)/tests/faultshim.so) \
		tests/e2e/run

test: unit e2e remote

# The API against DynamoDB Local and dynalite (tests/api/run; needs root
# for a private network namespace, and scripts/setup-api's npm packages).
conformance: $(BUILD)/dynfs
	tests/api/run $(abspath $(BUILD))

# valgrind on the unit suites (no fork so valgrind sees every test).
memcheck: $(BUILD)/check_all
	CK_FORK=no valgrind --error-exitcode=1 --leak-check=full \
		--errors-for-leak-kinds=definite,indirect -q $(BUILD)/check_all

bench: $(BUILD)/dynfs
	$(MAKE) -C bench BUILD=$(abspath $(BUILD))
	bench/run $(abspath $(BUILD))
	bench/api_bench.sh $(abspath $(BUILD))

fuzz:
	$(MAKE) -C fuzz

compdb:
	bear -- $(MAKE) -B all $(BUILD)/check_all

# `make install [PREFIX=/usr/local] [DESTDIR=...]`: the binary and the man
# page.  `mount -t fuse.dynfs` and fstab lines run mount.fuse3, which runs
# `dynfs STORE MNT -o OPTIONS`; mount(8) drops the caller's PATH, so
# install into a standard directory (/usr/local/bin, /usr/bin) for that.
install: $(BUILD)/dynfs
	install -Dm755 $(BUILD)/dynfs $(DESTDIR)$(PREFIX)/bin/dynfs
	install -Dm644 docs/dynfs.1 $(DESTDIR)$(PREFIX)/share/man/man1/dynfs.1
	install -Dm644 schemas/hedy.json $(DESTDIR)$(PREFIX)/share/dynfs/hedy.json

format:
	clang-format -i engine/*.[ch] backend/*.[ch] fs/*.[ch] api/*.[ch] sigv4/*.[ch] remote/*.[ch] tests/*.c

clean:
	rm -rf build

.PHONY: all check unit e2e test remote conformance memcheck bench fuzz compdb install format clean

-include $(BUILD)/tests/remote/driver.d $(ENGINE_OBJ:.o=.d) $(FS_OBJ:.o=.d) $(API_OBJ:.o=.d) $(SIGV4_OBJ:.o=.d) \
	$(REMOTE_OBJ:.o=.d) $(BACKEND_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
