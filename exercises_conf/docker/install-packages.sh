#!/bin/sh
# Usage: install-packages.sh MIRROR SECURITY_MIRROR LIST...
# Writes apt sources for bookworm (+updates, security, backports) and installs every package of
# the LISTs, whose lines are "RELEASE PACKAGE..." ("-" = the default release; # starts a comment).
set -eu
mirror=$1 security=$2
shift 2
rm -f /etc/apt/sources.list.d/*
cat > /etc/apt/sources.list <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
deb $mirror bookworm-backports main
SOURCES
apt-get update -qq
releases=$(cat "$@" | sed 's/#.*//' | awk 'NF { print $1 }' | sort -u)
for release in $releases; do
  packages=$(cat "$@" | sed 's/#.*//' | awk -v r="$release" '$1 == r { $1 = ""; print }' | tr ' ' '\n' | sort -u | tr '\n' ' ')
  target=""
  [ "$release" = "-" ] || target="-t $release"
  echo "apt-get install $target $packages"
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $target $packages
done
apt-get clean
rm -rf /var/lib/apt/lists/*
