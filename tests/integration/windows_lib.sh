# Shared by the window tests: an event generator and an independent awk
# reference of tumbling, sliding and session windows. Source after lib.sh.

# win_gen FILE N [SEED] [WITH_LATE]: N csv records "ts,user,amount": ts
# rising by 10 ms a record from -N/2*10 on, out of order by up to 200 ms; 20
# users. WITH_LATE, if given, gets the same records plus, after every
# 1000th, one 5 s behind it (amount 1): late for a 500 ms out-of-orderness.
win_gen() {
    LC_ALL=C awk -v n="$2" -v x="${3:-4242}" -v all="${4:-}" '
    BEGIN {
        for (i = 0; i < n; i++) {
            x = (x * 16807) % 2147483647; j = x % 401 - 200
            x = (x * 16807) % 2147483647; u = "u" (x % 20)
            x = (x * 16807) % 2147483647; a = x % 1000 - 300
            ts = (i - int(n / 2)) * 10 + j
            print ts "," u "," a
            if (all == "")
                continue
            print ts "," u "," a > all
            if (i % 1000 == 999) print ts - 5000 "," u ",1" > all
        }
    }' >"$1"
}

# win_ref KIND FILE SIZE [SLIDE]: the windows of FILE's records as the file
# sink writes them (user,start,end,aggregate), sorted. KIND tumble (count),
# slide (sum of amount; SIZE and SLIDE) or session (count; SIZE is the gap).
win_ref() {
    LC_ALL=C awk -F, -v kind="$1" -v Z="$3" -v D="${4:-0}" '
    function fl(t, s) { return t - ((t % s) + s) % s }
    kind == "tumble" { s = fl($1, Z); c[$2 "," s "," s + Z]++ }
    kind == "slide" { for (s = fl($1, D); s > $1 - Z; s -= D) c[$2 "," s "," s + Z] += $3 }
    kind == "session" { print $2, $1 }
    END { for (k in c) print k "," c[k] }' "$2" |
        if [ "$1" = session ]; then
            LC_ALL=C sort -k1,1 -k2,2n | awk -v G="$3" '
            function out() { if (u != "") print u "," s "," e "," n }
            $1 != u || $2 > e { out(); u = $1; s = $2; e = $2 + G; n = 1; next }
            { if ($2 + G > e) e = $2 + G; n++ }
            END { out() }'
        else
            cat
        fi | LC_ALL=C sort
}

# win_check DIR REF: the committed part files of DIR equal REF row for row
# (no hidden file left).
win_check() {
    local dir="$1" ref="$2" parts
    [ -z "$(find "$dir" -mindepth 1 -name '.*' | head -n 3)" ] || fail "$dir: hidden files left"
    mapfile -t parts < <(find "$dir" -type f -name 'part-*' | LC_ALL=C sort)
    [ "${#parts[@]}" -ge 1 ] || fail "no part files in $dir"
    LC_ALL=C sort "${parts[@]}" >"$dir.out"
    if ! diff -u "$ref" "$dir.out" >"$dir.diff"; then
        fail "$dir: windows differ from the reference (- reference, + emitted):"$'\n'"$(head -n 20 "$dir.diff")"
    fi
    echo "$dir: $(wc -l <"$dir.out") windows match the reference"
}
