#!/usr/bin/env bash
# Runs every test of the project: installs what is missing, builds the daemon (warnings are
# errors), runs the C++ unit tests under AddressSanitizer + UBSan and under ThreadSanitizer, and the
# pytest suites against a real PostgreSQL that the tests start themselves. Idempotent; safe to
# run again.
#
#   scripts/test.sh            everything
#   scripts/test.sh -k crash   pass extra arguments to pytest
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
# Each step says when it starts, so a slow machine shows where the time goes; the table at the end
# gives each stage's duration (the budget is 45 minutes on a fresh 2-core machine).
stages=()
stage_name="" stage_start=$SECONDS
mmss() { printf '%02d:%02d' $(($1 / 60)) $(($1 % 60)); }
close_stage() {
    [ -n "$stage_name" ] && stages+=("$(mmss $((SECONDS - stage_start)))  $stage_name")
    stage_name="" stage_start=$SECONDS
}
step() {
    close_stage
    stage_name="$*"
    printf '==> [%s] %s\n' "$(mmss $((SECONDS - started)))" "$*"
}
stage_table() {
    close_stage
    printf '==> stage times (mm:ss), total %s:\n' "$(mmss $((SECONDS - started)))"
    printf '    %s\n' "${stages[@]}"
}
trap stage_table EXIT
# shellcheck source=lib/deps.sh
source scripts/lib/deps.sh
step "system packages and the Python environment"
ensure_apt_packages

if [ -f scripts/lib/python-env.sh ]; then
    # shellcheck source=lib/python-env.sh
    source scripts/lib/python-env.sh
    ensure_python_env
    # shellcheck source=lib/spark-jars.sh
    source scripts/lib/spark-jars.sh
    ensure_spark_s3a_jars
    PY=.venv/bin/python
else
    PY=python3
fi

if [ "$PY" != python3 ]; then
    step "ruff check, ruff format --check and mypy (settings in pyproject.toml)"
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    .venv/bin/mypy
fi

step "clang-format check"
files=$(git ls-files '*.cpp' '*.hpp' 2>/dev/null || find src include tests -name '*.[ch]pp')
# shellcheck disable=SC2086
clang-format --dry-run -Werror $files

# The shipped binary (-O2, what the package and the pytest suites run). The unit tests are built
# and run below under ASan+UBSan and under TSan, which find strictly more than a plain run: a third
# build of them here would cost minutes of the budget and find nothing new.
step "build (plain, -Werror)"
build_daemon build -DAF_WERROR=ON -DAF_BUILD_TESTS=OFF

# -O1, as the sanitizers' docs advise: fast enough to run, much quicker to compile than -O2;
# -g1 (line tables only) is all a sanitizer's stack trace needs, and compiles and links faster.
step "build under ASan+UBSan"
build_daemon build-asan -DAF_WERROR=ON -DAF_SANITIZE=ON -DAF_BUILD_TESTS=ON -DAF_UNITY=ON \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG"
# On the unity build's compile database: each chunk (a dozen sources) is parsed once, which costs
# a fraction of a per-file run. Findings in the project's own headers count (include/, src/);
# checks and why: .clang-tidy. Only af_lib's chunks, the files kept out of them, and main.cpp:
# the tests are built from the same headers.
step "clang-tidy (.clang-tidy) on the unity chunks"
scripts/clang-tidy.sh build-asan
step "C++ unit tests under ASan+UBSan"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure --no-tests=error -j 2)

# ThreadSanitizer over the unit-test binary (the job queues, the database worker's threads, the
# daemon-level simulated tests): that target only, at -O1, in its own directory (TSan and ASan
# cannot share a build). halt_on_error: the first race fails the stage.
step "build the unit tests under ThreadSanitizer"
AF_TARGET=af_unit_tests build_daemon build-tsan -DAF_WERROR=ON -DAF_TSAN=ON -DAF_BUILD_TESTS=ON -DAF_UNITY=ON \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG"
step "C++ unit tests under ThreadSanitizer"
# setarch -R (no address randomisation for this one process): GCC 12's TSan runtime aborts with
# "unexpected memory mapping" under the wider mmap randomisation of newer kernels.
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
    setarch "$(uname -m)" -R build-tsan/af_unit_tests --gtest_brief=1

step "fuzzing the heartbeat decoder (libFuzzer, 20 s)"
AF_TARGET=heartbeat_fuzz build_daemon build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DAF_FUZZ=ON \
    -DAF_BUILD_TESTS=OFF
corpus=$(mktemp -d)
"${PY:-python3}" -m tests.fuzz.seed_heartbeat "$corpus"
if ! build-fuzz/heartbeat_fuzz -max_total_time=20 "$corpus" >"$corpus.log" 2>&1; then
    tail -40 "$corpus.log"
    echo "fuzzer found a crash (input saved in $PWD/crash-*)" >&2
    exit 1
fi
grep -E "^Done" "$corpus.log"
rm -rf "$corpus" "$corpus.log"

step "integration: failover cases against the ASan+UBSan daemon"
AIRFLOW_FAILOVER_BIN=$PWD/build-asan/airflow-failover \
    "$PY" -m pytest -q tests/integration/test_failover.py -k "kill9 or sigterm or crash_once" \
    -p no:cacheprovider

step "all pytest suites"
# --durations: where the time goes, for the 45-minute budget on a 2-core machine.
"$PY" -m pytest -q -p no:cacheprovider --durations=15 "$@"
step "all tests passed"
trap - EXIT
stage_table
