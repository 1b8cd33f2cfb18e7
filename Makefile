# libpicpq — plain GNU make. `make demo` runs the main job, `make check` the tests;
# both install the packages they need first (DEPS=0 skips that).

MAJOR := $(shell sed -n 's/^\#define PICPQ_VERSION_MAJOR \([0-9]*\)$$/\1/p' include/picpq.h)
MINOR := $(shell sed -n 's/^\#define PICPQ_VERSION_MINOR \([0-9]*\)$$/\1/p' include/picpq.h)
PATCH := $(shell sed -n 's/^\#define PICPQ_VERSION_PATCH \([0-9]*\)$$/\1/p' include/picpq.h)
VERSION := $(MAJOR).$(MINOR).$(PATCH)

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=

CC ?= cc
CXX ?= c++
PYTHON ?= /usr/bin/python3
PKG_CONFIG ?= pkg-config
CFLAGS ?= -std=c99 -O2 -g -Wall -Wextra -Wpedantic -Werror
LDFLAGS ?=
DEPS ?= 1
DEPS_GROUPS ?= core python torch mpi ort
MPICC ?= mpicc
# ONNX Runtime for the ONNX tests (scripts/install-ort.sh; empty: those tests skip)
ORT_DIR ?= $(if $(wildcard build/ort/node_modules/onnxruntime-node),$(CURDIR)/build/ort,)
MPIRUN ?= mpirun

# LAPACKE gives only -llapacke on Debian 12: openblas adds CBLAS and the LAPACK core.
LAPACK_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags lapacke openblas 2>/dev/null)
LAPACK_LIBS ?= $(shell $(PKG_CONFIG) --libs lapacke openblas 2>/dev/null)
CHECK_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS ?= $(shell $(PKG_CONFIG) --libs check 2>/dev/null)
LAPACK_CFLAGS := $(LAPACK_CFLAGS)
LAPACK_LIBS := $(LAPACK_LIBS)
CHECK_CFLAGS := $(CHECK_CFLAGS)
CHECK_LIBS := $(CHECK_LIBS)

LIB_CPPFLAGS = -Iinclude -Isrc -D_POSIX_C_SOURCE=200809L $(LAPACK_CFLAGS)
LIB_CFLAGS = $(CFLAGS) -fPIC -fvisibility=hidden -pthread
LIBS = $(LAPACK_LIBS) -lm -pthread

SONAME = libpicpq.so.$(MAJOR)
SHARED = lib/libpicpq.so.$(VERSION)
STATIC = lib/libpicpq.a

SRC = $(wildcard src/*.c)
OBJ = $(SRC:src/%.c=build/obj/%.o)
HDR = include/picpq.h src/picpq_internal.h $(wildcard src/*.h)

TEST_SRC = $(filter-out tests/check_main.c,$(wildcard tests/check_*.c))
TEST_SUPPORT = tests/check_main.c tests/testutil.c
TEST_BIN = build/tests/check_picpq
EXAMPLE_MPI_SRC = examples/c/search_mpi.c
EXAMPLE_SRC = $(filter-out $(EXAMPLE_MPI_SRC),$(wildcard examples/c/*.c))
EXAMPLE_BIN = $(EXAMPLE_SRC:examples/c/%.c=build/examples/%)
PUBLIC_BIN = build/tests/public_api

ASAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ASAN_OBJ = $(SRC:src/%.c=build/asan/%.o)

.PHONY: all deps check check-nodeps check-valgrind check-valgrind-nodeps check-asan check-asan-nodeps \
        check-tsan check-python check-mpi examples examples-mpi demo bench docs install uninstall \
        abi-dump abi-check clean format lint lint-nodeps fuzz fuzz-smoke fuzz-corpus check-pip \
        runtime runtime-check runtime-m4

all: $(STATIC) $(SHARED) lib/picpq.pc

# Package groups of scripts/install-deps.sh that a target needs.
deps:
	@if [ "$(DEPS)" != 0 ]; then sh scripts/install-deps.sh $(DEPS_GROUPS); fi

# -O3 for the model runner's portable kernels (the integer path; the BLAS-free GEMM):
# GCC 12 vectorizes their loops only there (1.7x).
KERNEL_OPT =
build/obj/model_run.o build/runtime/model_run.o build/obj/model_vnni.o \
  build/runtime/model_vnni.o: KERNEL_OPT = -O3

build/obj/%.o: src/%.c $(HDR) | build/obj
	$(CC) $(LIB_CPPFLAGS) $(LIB_CFLAGS) $(KERNEL_OPT) -c $< -o $@

$(STATIC): $(OBJ) | lib
	rm -f $@
	ar rcs $@ $(OBJ)

$(SHARED): $(OBJ) src/libpicpq.map | lib
	$(CC) -shared $(LIB_CFLAGS) $(LDFLAGS) -Wl,-soname,$(SONAME) \
	  -Wl,--version-script=src/libpicpq.map -Wl,--no-undefined -o $@ $(OBJ) $(LIBS)
	ln -sf libpicpq.so.$(VERSION) lib/$(SONAME)
	ln -sf $(SONAME) lib/libpicpq.so

PC_SED = sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	  -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' pkgconfig/picpq.pc.in

lib/picpq.pc: pkgconfig/picpq.pc.in include/picpq.h | lib
	$(PC_SED) > $@

build/obj build/asan build/tests build/examples build/runtime build/m4 build/bench lib lib/m4:
	mkdir -p $@

# ---- runtime for small devices --------------------------------------------------
# lib/libpicpq_runtime.a: the model loader and runner with what they need (status, allocator,
# checked arithmetic, codec, code unpacker, version), the portable GEMM instead of OpenBLAS
# (PICPQ_NO_BLAS): libc and libm only, the same picpq.h. docs/DEPLOY.md, "Small devices".
RUNTIME_SRC = src/model_load.c src/model_run.c src/model_vnni.c src/codec.c src/alloc.c \
              src/status.c src/quant_pack.c src/version.c
RUNTIME = lib/libpicpq_runtime.a
RUNTIME_OBJ = $(RUNTIME_SRC:src/%.c=build/runtime/%.o)
RUNTIME_MODELS = tests/runtime/resnet20_q.pqm

build/runtime/%.o: src/%.c $(HDR) | build/runtime
	$(CC) -Iinclude -Isrc -D_POSIX_C_SOURCE=200809L -DPICPQ_NO_BLAS $(CFLAGS) $(KERNEL_OPT) -c $< -o $@

$(RUNTIME): $(RUNTIME_OBJ) | lib
	rm -f $@
	ar rcs $@ $(RUNTIME_OBJ)

runtime: $(RUNTIME)
	size -t $(RUNTIME)

# The same test program linked with only the runtime library and libm (no -lopenblas: a
# BLAS symbol would fail the link), and with libpicpq.a and OpenBLAS; the logits of the
# model files must agree within 1e-5 of the file's largest logit.
build/tests/runtime_check: tests/runtime/runtime_check.c tests/model_blob.h $(RUNTIME) | build/tests
	$(CC) -Iinclude -Itests $(CFLAGS) -o $@ $< $(RUNTIME) -lm

build/tests/runtime_check_blas: tests/runtime/runtime_check.c tests/model_blob.h $(STATIC) | build/tests
	$(CC) -Iinclude -Itests $(CFLAGS) -o $@ $< $(STATIC) $(LIBS)

runtime-check: build/tests/runtime_check build/tests/runtime_check_blas
	@! nm -u $(RUNTIME) | grep -E 'cblas_|LAPACKE_|sgemm|pthread_|sysconf' \
	  || { echo "runtime-check: the runtime library needs the symbols above"; exit 1; }
	build/tests/runtime_check $(RUNTIME_MODELS) > build/tests/runtime.out
	build/tests/runtime_check_blas $(RUNTIME_MODELS) > build/tests/runtime_blas.out
	@grep '^#' build/tests/runtime.out
	@paste -d' ' build/tests/runtime.out build/tests/runtime_blas.out | grep -v '^#' | awk ' \
	  function abs(v) { return v < 0 ? -v : v } \
	  { d[$$1] = abs($$4 - $$8) > d[$$1] ? abs($$4 - $$8) : d[$$1]; \
	    s[$$1] = abs($$8) > s[$$1] ? abs($$8) : s[$$1]; n++ } \
	  END { bad = n == 0; for (f in d) { r = d[f] / (s[f] > 0 ? s[f] : 1); \
	    printf "runtime-check: %s: largest |logit difference| %.3g, %.3g of the largest logit\n", \
	      f, d[f], r; if (r > 1e-5) bad = 1 } exit bad }'

# The runtime sources for a Cortex-M4F (no run): arm-none-eabi-gcc and newlib (install-deps
# group arm). No threads (the last-error message is one static buffer), no file I/O
# (picpq_model_load_file returns PICPQ_E_UNSUPPORTED), im2col tiles of 16 KB. Also links tests/runtime/m4_main.c,
# a firmware that runs the ResNet-20 file embedded in flash, with newlib-nano.
ARM_CC ?= arm-none-eabi-gcc
ARM_SIZE ?= arm-none-eabi-size
ARM_AR ?= arm-none-eabi-ar
M4_CFLAGS = -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -Os -std=c99 -Wall -Wextra \
            -Wpedantic -Werror -ffunction-sections -fdata-sections
M4_CPPFLAGS = -Iinclude -Isrc -DPICPQ_NO_BLAS -DPICPQ_NO_THREADS -DPICPQ_NO_FILE_IO \
              -DPICPQ__COL_FLOATS=4096
M4_OBJ = $(RUNTIME_SRC:src/%.c=build/m4/%.o)

build/m4/%.o: src/%.c $(HDR) | build/m4
	$(ARM_CC) $(M4_CPPFLAGS) $(M4_CFLAGS) -c $< -o $@

lib/m4/libpicpq_runtime.a: $(M4_OBJ) | lib/m4
	rm -f $@
	$(ARM_AR) rcs $@ $(M4_OBJ)

build/m4/model_data.c: tests/runtime/resnet20_q.pqm | build/m4
	{ echo '#include <stddef.h>'; echo 'const unsigned char model_data[] = {'; \
	  od -An -v -tu1 $< | sed 's/  */ /g; s/^ //; s/ /, /g; s/$$/,/'; echo '};'; \
	  echo 'const size_t model_size = sizeof model_data;'; } > $@

build/m4/firmware.elf: tests/runtime/m4_main.c build/m4/model_data.c lib/m4/libpicpq_runtime.a
	$(ARM_CC) -Iinclude $(M4_CFLAGS) -Wl,--gc-sections --specs=nano.specs --specs=nosys.specs \
	  -o $@ tests/runtime/m4_main.c build/m4/model_data.c lib/m4/libpicpq_runtime.a -lm

runtime-m4:
	@$(MAKE) --no-print-directory deps DEPS_GROUPS=arm
	@$(MAKE) --no-print-directory lib/m4/libpicpq_runtime.a build/m4/firmware.elf
	$(ARM_SIZE) -t lib/m4/libpicpq_runtime.a
	$(ARM_SIZE) build/m4/firmware.elf

# ---- tests ------------------------------------------------------------------
# The suite list is derived from the file names: tests/check_X.c defines X_suite().
build/tests/suites.inc: $(TEST_SRC) | build/tests
	@for f in $(TEST_SRC); do n=$${f#tests/check_}; echo "PICPQ_SUITE($${n%.c})"; done > $@.tmp
	@cmp -s $@.tmp $@ || mv $@.tmp $@; rm -f $@.tmp

TEST_CPPFLAGS = $(LIB_CPPFLAGS) -Ibuild/tests -Itests $(CHECK_CFLAGS)

$(TEST_BIN): $(TEST_SRC) $(TEST_SUPPORT) tests/testutil.h build/tests/suites.inc $(STATIC) $(HDR)
	$(CC) $(TEST_CPPFLAGS) $(CFLAGS) -pthread -o $@ $(TEST_SRC) $(TEST_SUPPORT) $(STATIC) \
	  $(CHECK_LIBS) $(LIBS)

# A program that sees only picpq.h and links the shared library, as users do.
$(PUBLIC_BIN): tests/abi/public_api.c include/picpq.h $(SHARED) | build/tests
	$(CC) -Iinclude $(CFLAGS) -o $@ $< -Llib -lpicpq -Wl,-rpath,'$$ORIGIN/../../lib'

build/examples/%: examples/c/%.c include/picpq.h $(wildcard examples/c/*.h) tests/reference_nets.h $(SHARED) | build/examples
	$(CC) -Iinclude -Itests $(CFLAGS) -o $@ $< -Llib -lpicpq -lm -Wl,-rpath,'$$ORIGIN/../../lib'

examples: $(EXAMPLE_BIN)

# The MPI master/worker example needs mpicc (Open MPI): DEPS_GROUPS=mpi.
build/examples/search_mpi: $(EXAMPLE_MPI_SRC) include/picpq.h examples/c/synthetic_fitness.h $(SHARED) | build/examples
	$(MPICC) -Iinclude $(CFLAGS) -D_POSIX_C_SOURCE=200809L -o $@ $< -Llib -lpicpq -lm \
	  -Wl,-rpath,'$$ORIGIN/../../lib'

examples-mpi:
	@if command -v $(MPICC) >/dev/null 2>&1; then $(MAKE) --no-print-directory build/examples/search_mpi; \
	else echo "examples-mpi: $(MPICC) not found (scripts/install-deps.sh mpi), skipped"; fi

check: deps
	@$(MAKE) --no-print-directory check-nodeps

check-nodeps: all $(TEST_BIN) $(PUBLIC_BIN) $(EXAMPLE_BIN)
	$(TEST_BIN)
	@$(MAKE) --no-print-directory runtime-check
	$(PUBLIC_BIN)
	sh tests/abi/check_symbols.sh lib/$(SONAME) src/libpicpq.map
	MAKE="$(MAKE)" sh tests/abi/install_test.sh
	$(CXX) -fsyntax-only -x c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror include/picpq.h
	$(CXX) -DPICPQ_EXPERIMENTAL -fsyntax-only -x c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror include/picpq.h
	@for e in $(EXAMPLE_BIN); do echo "== $$e"; $$e > build/examples/last.log 2>&1 \
	  || { cat build/examples/last.log; echo "FAILED: $$e"; exit 1; }; done
	@$(MAKE) --no-print-directory check-python
	@$(MAKE) --no-print-directory check-mpi

# The scale-out tests run only where Open MPI is installed (scripts/install-deps.sh mpi).
check-mpi: all examples-mpi
	@if command -v $(MPIRUN) >/dev/null 2>&1 && $(PYTHON) -c 'import pytest' 2>/dev/null; then \
	  PICPQ_LIBRARY=$(CURDIR)/lib/libpicpq.so MPIRUN=$(MPIRUN) $(PYTHON) -m pytest -q \
	    -p no:cacheprovider tests/mpi; \
	else echo "check-mpi: $(MPIRUN) or pytest not found, MPI tests skipped"; fi

check-python: all
	@if [ -d tests/python ] && $(PYTHON) -c 'import pytest' 2>/dev/null; then \
	  PICPQ_LIBRARY=$(CURDIR)/lib/libpicpq.so PICPQ_ORT_DIR=$(ORT_DIR) $(PYTHON) -m pytest -q \
	    -p no:cacheprovider tests/python; \
	else echo "check-python: $(PYTHON) with pytest not found, Python tests skipped"; fi

# Sanitizer and valgrind runs of the C suite (CK_FORK=no: one process, so that leak checks
# see every test). Any report fails the target.
check-valgrind:
	@$(MAKE) --no-print-directory deps DEPS_GROUPS=core
	@$(MAKE) --no-print-directory check-valgrind-nodeps

check-valgrind-nodeps: all $(TEST_BIN)
	CK_FORK=no valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
	  --track-origins=yes $(TEST_BIN)

build/asan/%.o: src/%.c $(HDR) | build/asan
	$(CC) $(LIB_CPPFLAGS) $(LIB_CFLAGS) $(ASAN_FLAGS) -c $< -o $@

build/asan/check_picpq: $(ASAN_OBJ) $(TEST_SRC) $(TEST_SUPPORT) tests/testutil.h build/tests/suites.inc
	$(CC) $(TEST_CPPFLAGS) $(CFLAGS) $(ASAN_FLAGS) -pthread -o $@ $(TEST_SRC) $(TEST_SUPPORT) \
	  $(ASAN_OBJ) $(CHECK_LIBS) $(LIBS)

check-asan:
	@$(MAKE) --no-print-directory deps DEPS_GROUPS=core
	@$(MAKE) --no-print-directory check-asan-nodeps

# -fno-sanitize-recover=all: the first UBSan report aborts; ASan aborts by default and LSan
# fails the exit status at exit.
ASAN_RUN_OPTIONS = detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1
check-asan-nodeps: build/asan/check_picpq
	CK_FORK=no ASAN_OPTIONS=$(ASAN_RUN_OPTIONS) UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  build/asan/check_picpq

# ThreadSanitizer: tests/tsan/run.sh builds and runs its own programs (gcc or clang).
# pip install into a fresh venv (Debian's pip and setuptools, offline), then
# the Python tests against that installed package, run from outside the checkout.
check-pip: all
	rm -rf build/venv build/pip-run && mkdir -p build/pip-run
	$(PYTHON) -m venv --system-site-packages build/venv
	build/venv/bin/pip install --quiet --no-build-isolation --no-index .
	cd build/pip-run && env -u PICPQ_LIBRARY PICPQ_TEST_INSTALLED=1 ../venv/bin/python -m pytest \
	  -q -p no:cacheprovider $(CURDIR)/tests/python

check-tsan:
	@$(MAKE) --no-print-directory deps DEPS_GROUPS="core fuzz"
	@if [ -f tests/tsan/run.sh ]; then sh tests/tsan/run.sh; \
	else echo "check-tsan: tests/tsan/run.sh not found, skipped"; fi

# ---- main job -----------------------------------------------------------------
# The main job: ResNet-20 on Fashion-MNIST compressed end to end (DEMO_PROFILE quick,
# smoke or paper; DEMO_ARGS e.g. "--compare --out /tmp/r"). Results go to results/.
DEMO_PROFILE ?= quick
DEMO_ARGS ?=
# The main job; it also builds classify, the C program it tells you to run.
demo:
	@$(MAKE) --no-print-directory deps DEPS_GROUPS="core python torch"
	@$(MAKE) --no-print-directory all build/examples/classify
	PICPQ_LIBRARY=$(CURDIR)/lib/libpicpq.so $(PYTHON) examples/python/compress_fmnist.py \
	  --profile $(DEMO_PROFILE) $(DEMO_ARGS)

# The kernels' ceilings of the runtime's roofline (docs/BENCHMARKS.md): build/bench/peak.
build/bench/peak: bench/runtime/peak.c $(STATIC) | build/bench
	$(CC) $(LIB_CPPFLAGS) $(CFLAGS) -o $@ $< $(STATIC) $(LIBS)

bench:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	@for b in bench/*/run.sh; do [ -f "$$b" ] || continue; echo "==== $$b"; sh "$$b" || exit 1; done

docs:
	@$(MAKE) --no-print-directory deps DEPS_GROUPS="core docs"
	doxygen docs/Doxyfile

# ---- install ------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 include/picpq.h $(DESTDIR)$(INCLUDEDIR)/picpq.h
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/libpicpq.a
	install -m 755 $(SHARED) $(DESTDIR)$(LIBDIR)/libpicpq.so.$(VERSION)
	ln -sf libpicpq.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libpicpq.so
	$(PC_SED) > $(DESTDIR)$(PKGCONFIGDIR)/picpq.pc  # the prefix of this install

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/picpq.h $(DESTDIR)$(LIBDIR)/libpicpq.a \
	  $(DESTDIR)$(LIBDIR)/libpicpq.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	  $(DESTDIR)$(LIBDIR)/libpicpq.so $(DESTDIR)$(PKGCONFIGDIR)/picpq.pc

# ---- ABI ----------------------------------------------------------------------
# The baseline is the ABI of the last release; added functions pass, changed or
# removed ones fail. Refresh it only with a deliberate change noted in docs/DESIGN.md.
abi-dump: $(SHARED)
	abidw --no-show-locs --headers-dir include $(SHARED) > tests/abi/libpicpq.abi

abi-check: deps $(SHARED)
	abidiff --no-added-syms --suppressions tests/abi/experimental.suppr --headers-dir2 include \
	  tests/abi/libpicpq.abi $(SHARED)

clean:
	rm -rf build lib

# ---- fuzzing: libFuzzer harnesses tests/fuzz/fuzz_NAME.c (clang, libclang-rt-14-dev) ----
# tests/fuzz/run.sh NAME SECONDS builds one harness with ASan/UBSan from the library sources
# and runs it. `make fuzz` runs the saved-state loader long (FUZZ_RUNS, FUZZ_TIME);
# `make fuzz-smoke` runs every harness for FUZZ_SECONDS; `make fuzz-corpus` rewrites the seeds.
FUZZ_SECONDS ?= 60
FUZZ_NAMES = $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

fuzz:
	@$(MAKE) --no-print-directory deps DEPS_GROUPS="core fuzz"
	sh tests/fuzz/run.sh search_load

fuzz-smoke:
	@$(MAKE) --no-print-directory deps DEPS_GROUPS="core fuzz"
	@mkdir -p build/fuzz; for n in $(FUZZ_NAMES); do echo "== fuzz $$n ($(FUZZ_SECONDS) s)"; \
	  sh tests/fuzz/run.sh $$n $(FUZZ_SECONDS) > build/fuzz/smoke-$$n.log 2>&1 \
	  || { tail -n 60 build/fuzz/smoke-$$n.log; echo "FAILED: fuzz $$n (build/fuzz/smoke-$$n.log)"; exit 1; }; \
	  grep -h '^stat::number_of_executed_units' build/fuzz/smoke-$$n.log || true; done

fuzz-corpus: tests/fuzz/make_corpus.c tests/fuzz/fuzz_net.h $(STATIC)
	mkdir -p build/fuzz
	$(CC) -Iinclude -Itests/fuzz $(CFLAGS) -o build/fuzz/make_corpus $< $(STATIC) $(LIBS)
	build/fuzz/make_corpus tests/fuzz/corpus_search

# ---- style ----------------------------------------------------------------------
# `make format` rewrites the C sources with clang-format (.clang-format); `make lint` checks
# that they are formatted, that no C line exceeds 100 columns, and runs flake8 (.flake8)
# over the Python code. Python is linted, not reformatted.
CLANG_FORMAT ?= clang-format
FLAKE8 ?= $(PYTHON) -m flake8
FORMAT_SRC = $(wildcard src/*.[ch] include/*.h tests/*.[ch] tests/*/*.[ch] examples/c/*.[ch] \
               bench/*/*.[ch])
PY_LINT_DIRS = python tests/python tests/mpi examples/python bench $(wildcard setup.py)

format:
	@$(MAKE) --no-print-directory deps DEPS_GROUPS=lint
	$(CLANG_FORMAT) -i $(FORMAT_SRC)

lint:
	@$(MAKE) --no-print-directory deps DEPS_GROUPS=lint
	@$(MAKE) --no-print-directory lint-nodeps

lint-nodeps:
	$(CLANG_FORMAT) --dry-run -Werror $(FORMAT_SRC)
	@! LC_ALL=C.UTF-8 grep -nE '^.{101,}' $(FORMAT_SRC) /dev/null \
	  || { echo "lint: the C lines above exceed 100 columns"; exit 1; }
	@for f in tests/fuzz/*.c; do $(CC) -fsyntax-only $(CFLAGS) -D_POSIX_C_SOURCE=200809L \
	  -Iinclude -Isrc -Itests/fuzz $$f || { echo "lint: $$f does not compile"; exit 1; }; done
	$(FLAKE8) $(PY_LINT_DIRS)
