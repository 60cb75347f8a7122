#!/usr/bin/env bash
# Two commits of jls side by side in one jbench run (a regression check for a refactor):
#   benchmarks/compare_commits.sh BEFORE AFTER [ONLY] [RUNS]
# e.g. benchmarks/compare_commits.sh 518dc23 HEAD execute,iopub,kernel_start,sustained 3
# Each commit is checked out in its own worktree under $TMPDIR and put first on PYTHONPATH;
# jbench starts every server in a fresh temporary root, so neither the working tree nor an
# installed copy is picked up instead. PYTHON is the interpreter that runs both servers (and
# their kernels): give both the same one. The JSON lands in $OUT (default /tmp/jls-compare).
set -euo pipefail
before=${1:?usage: compare_commits.sh BEFORE AFTER [ONLY] [RUNS]}
after=${2:?usage: compare_commits.sh BEFORE AFTER [ONLY] [RUNS]}
only=${3:-execute,iopub,kernel_start,sustained}
runs=${4:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
out=${OUT:-/tmp/jls-compare}
jbench=${JBENCH:-$here/../shared/bench/jbench.py}
mkdir -p "$out"
trees=()
cleanup() { for t in "${trees[@]}"; do git -C "$here" worktree remove --force "$t" || true; done; }
trap cleanup EXIT
for rev in "$before" "$after"; do
  tree=$(mktemp -d "${TMPDIR:-/tmp}/jls-$rev-XXXX")
  git -C "$here" worktree add -q --detach "$tree" "$rev"
  trees+=("$tree")
done
serve='-m jupyter_lite_server serve --ip 127.0.0.1 --port {port} --port-retries 0 --token {token} --root {root}'
cd "$out"
"$python" "$jbench" --runs "$runs" --only "$only" \
  --server-cmd "env PYTHONPATH=${trees[0]} $python $serve" --label "$before" \
  --vs "env PYTHONPATH=${trees[1]} $python $serve" --vs-label "$after" \
  --json "$out/compare-$before-$after.json"
