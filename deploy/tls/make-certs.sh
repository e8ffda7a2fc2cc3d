#!/usr/bin/env bash
# Makes a local CA, a server certificate for localhost/127.0.0.1/::1 and
# client certificates, for trying kessand with TLS and mTLS. Not for
# production: the CA key sits unencrypted next to the certificates.
#
#   deploy/tls/make-certs.sh [OUT_DIR] [CLIENT_CN...]
#
# OUT_DIR defaults to ./kessan-tls; client CNs default to "reader" and
# "feeder". Writes ca.pem/ca.key, server.pem/server.key and
# <cn>.pem/<cn>.key for each client. Uses Debian's openssl.
set -euo pipefail

out="${1:-kessan-tls}"
shift || true
clients=("$@")
if ((${#clients[@]} == 0)); then clients=(reader feeder); fi
days="${KESSAN_CERT_DAYS:-825}"

mkdir -p "$out"
cd "$out"
umask 077

if [ ! -f ca.pem ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout ca.key -out ca.pem -days "$days" -subj "/CN=Kessan local CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi

# sign NAME CN EXTENSIONS
sign() {
  local name="$1" cn="$2" ext="$3"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$name.key" -out "$name.csr" -subj "/CN=$cn" 2>/dev/null
  printf '%s\n' "$ext" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out "$name.pem" -days "$days" -extfile "$name.ext" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

sign server localhost "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"

for cn in "${clients[@]}"; do
  sign "$cn" "$cn" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
done
chmod 644 ./*.pem
echo "make-certs: CA, server and client certificates (${clients[*]}) in $(pwd)"
