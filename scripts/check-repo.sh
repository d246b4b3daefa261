#!/usr/bin/env bash
# What 'make test' (and so CI) checks of the tree itself: gofmt, go.mod
# tidy, the GitHub Actions files (actionlint), and no built binary committed.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
if out=$(git ls-files -z --cached --others --exclude-standard -- '*.go' | xargs -0 -r gofmt -l) && [ -n "$out" ]; then
  echo "gofmt: these files need formatting (gofmt -w):"; echo "$out"; fail=1
fi
if ! diff=$(go mod tidy -diff 2>&1); then
  echo "go.mod/go.sum are not tidy (run go mod tidy):"; echo "$diff"; fail=1
fi
if git rev-parse --git-dir >/dev/null 2>&1; then
  while IFS= read -r -d '' f; do
    [ -f "$f" ] || continue
    if [ "$(head -c 4 "$f" | od -An -tx1 | tr -d ' \n')" = "7f454c46" ]; then
      case "$f" in *.o) continue ;; esac # BPF objects of tests are ELF too
      echo "a built binary is tracked: $f (git rm --cached it; .gitignore lists build outputs)"; fail=1
    fi
  done < <(git ls-files -z)
fi
# The GitHub Actions workflows and the composite action: actionlint, pinned.
scripts/lint-workflows.sh || fail=1
exit $fail
