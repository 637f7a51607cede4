#!/bin/sh
# fx_rates: "fetches" today's exchange rates. The API is a file shipped with the example,
# and it is flaky on purpose: the first attempt fails the way a real upstream does (HTTP
# 503), so a run shows Baton's retry. The flow gives this task `retries: 2`; set
# FX_FAILURES=3 to see what happens when retries run out, FX_FAILURES=0 for no drama.
#
#   usage: sh scripts/fx-rates.sh [RATES.json]     (default data/fx-rates.json)
set -eu

rates=${1:-data/fx-rates.json}
attempt=${BATON_ATTEMPT:-1}
failures=${FX_FAILURES:-1}
: "${BATON_OUTPUT:?not set: run this through baton, or point BATON_OUTPUT at a file}"

echo "fx_rates: attempt $attempt: GET https://fx.example.invalid/latest?base=USD"
if [ "$attempt" -le "$failures" ]; then
  echo "fx_rates: upstream answered HTTP 503 Service Unavailable (simulated: this example's" >&2
  echo "fx_rates: API fails the first $failures attempt(s)); exit 1: Baton retries while retries are left" >&2
  exit 1
fi
[ -r "$rates" ] || { echo "fx_rates: cannot read $rates" >&2; exit 1; }

# One JSON line for the contract: the shipped file is pretty-printed, so join its lines
# (its strings hold no newlines, so the JSON stays valid).
body=$(tr -d '\r\n' <"$rates")
printf '{"output": %s}\n' "$body" >>"$BATON_OUTPUT"
echo "fx_rates: HTTP 200, rates as of $(sed -n 's/.*"as_of": *"\([^"]*\)".*/\1/p' "$rates")"
