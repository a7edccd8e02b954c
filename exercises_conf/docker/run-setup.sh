#!/bin/bash
# Runs each language's `setup` snippet (generated into setup/<language>.sh from
# exercises_conf/<language>.yaml) with the environment bin/setup gives it locally.
set -euo pipefail
build=/opt/localcode/build
export LOCALCODE_TOOLS=/opt/localcode/tools
export LOCALCODE_CACHE=/opt/localcode/cache-seed
export LOCALCODE_EXERCISES=$build/exercises
export LOCALCODE_PYTHON=/usr/bin/python3
export HOME=/root
# Every client trusts the system store, host-added CAs included (pip and node bundle their own).
ca=/etc/ssl/certs/ca-certificates.crt
export SSL_CERT_FILE=$ca CURL_CA_BUNDLE=$ca PIP_CERT=$ca NODE_EXTRA_CA_CERTS=$ca CARGO_HTTP_CAINFO=$ca
mkdir -p "$LOCALCODE_TOOLS" "$LOCALCODE_CACHE" /opt/localcode/cache
for script in "$build"/setup/*.sh; do
  echo "== setup: $(basename "$script" .sh)"
  (cd "$LOCALCODE_TOOLS" && bash -euo pipefail "$script")
done
# Read-only for everyone but root; the seed is copied, never written in place.
chmod -R a+rX,go-w /opt/localcode
rm -rf /root/.npm /root/.cache "$build/exercises"
