#!/bin/sh
# extract: split the sales export by region, one CSV per region (header kept), under
# out/<run>/raw/. POSIX sh + awk only. Tells Baton the regions it found, which the
# `clean` task fans out over.
#
#   usage: sh scripts/extract.sh [CSV]        (default data/sales.csv)
set -eu

input=${1:-data/sales.csv}
: "${BATON_RUN_ID:?not set: run this through baton, or set BATON_RUN_ID by hand}"
: "${BATON_OUTPUT:?not set: run this through baton, or point BATON_OUTPUT at a file}"
[ -r "$input" ] || { echo "extract: cannot read $input" >&2; exit 1; }

# One directory per run; a run id may hold characters a path should not.
run=$(printf '%s' "$BATON_RUN_ID" | tr -c 'A-Za-z0-9._-' '_')
dir="$(pwd)/out/$run"
raw="$dir/raw"
rm -rf "$raw"
mkdir -p "$raw"

# Region is column 3. Rows whose region is not a plain name are not split (they could not
# be a file name) but counted; every other row, clean or dirty, goes to its region's file
# and is judged by `clean`. awk prints "region<TAB>rows" per region, then "#skipped<TAB>n".
counts=$(awk -F, -v raw="$raw" '
  { sub(/\r$/, "") }
  NR == 1 { header = $0; next }
  $0 == "" { next }
  $3 !~ /^[a-z][a-z0-9_]*$/ { skipped++; next }
  {
    file = raw "/" $3 ".csv"
    if (!($3 in rows)) print header > file
    print > file
    rows[$3]++
  }
  END {
    for (r in rows) printf "%s\t%d\n", r, rows[r]
    printf "#skipped\t%d\n", skipped + 0
  }
' "$input" | LC_ALL=C sort)

regions=""
total=0
skipped=0
echo "extract: $input -> $raw"
printf '  %-20s %8s\n' region rows
tab=$(printf '\t')
while IFS=$tab read -r region n; do
  if [ "$region" = "#skipped" ]; then skipped=$n; continue; fi
  printf '  %-20s %8d\n' "$region" "$n"
  regions="$regions${regions:+, }\"$region\""
  total=$((total + n))
done <<EOF_COUNTS
$counts
EOF_COUNTS
printf '  %-20s %8d\n' total "$total"
[ "$skipped" -eq 0 ] || echo "extract: skipped $skipped rows without a usable region"
[ -n "$regions" ] || { echo "extract: no rows in $input" >&2; exit 1; }

# The task contract: one JSON line appended to $BATON_OUTPUT. Paths are escaped for JSON.
json_dir=$(printf '%s' "$dir" | sed 's/\\/\\\\/g; s/"/\\"/g')
printf '{"output": {"regions": [%s], "rows": %d, "skipped": %d, "dir": "%s"}}\n' \
  "$regions" "$total" "$skipped" "$json_dir" >>"$BATON_OUTPUT"
