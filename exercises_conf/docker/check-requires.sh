#!/bin/bash
# Usage: check-requires.sh REQUIRES
# Each line: "command NAME MIN_VERSION VERSION_ARGS..." ("-" = any version) or "file PATH",
# generated from the `requires` of exercises_conf/<language>.yaml.
set -uo pipefail
status=0
while read -r kind name min args; do
  case "$kind" in
    file) [ -e "$name" ] || { echo "missing: $name"; status=1; } ;;
    command)
      if ! command -v "$name" >/dev/null; then echo "missing: $name"; status=1; continue; fi
      [ "$min" = "-" ] && continue
      # shellcheck disable=SC2086
      have=$("$name" $args 2>&1 | grep -oE '[0-9]+(\.[0-9]+)*' | head -1)
      if [ "$(printf '%s\n%s\n' "$min" "$have" | sort -V | head -1)" != "$min" ]; then
        echo "too old: $name $have < $min"; status=1
      else
        echo "ok: $name $have"
      fi ;;
  esac
done < "$1"
exit $status
