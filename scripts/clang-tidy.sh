#!/usr/bin/env bash
# clang-tidy (checks in .clang-tidy) over af_lib's unity chunks, the sources kept out of them and
# src/main.cpp, from a configured AF_UNITY build directory's compile database (configuring is
# enough: CMake writes the chunks when it generates). Any finding fails.
#
#   scripts/clang-tidy.sh build-asan
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: scripts/clang-tidy.sh BUILD_DIR (configured with -DAF_UNITY=ON)}
db=$dir/compile_commands.json
[ -f "$db" ] || { echo "clang-tidy: no $db (configure $dir first)" >&2; exit 2; }
# The files of af_lib and the daemon that the compile database names: with AF_UNITY it names the
# chunks, not the sources they include.
mapfile -t files < <(python3 -c '
import json, sys
for e in json.load(open(sys.argv[1])):
    if any(f" -o CMakeFiles/{t}.dir/" in e["command"] for t in ("af_lib", "airflow-failover")):
        print(e["file"])
' "$db")
[ ${#files[@]} -gt 0 ] || { echo "clang-tidy: no af_lib files in $db" >&2; exit 2; }
echo "clang-tidy: ${#files[@]} translation units"
# GCC's flags (the sanitizers, -W options clang does not know) reach clang through the database.
log=$(mktemp)
rc=0
run-clang-tidy -quiet -p "$dir" -j "$(nproc)" \
    -extra-arg=-Wno-unknown-warning-option -extra-arg=-Wno-ignored-optimization-argument \
    "${files[@]}" >"$log" 2>&1 || rc=$?
# Without the per-file "N warnings generated" lines (the system headers' own, suppressed).
grep -v -E '^[0-9]+ warnings? generated\.$' "$log" || true
rm -f "$log"
exit "$rc"
