#!/usr/bin/env bash
# Makes a bearer token for kessand's --auth_tokens file.
#
#   deploy/auth/make-token.sh NAME ROLES [issuers=ID,...] [concepts=ID,...]
#     prints the token (give it to the client, once) on stdout and the
#     principals file line (holding only its SHA-256) on stderr
#   deploy/auth/make-token.sh --hash TOKEN
#     prints sha256:<hex> of an existing token
#
# ROLES: subscriber, publisher, analyst, admin, comma-separated.
set -euo pipefail

hash() { printf '%s' "$1" | openssl dgst -sha256 -r | cut -d' ' -f1; }

if [ "${1:-}" = "--hash" ]; then
  [ $# -eq 2 ] || { echo "usage: $0 --hash TOKEN" >&2; exit 2; }
  echo "sha256:$(hash "$2")"
  exit 0
fi
if [ $# -lt 2 ]; then
  echo "usage: $0 NAME ROLES [issuers=ID,...] [concepts=ID,...] | $0 --hash TOKEN" >&2
  exit 2
fi
name="$1"
roles="$2"
shift 2
token="$(openssl rand -hex 32)"
echo "$token"
echo "$name $roles sha256:$(hash "$token")${*:+ $*}" >&2
