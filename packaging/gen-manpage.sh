#!/bin/sh
# Writes the man page of BINARY to OUT with help2man, from the program's own help: the top-level
# --help, then each subcommand's --help as a section. Run by the build (CMakeLists.txt).
set -eu
bin=$1
out=$2
inc=$(mktemp)
trap 'rm -f "$inc"' EXIT
{
    echo "[COMMANDS]"
    # The subcommands as the top-level help lists them (CLI11: "SUBCOMMANDS:" then one a line).
    for cmd in $("$bin" --help | awk '/^[Ss][Uu][Bb][Cc][Oo][Mm][Mm][Aa][Nn][Dd][Ss]:/ {on=1; next}
                                     on && /^  [a-z]/ {print $1} on && /^$/ {on=0}'); do
        if [ "$cmd" = events ]; then cmd="events prune"; fi
        echo ".SS \"airflow-failover $cmd\""
        echo ".nf"
        # Preformatted, as the terminal shows it; roff's escape and control characters quoted.
        # shellcheck disable=SC2086
        "$bin" $cmd --help | sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"
        echo ".fi"
    done
    echo "[FILES]"
    echo "/etc/airflow-failover/config.json, /etc/default/airflow-failover,"
    echo "/lib/systemd/system/airflow-failover.service"
    echo "[SEE ALSO]"
    echo "/usr/share/doc/airflow-failover/operations.md"
} >"$inc"
help2man --no-info --section=1 --source="airflow-failover" \
    --name="keep exactly one Apache Airflow scheduler running across hosts" \
    --include="$inc" --output="$out" "$bin"
