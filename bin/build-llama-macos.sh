#!/usr/bin/env bash
# macOS (Apple Silicon): build llama-server from source with Metal into .localcode/bin/llama-server,
# where localcode looks for it (after $LLAMA_SERVER, before PATH). On Linux use ./bin/setup instead.
#   bin/build-llama-macos.sh            clone once, build $LLAMA_CPP_REF (default b11434, as bin/setup's build)
#   bin/build-llama-macos.sh --update   fetch and build the newest master
#   bin/build-llama-macos.sh --clean    delete the build directory first (combine with --update if wanted)
# Needs Xcode command line tools (clang, Metal), cmake and git. Stops nothing: a running server keeps
# its old binary until localcode starts the next one.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=${LOCALCODE_HOME:-$PWD/.localcode}
SRC=$STATE/src/llama.cpp
BUILD=$SRC/build-metal
REF=${LLAMA_CPP_REF:-b11434}
UPDATE=""
CLEAN=""
for arg in "$@"; do
  case "$arg" in
    --update) UPDATE=1 ;;
    --clean) CLEAN=1 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "build-llama-macos.sh: unknown option $arg (use --update, --clean)" >&2; exit 2 ;;
  esac
done
say() { echo "[build-llama] $*"; }

if [ "$(uname -s)" != "Darwin" ]; then
  echo "build-llama-macos.sh is for macOS (Metal); on Linux ./bin/setup builds llama-server from PyPI" >&2
  exit 2
fi
for tool in git cmake xcrun; do
  command -v "$tool" >/dev/null 2>&1 || { echo "build-llama-macos.sh: $tool not found (brew install cmake; xcode-select --install)" >&2; exit 2; }
done

if [ ! -d "$SRC/.git" ]; then
  say "cloning ggml-org/llama.cpp into $SRC"
  mkdir -p "$(dirname "$SRC")"
  git clone --filter=blob:none https://github.com/ggml-org/llama.cpp "$SRC"
fi
if [ -n "$UPDATE" ]; then
  say "fetching the newest master"
  git -C "$SRC" fetch --tags origin master
  git -C "$SRC" checkout -q --detach origin/master
else
  if ! git -C "$SRC" rev-parse -q --verify "$REF^{commit}" >/dev/null; then
    git -C "$SRC" fetch --tags origin
  fi
  git -C "$SRC" checkout -q --detach "$REF"
fi
say "source: $(git -C "$SRC" describe --tags --always)"

if [ -n "$CLEAN" ]; then
  say "removing $BUILD"
  rm -rf "$BUILD"
fi
# Static (no dylibs to carry along) with the Metal shaders embedded, so the copied binary runs
# from anywhere; tests, examples and the web UI download are not needed for the harness.
cmake -S "$SRC" -B "$BUILD" \
  -DCMAKE_BUILD_TYPE=Release \
  -DGGML_METAL=ON \
  -DGGML_METAL_EMBED_LIBRARY=ON \
  -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_SERVER=ON
JOBS=$(sysctl -n hw.ncpu 2>/dev/null || echo 4)
say "building llama-server with $JOBS jobs"
cmake --build "$BUILD" --config Release --target llama-server -j "$JOBS"

mkdir -p "$STATE/bin"
install -m 755 "$BUILD/bin/llama-server" "$STATE/bin/llama-server"
say "installed $STATE/bin/llama-server"
"$STATE/bin/llama-server" --version 2>&1 | tail -n 2
