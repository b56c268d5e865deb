#!/usr/bin/env bash
# Makes the certificates of a secure Sluice cluster with openssl
# (interface.md section 9):
#
#   scripts/sluice-certs.sh DIR [--host NAME]... [--days N] [--force] [CN...]
#
#   DIR/ca.pem, DIR/ca.key          a CA (RSA 3072); reused when both exist
#   DIR/daemon.pem, DIR/daemon.key  the daemons' certificate (RSA 2048), CN
#                                   sluice-daemon, EKU serverAuth+clientAuth,
#                                   subjectAltName: localhost, this host's
#                                   names (hostname, hostname -f) and every
#                                   address of this host (hostname -I,
#                                   127.0.0.1, ::1) as IP and DNS entries
#                                   (mbedTLS 2.28, nng's TLS stack, matches
#                                   DNS names only), plus each --host NAME
#   DIR/<CN>.pem, DIR/<CN>.key      a client certificate per CN (RSA 2048),
#                                   EKU clientAuth only: it never passes as
#                                   a daemon's (the daemons tell one from
#                                   the other by serverAuth)
#
# Existing daemon and client files are kept (when they verify against the
# CA) unless --force, which makes them again (never the CA). Keys are
# written mode 0600, certificates 0644; every file appears whole (written
# aside, then renamed). --days N [825] is the validity of the certificates
# made; a new CA gets N days, at least 3650. A CN is 1-64 characters of
# A-Z a-z 0-9 . _ - and neither "ca" nor "daemon". Prints one line per file
# made or kept. Exit status: 0 done, 1 an openssl or file error, 2 bad
# arguments.
set -u -o pipefail

prog="$(basename "$0")"
CA_BITS=3072
LEAF_BITS=2048
CA_MIN_DAYS=3650
DEFAULT_DAYS=825
MAX_DAYS=36500
DAEMON_CN=sluice-daemon

usage() {
    cat >&2 <<EOF
usage: $prog DIR [--host NAME]... [--days N] [--force] [CN...]
  makes DIR/ca.pem + DIR/ca.key (reused when present), DIR/daemon.pem +
  DIR/daemon.key (valid for this host's names and addresses and each
  --host NAME) and DIR/<CN>.pem + DIR/<CN>.key for each client CN.
  --host NAME  another DNS name or IP address of the daemons (repeatable)
  --days N     validity of the certificates made [$DEFAULT_DAYS]
  --force      make the daemon and the named client certificates again
  CN           1-64 characters of A-Z a-z 0-9 . _ -, not "ca" or "daemon"
EOF
}

die_usage() {
    echo "$prog: $*" >&2
    usage
    exit 2
}

die() {
    echo "$prog: $*" >&2
    exit 1
}

# ------------------------------------------------------------ arguments

dir=""
days="$DEFAULT_DAYS"
force=0
hosts=()
cns=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        -h | --help)
            usage
            exit 0
            ;;
        --host)
            [ "$#" -ge 2 ] || die_usage "--host needs a NAME"
            hosts+=("$2")
            shift 2
            ;;
        --host=*)
            hosts+=("${1#--host=}")
            shift
            ;;
        --days)
            [ "$#" -ge 2 ] || die_usage "--days needs a number"
            days="$2"
            shift 2
            ;;
        --days=*)
            days="${1#--days=}"
            shift
            ;;
        --force)
            force=1
            shift
            ;;
        --)
            shift
            for a in "$@"; do
                if [ -z "$dir" ]; then dir="$a"; else cns+=("$a"); fi
            done
            break
            ;;
        -*)
            die_usage "unknown option '$1'"
            ;;
        *)
            if [ -z "$dir" ]; then dir="$1"; else cns+=("$1"); fi
            shift
            ;;
    esac
done

[ -n "$dir" ] || die_usage "no DIR given"
if ! [[ "$days" =~ ^[1-9][0-9]{0,4}$ ]] || [ "$days" -gt "$MAX_DAYS" ]; then
    die_usage "--days must be a whole number of days from 1 to $MAX_DAYS, not '$days'"
fi

# An IPv4 or IPv6 address literal (loosely: openssl checks it further).
is_ip() {
    [[ "$1" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || [[ "$1" =~ ^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$ ]]
}

for h in "${hosts[@]}"; do
    if [ "${#h}" -gt 253 ] || ! { [[ "$h" =~ ^(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || is_ip "$h"; }; then
        die_usage "--host '$h' is neither a DNS name nor an IP address"
    fi
done
declare -A seen_cn=()
for cn in "${cns[@]}"; do
    [[ "$cn" =~ ^[A-Za-z0-9._-]{1,64}$ ]] ||
        die_usage "CN '$cn' must be 1-64 characters of A-Z a-z 0-9 . _ -"
    case "$cn" in
        ca | daemon) die_usage "CN '$cn' is reserved (DIR/$cn.pem is the ${cn/ca/CA}'s certificate)" ;;
    esac
    seen_cn[$cn]=1
done

command -v openssl >/dev/null 2>&1 || die "openssl not found (Debian: apt-get install openssl)"

# --------------------------------------------------------------- helpers

umask 077
mkdir -p -- "$dir" || die "cannot create $dir"
if ! [ -d "$dir" ] || ! [ -w "$dir" ]; then die "$dir is not a writable folder"; fi
work="$(mktemp -d "$dir/.sluice-certs.XXXXXX")" || die "cannot create a temp folder in $dir"
trap 'rm -rf -- "$work"' EXIT

# run_openssl WHAT ARGS...: openssl ARGS, its output kept for the error.
run_openssl() {
    local what="$1"
    shift
    if ! openssl "$@" >"$work/openssl.log" 2>&1; then
        cat "$work/openssl.log" >&2
        die "openssl failed to $what"
    fi
}

# new_key FILE BITS: an RSA key (PKCS#8 PEM), mode 0600.
new_key() {
    run_openssl "make an RSA key" genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$2" -out "$1"
    chmod 600 "$1"
}

# serial: 16 random bytes as hex, top bit clear (a positive serial).
serial() {
    local s
    s="$(openssl rand -hex 16)" || die "openssl rand failed"
    printf '0x%x%s' $((0x${s:0:1} & 7)) "${s:1}"
}

# publish TMP FINAL MODE: renames TMP to FINAL (mode MODE).
publish() {
    if ! chmod "$3" "$1" || ! mv -f -- "$1" "$2"; then die "cannot write $2"; fi
}

# same_key CERT KEY: 0 if KEY is the private key of CERT.
same_key() {
    local a b
    a="$(openssl x509 -in "$1" -noout -pubkey 2>/dev/null)" || return 1
    b="$(openssl pkey -in "$2" -pubout 2>/dev/null)" || return 1
    [ -n "$a" ] && [ "$a" = "$b" ]
}

# verifies CERT: 0 if CERT verifies against DIR/ca.pem (and is valid now).
verifies() {
    openssl verify -CAfile "$dir/ca.pem" -- "$1" >/dev/null 2>&1
}

# keep_existing NAME: 0 (and prints "kept") if DIR/NAME.pem and .key exist,
# match and verify against the CA, and --force was not given.
keep_existing() {
    local pem="$dir/$1.pem" key="$dir/$1.key"
    [ -e "$pem" ] || [ -e "$key" ] || return 1
    if [ "$force" = 1 ]; then return 1; fi
    if [ -f "$pem" ] && [ -f "$key" ] && same_key "$pem" "$key" && verifies "$pem"; then
        echo "kept $pem and $key (--force makes them again)"
        return 0
    fi
    echo "note: $pem / $key missing, mismatched or not signed by $dir/ca.pem: making them again" >&2
    return 1
}

# ------------------------------------------------------------------- CA

if [ -e "$dir/ca.pem" ] || [ -e "$dir/ca.key" ]; then
    if ! [ -f "$dir/ca.pem" ] || ! [ -f "$dir/ca.key" ]; then
        die "$dir holds only one of ca.pem and ca.key; remove it or restore the other (a CA is never replaced by this script)"
    fi
    same_key "$dir/ca.pem" "$dir/ca.key" || die "$dir/ca.key is not the key of $dir/ca.pem"
    echo "reusing the CA $dir/ca.pem ($(openssl x509 -in "$dir/ca.pem" -noout -subject -nameopt oneline 2>/dev/null))"
else
    ca_days=$((days > CA_MIN_DAYS ? days : CA_MIN_DAYS))
    cat >"$work/ca.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
O = Sluice
CN = Sluice CA $(hostname 2>/dev/null || echo host) $(date -u +%Y%m%dT%H%M%SZ) $(openssl rand -hex 3)
[v3_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
    new_key "$work/ca.key" "$CA_BITS"
    run_openssl "make the CA certificate" req -new -x509 -config "$work/ca.cnf" -key "$work/ca.key" \
        -sha256 -days "$ca_days" -set_serial "$(serial)" -out "$work/ca.pem"
    publish "$work/ca.key" "$dir/ca.key" 600
    publish "$work/ca.pem" "$dir/ca.pem" 644
    echo "made the CA $dir/ca.pem and $dir/ca.key (RSA $CA_BITS, $ca_days days)"
fi

# sign NAME CN EXTENSIONS: a new key and a certificate for CN signed by the
# CA with the [ext] section EXTENSIONS, published as DIR/NAME.pem and .key.
sign() {
    local name="$1" cn="$2"
    printf '[ext]\n%s\n' "$3" >"$work/$name.ext"
    new_key "$work/$name.key" "$LEAF_BITS"
    run_openssl "make the request of $name" req -new -key "$work/$name.key" -subj "/O=Sluice/CN=$cn" \
        -out "$work/$name.csr"
    run_openssl "sign the certificate of $name" x509 -req -in "$work/$name.csr" -CA "$dir/ca.pem" \
        -CAkey "$dir/ca.key" -sha256 -days "$days" -set_serial "$(serial)" \
        -extfile "$work/$name.ext" -extensions ext -out "$work/$name.pem"
    publish "$work/$name.key" "$dir/$name.key" 600
    publish "$work/$name.pem" "$dir/$name.pem" 644
}

# --------------------------------------------------------------- daemon

# This host's addresses: hostname -I (else ip addr), and loopback.
host_addresses() {
    local a
    {
        if hostname -I >/dev/null 2>&1; then
            for a in $(hostname -I); do echo "$a"; done
        elif command -v ip >/dev/null 2>&1; then
            ip -o addr show 2>/dev/null | awk '$3 == "inet" || $3 == "inet6" { sub(/\/.*/, "", $4); print $4 }' |
                grep -v '^fe80:' || true
        fi
        echo 127.0.0.1
        echo ::1
    } | awk 'NF && !seen[$0]++'
}

if ! keep_existing daemon; then
    declare -A san_seen=()
    sans=()
    add_san() {
        [ -z "${san_seen[$1]:-}" ] || return 0
        san_seen[$1]=1
        sans+=("$1")
    }
    add_san DNS:localhost
    short="$(hostname 2>/dev/null || true)"
    full="$(hostname -f 2>/dev/null || true)"
    for n in "$short" "$full"; do
        if [ -n "$n" ] && [[ "$n" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]]; then add_san "DNS:$n"; fi
    done
    while IFS= read -r a; do
        is_ip "$a" || continue
        add_san "IP:$a"
        add_san "DNS:$a"
    done < <(host_addresses)
    for h in "${hosts[@]}"; do
        add_san "DNS:$h"
        if is_ip "$h"; then add_san "IP:$h"; fi
    done
    san_list="$(IFS=,; echo "${sans[*]}")"
    sign daemon "$DAEMON_CN" "basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $san_list"
    echo "made $dir/daemon.pem and $dir/daemon.key (CN $DAEMON_CN, $days days, for ${san_list//,/, })"
fi

# -------------------------------------------------------------- clients

for cn in "${cns[@]}"; do
    [ -n "${seen_cn[$cn]:-}" ] || continue # named twice: once is enough
    unset "seen_cn[$cn]"
    keep_existing "$cn" && continue
    sign "$cn" "$cn" "basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid"
    echo "made $dir/$cn.pem and $dir/$cn.key (client CN $cn, $days days)"
done
