#!/usr/bin/env bash
# A throwaway CA and a server certificate for 127.0.0.1 / localhost, for tests and a local try-out of
# mosquitto.conf's TLS listener. Never for production: the CA key sits next to the certificates.
#
#   server/broker/mosquitto/make-test-ca.sh DIR    → DIR/ca.crt ca.key server.crt server.key
#
# Clients trust DIR/ca.crt (mosquitto_sub --cafile DIR/ca.crt; MQTT.js { ca }); Mosquitto reads
# server.crt and server.key. ECDSA P-256 keys, valid for 2 days.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 DIR   (writes ca.crt, ca.key, server.crt, server.key into DIR)" >&2
  exit 2
fi
command -v openssl >/dev/null || { echo "$0: openssl is not installed" >&2; exit 1; }

dir=$1
mkdir -p "$dir"
umask 077
days=2

openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -keyout "$dir/ca.key" -out "$dir/ca.crt" -days "$days" -subj "/CN=Vicino throwaway test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -keyout "$dir/server.key" -out "$dir/server.csr" -subj "/CN=localhost" 2>/dev/null

cat > "$dir/server.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
EXT
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
  -days "$days" -sha256 -extfile "$dir/server.ext" -out "$dir/server.crt" 2>/dev/null
rm -f "$dir/server.csr" "$dir/server.ext"
# Certificates are public; keys stay 0600.
chmod 644 "$dir/ca.crt" "$dir/server.crt"
echo "$dir: ca.crt ca.key server.crt server.key"
