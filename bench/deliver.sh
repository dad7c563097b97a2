#!/bin/sh
# `roost deliver` throughput: N messages delivered one after the other, then
# the same N with P deliver processes at a time (xargs -P), each phase into a
# fresh account of a fresh data dir. Every delivery is a whole process: config,
# roost.db lookup, spooling stdin, store_append (fsync'ed), exit.
#
#   bench/deliver.sh [-n N] [-j P] [-d DIR] [ROOST_BIN]
#
# Defaults: N=500, P=8, DIR=$TMPDIR or /tmp, ROOST_BIN=build/roost. The
# messages come from the same deterministic size mix as deliver_bench (70%
# 2-10 KB, 25% 10-100 KB, 5% 100 KB-2 MB; LF line ends), written to files
# before the clock starts. Needs python3 (stdlib) to make them.
set -eu
N=500
P=8
BASE=${TMPDIR:-/tmp}
while getopts n:j:d: opt; do
	case $opt in
	n) N=$OPTARG ;;
	j) P=$OPTARG ;;
	d) BASE=$OPTARG ;;
	*) echo "usage: $0 [-n N] [-j P] [-d DIR] [ROOST_BIN]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
SRC=$(cd "$(dirname "$0")/.." && pwd)
ROOST=$(realpath "${1:-$SRC/build/roost}")
test -x "$ROOST" || { echo "no roost binary at $ROOST" >&2; exit 1; }

WORK=$(mktemp -d "$BASE/deliver-sh-XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
mkdir "$WORK/msgs"

python3 - "$WORK/msgs" "$N" <<'PY'
import os, random, sys
out, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(20261122)
words = ("the of and to in is it you that was for on are with as they meeting invoice "
         "report budget review deadline attached please regards thanks tomorrow schedule "
         "draft project customer update").split()
total = 0
for i in range(n):
    r = rng.random()
    lo, hi = (2e3, 10e3) if r < 0.70 else (10e3, 100e3) if r < 0.95 else (100e3, 2e6)
    size = int(lo * (hi / lo) ** rng.random())
    head = (f"From: Sender {i % 97} <sender{i % 97}@example.org>\nTo: Alice <alice@example.net>\n"
            f"Subject: benchmark message {i}\nDate: Sun, 22 Nov 2026 10:00:00 +0000\n"
            f"Message-ID: <{i}.{rng.getrandbits(64):016x}@example.org>\nMIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=utf-8\n\n")
    lines, length = [head], len(head)
    while length < size:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(3, 14))) + "\n"
        lines.append(line)
        length += len(line)
    data = "".join(lines).encode()
    total += len(data)
    with open(os.path.join(out, f"{i:06d}.eml"), "wb") as f:
        f.write(data)
with open(os.path.join(out, "..", "total"), "w") as f:
    f.write(str(total))
PY
TOTAL=$(cat "$WORK/total")

setup() { # $1: phase dir
	mkdir -p "$1"
	cat >"$1/roost.conf" <<CONF
[server]
data_dir = $1/data
log_level = warn
[auth]
argon2_iterations = 1
argon2_memory_kib = 64
CONF
	echo "pw-bench-1234" | "$ROOST" user -c "$1/roost.conf" add alice >/dev/null
	# the account is created by its first delivery: not timed
	printf 'Subject: warm-up\n\nx\n' | "$ROOST" deliver -c "$1/roost.conf" -u alice
}

report() { # $1: label, $2: start, $3: end
	awk -v l="$1" -v n="$N" -v b="$TOTAL" -v s="$2" -v e="$3" 'BEGIN {
		t = e - s
		printf "%-22s messages=%d MB=%.1f seconds=%.2f msgs/s=%.0f MB/s=%.1f\n",
		       l, n, b / 1e6, t, n / t, b / 1e6 / t }'
}

echo "deliver.sh: $N messages, $(awk -v b="$TOTAL" 'BEGIN{printf "%.1f", b/1e6}') MB, $ROOST, data under $BASE"

setup "$WORK/seq"
start=$(date +%s.%N)
for f in "$WORK"/msgs/*.eml; do
	"$ROOST" deliver -c "$WORK/seq/roost.conf" -u alice <"$f" ||
		{ echo "deliver failed for $f" >&2; exit 1; }
done
end=$(date +%s.%N)
report "sequential" "$start" "$end"

setup "$WORK/par"
start=$(date +%s.%N)
ls "$WORK"/msgs/*.eml | xargs -P "$P" -I{} sh -c \
	'"$1" deliver -c "$2" -u alice <"$3" || { echo "deliver failed for $3" >&2; exit 255; }' \
	sh "$ROOST" "$WORK/par/roost.conf" {}
end=$(date +%s.%N)
report "parallel ($P processes)" "$start" "$end"

for phase in seq par; do
	got=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from messages").fetchone()[0])' \
		"$WORK/$phase/data/accounts/1/index.db" 2>/dev/null || echo "?")
	[ "$got" = "$((N + 1))" ] || echo "warning: $phase: $got messages stored, expected $((N + 1))" >&2
done
