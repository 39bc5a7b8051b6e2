#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Long fuzzing run of the protocol engine with libFuzzer, and a coverage
# report of the engine.  Not part of CI (it runs for hours); the figures it
# prints are the ones in docs/devel/nvmet-tcp-robustness.rst.
#
#   scripts/fuzz-long.sh [--time SECONDS] [--nice N] [--no-coverage]
#   scripts/fuzz-long.sh --coverage-only
#
# What it does:
#  1. builds tests/fuzz/fuzz-nvmet-libfuzzer with clang (-fsanitize=fuzzer,
#     engine compiled with -fsanitize=fuzzer-no-link, optimised, assertions
#     on, no ASan: ASan costs a factor of 2-3 in executions and the grown
#     corpus is replayed under ASan/UBSan afterwards instead) in
#     build/fuzz-clang;
#  2. runs two libFuzzer jobs side by side for --time seconds (default
#     3600) at nice --nice (default 19):
#       engine  seeds: all of tests/fuzz/corpus
#       tls     seeds: the tls-* and regress-tls-* files only, so that the
#               mutations stay on TLS sessions (the harness's TLS client,
#               records, mangles, PSK rotation)
#     new inputs go to build/fuzz-long/{engine,tls}-corpus, crashes to
#     build/fuzz-long/artifacts/;
#  3. replays both grown corpora with the standalone driver built with
#     ASan + UBSan (build/engine-asan, as scripts/run-tests.sh unit-asan);
#  4. builds the engine and the standalone driver with clang source-based
#     coverage (build/fuzz-cov), replays tests/fuzz/corpus and the grown
#     corpora, runs the engine's unit tests too, and writes
#     build/fuzz-long/coverage.txt (llvm-cov report: lines, branches,
#     functions per file of nvmet/engine), build/fuzz-long/coverage-html/
#     and build/fuzz-long/uncovered.txt (the engine's lines never run).
#
# Output ends with "fuzz-long: N executions (engine A, tls B), ... crashes".
# Exit status: non-zero when libFuzzer or the ASan replay found a failure.

set -u -o pipefail
. "$(dirname "$0")/lib.sh"

TIME=3600
NICE=19
COVERAGE=1
FUZZ=1
while [ $# -gt 0 ]; do
    case $1 in
        --time) TIME=$2; shift ;;
        --nice) NICE=$2; shift ;;
        --no-coverage) COVERAGE=0 ;;
        --coverage-only) FUZZ=0 ;;
        -h|--help) sed -n '3,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done

OUT=$NVMET_BUILD/fuzz-long
mkdir -p "$OUT/artifacts"

apt_install build-essential pkg-config ninja-build meson/bookworm-backports \
    libglib2.0-dev nettle-dev libgmp-dev libgnutls28-dev python3 clang llvm
PC=$("$NVMET_TOP/scripts/build-gnutls.sh" 2>> "$OUT/build-gnutls.log" |
     sed -n 's/^PKG_CONFIG_PATH=//p')
[ -n "$PC" ] || die "GnuTLS build failed (see $OUT/build-gnutls.log)"
export PKG_CONFIG_PATH=$PC

# setup DIR MESON-ARGS...: configure once (again if the options changed)
setup() {
    local dir=$1; shift
    local want="$* $(pkg-config --modversion gnutls)"
    if [ ! -f "$dir/build.ninja" ] ||
       [ "$(cat "$dir/.nvmet-fuzz-setup" 2>/dev/null)" != "$want" ]; then
        rm -rf "$dir"
        meson setup "$dir" "$NVMET_TOP" "$@" > "$dir.setup.log" 2>&1 ||
            { cat "$dir.setup.log" >&2; exit 1; }
        echo "$want" > "$dir/.nvmet-fuzz-setup"
    fi
}

status=0
runs_engine=0
runs_tls=0

# final_runs LOG: executions libFuzzer reported at its end
final_runs() {
    sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -n 1
}

if [ $FUZZ = 1 ]; then
    dir=$NVMET_BUILD/fuzz-clang
    CC=clang setup "$dir" -Dbuildtype=release -Db_ndebug=false \
        -Db_lundef=false
    ninja -C "$dir" tests/fuzz/fuzz-nvmet-libfuzzer > "$dir.build.log" 2>&1 ||
        { tail -n 30 "$dir.build.log" >&2; exit 1; }
    F=$dir/tests/fuzz/fuzz-nvmet-libfuzzer
    [ -x "$F" ] || die "clang cannot build the libFuzzer target"

    mkdir -p "$OUT/engine-corpus" "$OUT/tls-corpus" "$OUT/tls-seeds"
    cp "$NVMET_TOP"/tests/fuzz/corpus/tls-* \
       "$NVMET_TOP"/tests/fuzz/corpus/regress-tls-* "$OUT/tls-seeds/"
    # -timeout is wall-clock time: at nice 19 on a loaded machine an input
    # of a few hundred milliseconds of CPU waited more than 10 s for it
    common=(-max_len=4096 -timeout=60 -rss_limit_mb=2048
            -max_total_time="$TIME" -print_final_stats=1
            -reload=0)
    log "libFuzzer: 2 jobs, $TIME s each, nice $NICE (logs in $OUT)"
    nice -n "$NICE" "$F" "${common[@]}" \
        -artifact_prefix="$OUT/artifacts/engine-" \
        "$OUT/engine-corpus" "$NVMET_TOP/tests/fuzz/corpus" \
        > "$OUT/engine.log" 2>&1 &
    pid_engine=$!
    nice -n "$NICE" "$F" "${common[@]}" \
        -artifact_prefix="$OUT/artifacts/tls-" \
        "$OUT/tls-corpus" "$OUT/tls-seeds" \
        > "$OUT/tls.log" 2>&1 &
    pid_tls=$!
    wait $pid_engine || { status=1; log "engine job failed: see $OUT/engine.log"; }
    wait $pid_tls || { status=1; log "tls job failed: see $OUT/tls.log"; }
    runs_engine=$(final_runs "$OUT/engine.log")
    runs_tls=$(final_runs "$OUT/tls.log")
    log "libFuzzer: engine ${runs_engine:-?} executions, tls ${runs_tls:-?}"
    grep -h -E '^==[0-9]+==|^SUMMARY|Test unit written' \
        "$OUT/engine.log" "$OUT/tls.log" >&2

    # replay what libFuzzer found under ASan + UBSan
    # configured as scripts/run-tests.sh unit-asan does (same marker file),
    # so that neither throws the other's build away
    asan=$NVMET_BUILD/engine-asan
    want="gnutls $(pkg-config --modversion gnutls)"
    if [ ! -f "$asan/build.ninja" ] ||
       [ "$(cat "$asan/.nvmet-setup" 2>/dev/null)" != "$want" ]; then
        rm -rf "$asan"
        meson setup "$asan" "$NVMET_TOP" -Db_sanitize=address,undefined \
            -Db_lundef=false > "$asan.setup.log" 2>&1 ||
            { cat "$asan.setup.log" >&2; exit 1; }
        echo "$want" > "$asan/.nvmet-setup"
    fi
    ninja -C "$asan" tests/fuzz/fuzz-nvmet > "$asan.build.log" 2>&1 ||
        { tail -n 30 "$asan.build.log" >&2; exit 1; }
    log "ASan/UBSan replay of $(ls "$OUT/engine-corpus" | wc -l) + $(ls "$OUT/tls-corpus" | wc -l) inputs"
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
        nice -n "$NICE" "$asan/tests/fuzz/fuzz-nvmet" --crash-dir "$OUT/artifacts" \
        "$OUT/engine-corpus" "$OUT/tls-corpus" \
        > "$OUT/asan-replay.log" 2>&1 ||
        { status=1; tail -n 20 "$OUT/asan-replay.log" >&2; }
    tail -n 1 "$OUT/asan-replay.log" >&2
fi

if [ $COVERAGE = 1 ]; then
    cov=$NVMET_BUILD/fuzz-cov
    # werror off: clang warns where gcc does not (tests' g_auto variables)
    CC=clang setup "$cov" -Dbuildtype=debug -Db_lundef=false -Dwerror=false \
        -Dc_args='-fprofile-instr-generate -fcoverage-mapping' \
        -Dc_link_args='-fprofile-instr-generate'
    ninja -C "$cov" > "$cov.build.log" 2>&1 ||
        { tail -n 30 "$cov.build.log" >&2; exit 1; }
    rm -rf "$OUT/profraw"
    mkdir -p "$OUT/profraw"
    corpora=("$NVMET_TOP/tests/fuzz/corpus")
    for d in "$OUT/engine-corpus" "$OUT/tls-corpus"; do
        [ -d "$d" ] && corpora+=("$d")
    done
    log "coverage: replaying ${corpora[*]}"
    LLVM_PROFILE_FILE="$OUT/profraw/fuzz-%p.profraw" \
        nice -n "$NICE" "$cov/tests/fuzz/fuzz-nvmet" --crash-dir "$OUT/artifacts" \
        "${corpora[@]}" > "$OUT/cov-replay.log" 2>&1 ||
        { status=1; tail -n 20 "$OUT/cov-replay.log" >&2; }
    llvm-profdata merge -o "$OUT/fuzz.profdata" "$OUT"/profraw/fuzz-*.profraw
    # the unit tests too, for a second figure (fuzzing + unit tests)
    for t in "$cov"/tests/unit/test-*; do
        [ -f "$t" ] && [ -x "$t" ] || continue
        G_TEST_SRCDIR=$NVMET_TOP/tests/unit \
            LLVM_PROFILE_FILE="$OUT/profraw/unit-%p.profraw" \
            nice -n "$NICE" "$t" > /dev/null 2>&1 || log "unit test $t failed"
    done
    llvm-profdata merge -o "$OUT/all.profdata" "$OUT"/profraw/*.profraw
    # the engine only: nvmet/engine/*.[ch], not the harness, the test host,
    # GLib's inline functions or generated headers
    skip='(/usr/|/tests/|/include/nvmet/|nvmet-engine-trace)'
    exe=$cov/tests/fuzz/fuzz-nvmet
    llvm-cov report "$exe" -instr-profile="$OUT/fuzz.profdata" \
        -ignore-filename-regex="$skip" -show-branch-summary \
        > "$OUT/coverage.txt"
    units=()
    for t in "$cov"/tests/unit/test-*; do
        [ -f "$t" ] && [ -x "$t" ] && units+=(-object "$t")
    done
    llvm-cov report "$exe" "${units[@]}" -instr-profile="$OUT/all.profdata" \
        -ignore-filename-regex="$skip" -show-branch-summary \
        > "$OUT/coverage-all.txt"
    rm -rf "$OUT/coverage-html"
    llvm-cov show "$exe" -instr-profile="$OUT/fuzz.profdata" -format=html \
        -ignore-filename-regex="$skip" -show-branches=count \
        -output-dir="$OUT/coverage-html" 2> /dev/null
    # the lines that never ran: FILE:LINE: SOURCE
    llvm-cov show "$exe" -instr-profile="$OUT/fuzz.profdata" \
        -ignore-filename-regex="$skip" -show-line-counts 2> /dev/null |
        awk '/^\/.*:$/ { n = split(substr($0, 1, length($0) - 1), p, "/");
                         f = p[n - 2] "/" p[n - 1] "/" p[n]; next }
             match($0, /^ *[0-9]+\| *0\|/) {
                 split($0, a, "|"); print f ":" a[1] + 0 ": " \
                     substr($0, RLENGTH + 1) }' > "$OUT/uncovered.txt"
    log "coverage (fuzzing corpus only):"
    tail -n 1 "$OUT/coverage.txt" >&2
    log "coverage (fuzzing corpus + unit tests):"
    tail -n 1 "$OUT/coverage-all.txt" >&2
    log "report: $OUT/coverage.txt, $OUT/coverage-html/index.html," \
        "$OUT/uncovered.txt ($(wc -l < "$OUT/uncovered.txt") lines)"
fi

if [ $FUZZ = 1 ]; then
    total=$(( ${runs_engine:-0} + ${runs_tls:-0} ))
    crashes=$(ls "$OUT/artifacts" | grep -c -v '^$')
    echo "fuzz-long: $total executions (engine ${runs_engine:-0}," \
         "tls ${runs_tls:-0}) in $TIME s, $crashes crash file(s)"
fi
exit $status
