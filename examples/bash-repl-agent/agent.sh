#!/usr/bin/env bash
# A tiny, deterministic REPL "agent" for benchmarking orchestrators side by side: it
# reads one line, shows `thinking...` for AGENT_DELAY seconds, prints an answer computed
# from the line, and shows its prompt again. No model, no network.
#
#   stats 1 2 3 4 5    mean, median and standard deviation of the numbers
#   sum 1 2 3          their sum
#   upper some text    the text in capitals
#   rm FILE            asks "[y/n]" first (a permission prompt), then pretends
#   fail               prints an ERROR line
#   exit               leaves
# Anything else is echoed back as "you said: ...".
set -u
delay="${AGENT_DELAY:-0.5}"

stats() {
  printf '%s\n' "$@" | sort -g | awk '
    { v[NR] = $1; s += $1 }
    END {
      if (NR == 0) { print "no numbers given"; exit }
      m = s / NR
      for (i = 1; i <= NR; i++) d += (v[i] - m) ^ 2
      med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "mean = %g\nmedian = %g\nstdev = %.4g\n", m, med, sqrt(d / NR)
    }'
}

while IFS= read -r -e -p "agent> " line; do
  [ -z "$line" ] && continue
  read -r cmd rest <<<"$line"
  case "$cmd" in
    exit|/exit|quit) echo "bye"; exit 0 ;;
  esac
  echo "thinking..."
  sleep "$delay"
  case "$cmd" in
    stats) stats $rest ;;
    sum) total=0; for n in $rest; do total=$((total + n)); done; echo "sum = $total" ;;
    upper) echo "${rest^^}" ;;
    rm)
      read -r -p "Really delete $rest? [y/n] " ok
      if [ "$ok" = y ]; then echo "deleted $rest (not really)"; else echo "kept $rest"; fi ;;
    fail) echo "ERROR: asked to fail" ;;
    *) echo "you said: $line" ;;
  esac
done
