#!/usr/bin/env bash
# Run every fuzz target for a bounded time (FUZZ_SECONDS each, default 40)
# on stable (`-s none`), starting from the checked-in seed corpus; fail on
# the first crash, panic or timeout. Prints, per target, what libFuzzer
# reports at the end: runs, execs/s, coverage and corpus size.
#
#   fuzz/run-ci.sh                    # all targets, 40 s each
#   FUZZ_SECONDS=300 fuzz/run-ci.sh two_hosts
#
# New inputs go to fuzz/corpus-work/<target> (not checked in); crashes to
# fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
secs="${FUZZ_SECONDS:-40}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(headers pcap packet_script netif_receive_skb two_hosts)

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
# cargo-fuzz builds in fuzz/target; a CARGO_TARGET_DIR meant for the
# workspace would mix the instrumented build into it.
unset CARGO_TARGET_DIR
cargo fuzz build -s none

summary=()
status=0
for t in "${targets[@]}"; do
  mkdir -p "corpus-work/$t" "corpus/$t"
  log="corpus-work/$t.log"
  start=$SECONDS
  # -timeout: one input running 10 s is a hang; -rss_limit_mb: a leak.
  if cargo fuzz run -s none "$t" "corpus-work/$t" "corpus/$t" -- \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    result=ok
  else
    result=FAILED
    status=1
    grep -a -m1 -A8 -E "panicked|ERROR: libFuzzer|SUMMARY" "$log" || true
    grep -a "Failing input" -A2 "$log" || true
  fi
  done_line=$(grep -a -E "^#[0-9]+[[:space:]]+DONE" "$log" | tail -n 1 || true)
  runs=$(grep -a "stat::number_of_executed_units" "$log" | awk '{print $2}' || true)
  eps=$(grep -a "stat::average_exec_per_sec" "$log" | awk '{print $2}' || true)
  line=$(printf '%-18s %-6s %4ss  runs %-9s execs/s %-7s %s' "$t" "$result" "$((SECONDS - start))" \
    "${runs:-?}" "${eps:-?}" "$(echo "$done_line" | grep -o -E 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' || true)")
  echo "$line"
  summary+=("$line")
  [ $status -eq 0 ] || break
done
echo
echo "fuzz summary (${secs} s per target):"
printf '  %s\n' "${summary[@]}"
exit $status
