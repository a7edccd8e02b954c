# Sourced by bin/test and bin/bench (from the project root): when LOCALCODE_EXERCISES is unset,
# export it for the first polyglot-benchmark checkout found beside the project, in a shared/
# folder beside it (both as the plugin's default looks), or in /work/shared, where this
# project's build machines keep one, so that a clone anywhere (CI's temp dir) finds it too.
if [ -z "${LOCALCODE_EXERCISES:-}" ]; then
  for candidate in ../polyglot-benchmark ../shared/polyglot-benchmark /work/shared/polyglot-benchmark; do
    if [ -d "$candidate" ]; then
      LOCALCODE_EXERCISES=$(cd "$candidate" && pwd)
      export LOCALCODE_EXERCISES
      break
    fi
  done
fi
