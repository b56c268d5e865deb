#!/usr/bin/env bash
# scripts/sluice-certs.sh (interface.md section 9): into an empty folder it
# makes a CA, the daemons' certificate and one client certificate per CN,
# all verifying against the CA; the daemon's has EKU serverAuth and
# clientAuth and names localhost, this host's names and every address
# (127.0.0.1, ::1, hostname -I) as IP and as DNS entries (mbedTLS matches
# DNS names only), and each --host; a client's has EKU clientAuth only (so it
# never passes as a daemon's). Keys are mode 0600. A second run reuses the
# CA (same fingerprint), keeps the daemon's certificate and adds a new CN;
# --force makes the daemon's again, never the CA. Bad arguments exit 2 and
# make nothing; a folder with half a CA is refused (exit 1), untouched. A
# second folder gets a CA of its own, whose certificates do not verify
# against the first.
. "$(dirname "$0")/lib.sh"

certs="$SL_SCRIPTS/sluice-certs.sh"
[ -x "$certs" ] || fail "$certs is missing or not executable"
dir="$SL_TMP/certs"

# fp FILE: the SHA-256 fingerprint of a certificate.
fp() {
    openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/^.*=//'
}

# ext FILE: the extendedKeyUsage and subjectAltName of a certificate.
ext() {
    openssl x509 -in "$1" -noout -ext extendedKeyUsage,subjectAltName
}

# mode FILE: octal permission bits.
mode() {
    stat -c %a "$1"
}

# ------------------------------------------------------------ first run
sl_run "$certs" "$dir" --host extra.example.org --host 10.9.8.7 alice
assert_eq 0 "$SL_RC" "exit code of the first run (stderr: $SL_ERR)"
echo "$SL_OUT"
for f in ca daemon alice; do
    [ -s "$dir/$f.pem" ] || fail "$dir/$f.pem was not made; output:"$'\n'"$SL_OUT"
    [ -s "$dir/$f.key" ] || fail "$dir/$f.key was not made"
    assert_eq 600 "$(mode "$dir/$f.key")" "mode of $f.key"
    assert_contains "$SL_OUT" "$dir/$f.pem" "output of the first run"
done
sl_run openssl verify -CAfile "$dir/ca.pem" "$dir/daemon.pem" "$dir/alice.pem"
assert_eq 0 "$SL_RC" "openssl verify of daemon.pem and alice.pem: $SL_OUT $SL_ERR"
assert_contains "$SL_OUT" "$dir/daemon.pem: OK"
assert_contains "$SL_OUT" "$dir/alice.pem: OK"
openssl x509 -in "$dir/ca.pem" -noout -ext basicConstraints | grep -q 'CA:TRUE' || fail "ca.pem is not a CA certificate"
openssl rsa -in "$dir/daemon.key" -noout -text 2>/dev/null | grep -q 'Private-Key: (2048 bit' || fail "daemon.key is not RSA 2048"
openssl rsa -in "$dir/alice.key" -noout -text 2>/dev/null | grep -q 'Private-Key: (2048 bit' || fail "alice.key is not RSA 2048"

d="$(ext "$dir/daemon.pem")"
echo "daemon.pem: $d"
assert_match "$(openssl x509 -in "$dir/daemon.pem" -noout -subject)" 'CN ?= ?sluice-daemon' "subject of daemon.pem"
assert_contains "$d" "TLS Web Server Authentication" "EKU of daemon.pem"
assert_contains "$d" "TLS Web Client Authentication" "EKU of daemon.pem"
san="$(grep -A1 'Subject Alternative Name' <<<"$d" | tail -n 1)"
# san_has ENTRY: the SAN line lists ENTRY (as openssl prints it).
san_has() {
    grep -qE "(^|,)$(sed 's/[.]/[.]/g' <<<"$1")(,|$)" <<<"${san// /}" || fail "subjectAltName of daemon.pem lacks $1: $san"
}
san="${san#"${san%%[![:space:]]*}"}"
san="${san//IP Address:/IP:}"
for e in DNS:localhost IP:127.0.0.1 DNS:127.0.0.1 IP:0:0:0:0:0:0:0:1 DNS:::1 DNS:extra.example.org \
    IP:10.9.8.7 DNS:10.9.8.7 "DNS:$(hostname)"; do
    san_has "$e"
done
if [ "$(hostname -f 2>/dev/null || hostname)" != "$(hostname)" ]; then san_has "DNS:$(hostname -f)"; fi
for a in $(hostname -I 2>/dev/null || true); do
    san_has "DNS:$a"
    if [[ "$a" == *:* ]]; then
        # openssl prints IPv6 addresses expanded and upper case
        grep -qE "(^|,)IP:[0-9A-F]+:[0-9A-F:]+(,|$)" <<<"${san// /}" || fail "no IPv6 IP entry for $a in $san"
    else
        san_has "IP:$a"
    fi
done

c="$(ext "$dir/alice.pem")"
echo "alice.pem: $c"
assert_match "$(openssl x509 -in "$dir/alice.pem" -noout -subject)" 'CN ?= ?alice$' "subject of alice.pem"
assert_contains "$c" "TLS Web Client Authentication" "EKU of alice.pem"
assert_not_contains "$c" "TLS Web Server Authentication" "EKU of alice.pem (a client must never pass as a daemon)"
# openssl agrees: alice's certificate is no server certificate, the daemon's is.
sl_run openssl verify -purpose sslserver -CAfile "$dir/ca.pem" "$dir/alice.pem"
[ "$SL_RC" -ne 0 ] || fail "alice.pem verifies for purpose sslserver: $SL_OUT"
sl_run openssl verify -purpose sslserver -CAfile "$dir/ca.pem" "$dir/daemon.pem"
assert_eq 0 "$SL_RC" "openssl verify -purpose sslserver daemon.pem: $SL_OUT $SL_ERR"
sl_run openssl verify -purpose sslclient -CAfile "$dir/ca.pem" "$dir/alice.pem"
assert_eq 0 "$SL_RC" "openssl verify -purpose sslclient alice.pem: $SL_OUT $SL_ERR"

# ----------------------------------------------------------- second run
ca_fp="$(fp "$dir/ca.pem")"
ca_key_sum="$(sha256sum <"$dir/ca.key")"
daemon_fp="$(fp "$dir/daemon.pem")"
alice_fp="$(fp "$dir/alice.pem")"
sl_run "$certs" "$dir" alice bob
assert_eq 0 "$SL_RC" "exit code of the second run (stderr: $SL_ERR)"
echo "$SL_OUT"
assert_contains "$SL_OUT" "reusing the CA" "output of the second run"
assert_eq "$ca_fp" "$(fp "$dir/ca.pem")" "CA fingerprint after the second run"
assert_eq "$ca_key_sum" "$(sha256sum <"$dir/ca.key")" "ca.key after the second run"
assert_eq "$daemon_fp" "$(fp "$dir/daemon.pem")" "daemon.pem fingerprint after the second run (kept)"
assert_eq "$alice_fp" "$(fp "$dir/alice.pem")" "alice.pem fingerprint after the second run (kept)"
[ -s "$dir/bob.pem" ] && [ -s "$dir/bob.key" ] || fail "the second run did not make bob.pem/bob.key: $SL_OUT"
assert_eq 600 "$(mode "$dir/bob.key")" "mode of bob.key"
sl_run openssl verify -CAfile "$dir/ca.pem" "$dir/bob.pem"
assert_eq 0 "$SL_RC" "openssl verify bob.pem: $SL_OUT $SL_ERR"

# --force makes the daemon's certificate again, with the same CA.
sl_run "$certs" "$dir" --force
assert_eq 0 "$SL_RC" "exit code of the --force run (stderr: $SL_ERR)"
assert_eq "$ca_fp" "$(fp "$dir/ca.pem")" "CA fingerprint after --force"
[ "$daemon_fp" != "$(fp "$dir/daemon.pem")" ] || fail "--force kept daemon.pem"
sl_run openssl verify -CAfile "$dir/ca.pem" "$dir/daemon.pem"
assert_eq 0 "$SL_RC" "openssl verify of the new daemon.pem: $SL_OUT $SL_ERR"
assert_eq "$alice_fp" "$(fp "$dir/alice.pem")" "alice.pem after --force without naming alice"

# ---------------------------------------------------------- bad arguments
before="$(ls -A "$dir" | LC_ALL=C sort)"
long="$(printf 'x%.0s' $(seq 1 65))"
for bad in "a b" "a/b" "" "$long" ca daemon $'caf\xc3\xa9' 'a;b' '$x'; do
    sl_run "$certs" "$dir" -- "$bad"
    assert_eq 2 "$SL_RC" "exit code for the bad CN '$bad' (stdout: $SL_OUT)"
    assert_contains "$SL_ERR" "usage:" "stderr for the bad CN '$bad'"
done
sl_run "$certs" "$dir" "bad cn"
assert_eq 2 "$SL_RC" "exit code for the bad CN 'bad cn'"
assert_contains "$SL_ERR" "CN 'bad cn'" "stderr for the bad CN"
sl_run "$certs"
assert_eq 2 "$SL_RC" "exit code without DIR"
sl_run "$certs" "$dir" --frobnicate
assert_eq 2 "$SL_RC" "exit code for an unknown option"
sl_run "$certs" "$dir" --days 0
assert_eq 2 "$SL_RC" "exit code for --days 0"
sl_run "$certs" "$dir" --host 'a,DNS:evil'
assert_eq 2 "$SL_RC" "exit code for a --host with a comma"
sl_run "$certs" "$dir" --host
assert_eq 2 "$SL_RC" "exit code for --host without NAME"
assert_eq "$before" "$(ls -A "$dir" | LC_ALL=C sort)" "files of $dir after the refused runs"
assert_eq "$ca_fp" "$(fp "$dir/ca.pem")" "CA fingerprint after the refused runs"
sl_run "$certs" --help
assert_eq 0 "$SL_RC" "exit code of --help"
assert_contains "$SL_ERR$SL_OUT" "usage:" "--help"

# ------------------------------------------------------------ half a CA
half="$SL_TMP/half"
mkdir -p "$half"
cp "$dir/ca.pem" "$half/ca.pem"
sl_run "$certs" "$half" alice
assert_eq 1 "$SL_RC" "exit code with ca.pem but no ca.key"
assert_contains "$SL_ERR" "only one of ca.pem and ca.key" "stderr with half a CA"
[ ! -e "$half/ca.key" ] && [ ! -e "$half/alice.pem" ] || fail "the refused run wrote into $half: $(ls -A "$half")"
assert_eq "$ca_fp" "$(fp "$half/ca.pem")" "ca.pem of the half-CA folder"
# A key that is not the certificate's is refused too.
cp "$dir/daemon.key" "$half/ca.key"
sl_run "$certs" "$half" alice
assert_eq 1 "$SL_RC" "exit code with a ca.key that is not ca.pem's"
[ ! -e "$half/alice.pem" ] || fail "the refused run made $half/alice.pem"

# ------------------------------------------------------------ another CA
other="$SL_TMP/other"
sl_run "$certs" "$other" alice
assert_eq 0 "$SL_RC" "exit code for the other folder (stderr: $SL_ERR)"
[ "$ca_fp" != "$(fp "$other/ca.pem")" ] || fail "the other folder got the same CA"
sl_run openssl verify -CAfile "$dir/ca.pem" "$other/daemon.pem"
[ "$SL_RC" -ne 0 ] || fail "the other CA's daemon.pem verifies against the first CA: $SL_OUT"
sl_run openssl verify -CAfile "$dir/ca.pem" "$other/alice.pem"
[ "$SL_RC" -ne 0 ] || fail "the other CA's alice.pem verifies against the first CA: $SL_OUT"
# A stale certificate of another CA in DIR is made again, not kept.
cp "$other/daemon.pem" "$dir/daemon.pem"
cp "$other/daemon.key" "$dir/daemon.key"
sl_run "$certs" "$dir"
assert_eq 0 "$SL_RC" "exit code with a foreign daemon.pem in DIR (stderr: $SL_ERR)"
sl_run openssl verify -CAfile "$dir/ca.pem" "$dir/daemon.pem"
assert_eq 0 "$SL_RC" "daemon.pem made again after a foreign one: $SL_OUT $SL_ERR"
echo "ok"
