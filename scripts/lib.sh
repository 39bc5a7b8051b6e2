# SPDX-License-Identifier: GPL-2.0-or-later
# Shared helpers for the project's scripts (sourced, not executed).

NVMET_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NVMET_BUILD=${NVMET_BUILD:-$NVMET_TOP/build}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# apt_install PKG...: install the packages that are missing (host
# packages from bookworm or bookworm-backports only; PKG/suite allowed).
apt_install() {
    local missing=() p name
    for p in "$@"; do
        name=${p%%/*}
        if ! dpkg-query -W -f='${Status}' "$name" 2>/dev/null |
                grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || die "need root to install: ${missing[*]}"
    "$NVMET_TOP/scripts/setup-apt.sh"
    log "apt: installing ${missing[*]}"
    # (wait for a dpkg lock held by another run instead of failing)
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        -o Acquire::Retries=3 -o DPkg::Lock::Timeout=600 \
        --no-install-recommends "${missing[@]}" >&2
}

# Host packages needed to build QEMU with the target and to run its tests.
QEMU_BUILD_DEPS=(build-essential pkg-config ninja-build meson/bookworm-backports
    python3 python3-venv dpkg-dev libglib2.0-dev libpixman-1-dev libslirp-dev
    libgnutls28-dev nettle-dev libgmp-dev zlib1g-dev libfdt-dev flex bison
    ccache rsync)
# Host packages needed to build GnuTLS and nettle (scripts/build-gnutls.sh).
GNUTLS_BUILD_DEPS=(build-essential pkg-config dpkg-dev xz-utils python3
    libgmp-dev libtasn1-6-dev libidn2-dev libunistring-dev)

# ---- progress of long builds ------------------------------------------------

# fmt_secs S: "1m05s" / "42s"
fmt_secs() {
    if [ "$1" -ge 60 ]; then
        printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
    else
        printf '%ds' "$1"
    fi
}

# build_jobs: parallel jobs of ninja and make (ninja's default is cores + 2
# and keeps the cores busy; make gets the number of cores)
build_jobs() { nproc 2>/dev/null || echo 1; }

# estimate NAME STEPS CPU_S_PER_STEP [WHAT [NOTE]]: log "NAME: STEPS WHAT,
# about M min on N idle cores (NOTE)", from CPU seconds per step measured
# on a cold build.
estimate() {
    local name=$1 steps=$2 cps=$3 what=${4:-build steps} note=${5:-} cores s
    cores=$(build_jobs)
    s=$(awk -v n="$steps" -v c="$cps" -v j="$cores" 'BEGIN { printf "%d", n * c / j + 0.5 }')
    log "$name: $steps $what, about $(fmt_secs "$s") on $cores idle core(s)${note:+ ($note)}$(load_note)"
}

# load_note: ", longer: load average L" when other jobs keep the cores busy
load_note() {
    local l
    l=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null) || return 0
    awk -v l="$l" -v c="$(build_jobs)" 'BEGIN { if (l > c) printf ", longer: load average %s", l }'
}

# progress NAME LOG [TOTAL REGEX]: filter a build's output (stdin).  All of
# it goes to LOG; on stderr a line "NAME: [n/N] p%, elapsed, ~left: what"
# whenever another 10 % are done or 30 s passed (on a terminal, one line
# updated in place).  Steps are ninja's "[n/N] ..." status lines or, given
# TOTAL and REGEX (make, configure), the lines matching REGEX out of about
# TOTAL.  Print the tail of LOG yourself when the build failed.
progress() {
    local name=$1 log=$2 total=${3:-0} re=${4:-} line n=0 pct desc
    local t0=$SECONDS last_t=$SECONDS last_pct=0 el left tty=0 fd msg
    [ -t 2 ] && tty=1
    exec {fd}> "$log"
    while IFS= read -r line; do
        printf '%s\n' "$line" >&$fd
        if [ -z "$re" ]; then
            [[ $line =~ ^\[([0-9]+)/([0-9]+)\]\ (.*)$ ]] || continue
            n=${BASH_REMATCH[1]} total=${BASH_REMATCH[2]} desc=${BASH_REMATCH[3]}
        else
            [[ $line =~ $re ]] || continue
            n=$((n + 1)) desc=$line
            [ "$n" -lt "$total" ] || total=$((n + 1))
        fi
        pct=$((n * 100 / total))
        if [ $tty = 1 ]; then
            [ $SECONDS -gt $last_t ] || [ "$n" = "$total" ] || continue
        elif [ $((pct / 10)) -le $((last_pct / 10)) ] &&
             [ $((SECONDS - last_t)) -lt 30 ]; then
            continue
        fi
        last_t=$SECONDS last_pct=$pct
        el=$((SECONDS - t0))
        msg="$name: [$n/$total] $pct%, $(fmt_secs $el)"
        if [ "$n" -ge 5 ] && [ "$n" -lt "$total" ]; then
            left=$(( el * (total - n) / n ))
            msg+=", ~$(fmt_secs $left) left"
        fi
        desc=${desc#"${desc%%[![:space:]]*}"}
        # a compiler command line: name the file it compiles
        [[ $desc =~ \ -c\ ([^ ]+) ]] && desc="compiling ${BASH_REMATCH[1]}"
        msg+=": ${desc:0:60}"
        if [ $tty = 1 ]; then
            printf '\r\033[K%s' "$msg" >&2
        else
            log "$msg"
        fi
    done
    exec {fd}>&-
    [ $tty = 0 ] || printf '\r\033[K' >&2
    log "$name: $n steps in $(fmt_secs $((SECONDS - t0)))"
}

# ---- QMP ------------------------------------------------------------------------

# qmp_exec SOCKET COMMAND...: run QMP commands (each argument one command
# as JSON) over a QMP UNIX socket, waiting up to 60 s for the socket; a
# command with a job-id waits for its job to conclude (and dismisses it).
# Prints the "return" of the last command unless it is an object; fails
# with the error's description.
qmp_exec() {
    python3 - "$@" <<'PYEOF'
import json, socket, sys, time
for _ in range(1200):
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(sys.argv[1])
        break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit("no QMP socket")
f = s.makefile("rw")
def cmd(c):
    f.write(json.dumps(c) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "error" in r:
            sys.exit(f"QMP {c['execute']}: {r['error']['desc']}")
        if "return" in r:
            return r["return"]
json.loads(f.readline())
cmd({"execute": "qmp_capabilities"})
ret = None
for a in sys.argv[2:]:
    c = json.loads(a)
    ret = cmd(c)
    job = c.get("arguments", {}).get("job-id")
    while job:
        j = [x for x in cmd({"execute": "query-jobs"}) if x["id"] == job][0]
        if j["status"] == "concluded":
            if "error" in j:
                sys.exit(f"job {job}: {j['error']}")
            cmd({"execute": "job-dismiss", "arguments": {"id": job}})
            break
        time.sleep(0.05)
if not isinstance(ret, dict):
    print(ret)
PYEOF
}

# qmp_qom_get SOCKET PATH PROPERTY: print a property over a QMP UNIX socket,
# e.g. the port an nvmet-port with trsvcid=0 got from the kernel
qmp_qom_get() {
    qmp_exec "$1" "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"$2\", \"property\": \"$3\"}}"
}
