# shellcheck shell=bash
# Fetches the jars that let Spark use s3a:// (hadoop-aws and the AWS SDK v2 modules it needs, listed
# with their sha256 in scripts/lib/spark-s3a-jars.txt) from Maven Central into a cache shared by
# every checkout, verifies each checksum, and exports AF_SPARK_S3A_JARS (comma-separated paths,
# what spark-submit --jars takes). Idempotent: files already there with the right checksum are
# kept, so the second call costs a few sha256sum runs. Source it, then call ensure_spark_s3a_jars.
#
#   AF_SPARK_JARS_DIR  the cache (default ${XDG_CACHE_HOME:-~/.cache}/airflow-failover/spark-jars)
#   AF_MAVEN_URL       the repository (default https://repo1.maven.org/maven2)

_SPARKJARS_MANIFEST="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/spark-s3a-jars.txt"

ensure_spark_s3a_jars() {
    local dir=${AF_SPARK_JARS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/airflow-failover/spark-jars}
    local repo=${AF_MAVEN_URL:-https://repo1.maven.org/maven2}
    local sha path file tmp got fetched=0 bytes=0 list="" started=$SECONDS
    mkdir -p "$dir" || return 1
    while read -r sha path; do
        case "$sha" in '' | '#'*) continue ;; esac
        file="$dir/${path##*/}"
        if [ ! -f "$file" ] || [ "$(sha256sum "$file" | cut -d' ' -f1)" != "$sha" ]; then
            tmp="$file.part.$$"
            if ! curl -fsSL --retry 3 -o "$tmp" "$repo/$path"; then
                rm -f "$tmp"
                echo "spark-jars: download of $repo/$path failed" >&2
                return 1
            fi
            got=$(sha256sum "$tmp" | cut -d' ' -f1)
            if [ "$got" != "$sha" ]; then
                rm -f "$tmp"
                echo "spark-jars: $path has sha256 $got, expected $sha (not installed)" >&2
                return 1
            fi
            mv -f "$tmp" "$file"
            fetched=$((fetched + 1))
            bytes=$((bytes + $(stat -c %s "$file")))
        fi
        list="${list:+$list,}$file"
    done <"$_SPARKJARS_MANIFEST"
    if [ "$fetched" -gt 0 ]; then
        echo "==> spark s3a jars: fetched $fetched ($((bytes / 1024)) KiB) in $((SECONDS - started)) s into $dir"
    else
        echo "==> spark s3a jars: all present in $dir"
    fi
    AF_SPARK_S3A_JARS=$list
    export AF_SPARK_S3A_JARS
}
