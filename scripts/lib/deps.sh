# shellcheck shell=bash
# Installs the Debian packages the project needs, only those missing (idempotent), with sudo
# only when not root. Source it, then call ensure_apt_packages.

AF_APT_PACKAGES=(
    build-essential cmake ninja-build pkg-config ccache clang clang-format clang-tidy
    libpqxx-dev libboost-dev libspdlog-dev nlohmann-json3-dev libgtest-dev libgmock-dev
    libssl-dev libsystemd-dev prometheus-cpp-dev libcli11-dev help2man
    postgresql postgresql-client
    python3 python3-venv python3-pip
    openjdk-17-jre-headless
    procps iproute2 util-linux iptables
    systemd dpkg-dev
    chromium chromium-driver faketime
    libclang-rt-14-dev rabbitmq-server
    patroni etcd-server
    prometheus
)

af_sudo() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

ensure_apt_packages() {
    local missing=() pkg
    for pkg in "${AF_APT_PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$pkg")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        echo "==> system packages: all present"
        return 0
    fi
    echo "==> installing system packages: ${missing[*]}"
    af_sudo apt-get update -qq
    af_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

# Builds the daemon into $1 (default build/) with the given extra CMake options.
build_daemon() {
    local dir=${1:-build}
    shift || true
    local jobs
    jobs=$(nproc 2>/dev/null || echo 2)
    echo "==> building $dir"
    # Paths relative to the checkout in ccache's keys: another clone reuses the cache.
    export CCACHE_BASEDIR="$PWD"
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    # AF_TARGET=name builds that target only (the fuzz build needs none of the rest).
    cmake --build "$dir" -j "$jobs" ${AF_TARGET:+--target "$AF_TARGET"}
}
