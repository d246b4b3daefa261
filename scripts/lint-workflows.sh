#!/usr/bin/env bash
# Lints the GitHub Actions files with actionlint, built once per pinned
# version from the Go module proxy into bin/tools (no network after that):
#   - the workflows, .github/workflows/*.yml;
#   - each local action's metadata, .github/actions/*/action.yml (actionlint
#     reads an action's metadata where a workflow uses it: every action is
#     used from a workflow made for the purpose);
#   - each composite action's steps, which actionlint does not read: they are
#     linted as the steps of a workflow whose inputs are the action's.
# The run: scripts are checked with shellcheck when it is installed.
#
#   scripts/lint-workflows.sh         lint this tree
#   scripts/lint-workflows.sh DIR     lint the .github of the tree at DIR
#
# Exit status 1 when actionlint reports anything.
set -euo pipefail
ACTIONLINT_VERSION=v1.7.12

cd "$(dirname "$0")/.."
root=$(cd "${1:-.}" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 'go run pkg@version' would ask the module proxy at every run.
actionlint=$PWD/bin/tools/actionlint-$ACTIONLINT_VERSION
if [ ! -x "$actionlint" ]; then
  mkdir -p "$tmp/gobin" bin/tools
  GOBIN=$tmp/gobin go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
  mv "$tmp/gobin/actionlint" "$actionlint"
fi

args=(-no-color -pyflakes=)
if ! command -v shellcheck >/dev/null 2>&1; then
  echo "lint-workflows: shellcheck is not installed: run: scripts are not checked" >&2
  args+=(-shellcheck=)
fi
# FILE:LINE:COL: MESSAGE [RULE], a line each.
# shellcheck disable=SC2016 # a Go template, not a shell expansion
args+=(-format '{{range $e := .}}{{$e.Filepath}}:{{$e.Line}}:{{$e.Column}}: {{$e.Message}} [{{$e.Kind}}]\n{{end}}')

fail=0
shopt -s nullglob

# actionlint resolves 'uses: ./.github/actions/...' only in a Git work tree:
# lint a copy of .github in a directory that passes for one, so that a tree
# without .git (an archive, a container's build context) is linted alike.
tree=$tmp/tree
mkdir -p "$tree/.git"
cp -R "$root/.github" "$tree/"
actions=("$tree"/.github/actions/*/action.yml "$tree"/.github/actions/*/action.yaml)
if [ "${#actions[@]}" -gt 0 ]; then
  gen=.github/workflows/zz-local-actions.generated.yml
  {
    echo "on: workflow_dispatch"
    echo "jobs:"
    echo "  uses:"
    echo "    runs-on: ubuntu-latest"
    echo "    steps:"
    for a in "${actions[@]}"; do
      d=${a%/*}
      echo "      - uses: ./${d#"$tree"/}"
    done
  } > "$tree/$gen"
fi
workflows=("$tree"/.github/workflows/*.yml "$tree"/.github/workflows/*.yaml)
if [ "${#workflows[@]}" -gt 0 ]; then
  # actionlint exits 1 when it reports problems, 2 or 3 when it cannot run.
  status=0
  (cd "$tree" && "$actionlint" "${args[@]}" "${workflows[@]#"$tree"/}") > "$tmp/out" || status=$?
  # The generated workflow passes no inputs: a required one is not missing.
  sed "s|$tree/||g" "$tmp/out" | { grep -v "^${gen:-none}:.*missing input " || true; } > "$tmp/shown"
  cat "$tmp/shown"
  if [ "$status" -gt 1 ] || [ -s "$tmp/shown" ]; then fail=1; fi
fi

# A composite action's steps, as the job of a workflow whose
# workflow_dispatch inputs are the action's; the map file takes each line of
# that workflow back to the action's.
for action in "${actions[@]}"; do
  rel=${action#"$tree"/}
  grep -Eq "^  using: *[\"']?composite" "$action" || continue
  rm -rf "$tmp/project"
  mkdir -p "$tmp/project/.git" "$tmp/project/.github/workflows"
  awk -v map="$tmp/map" '
    function out(s, src) { print s; n++; print n, src > map }
    /^[^ #]/ { section = $0; sub(/:.*/, "", section); part = "" }
    /^inputs:/ { out("on:", NR); out("  workflow_dispatch:", NR); out("    inputs:", NR); inputs = 1; next }
    /^runs:/ {
      if (!inputs) out("on: workflow_dispatch", NR)
      out("jobs:", NR); out("  action:", NR); out("    runs-on: ubuntu-latest", NR); out("    steps:", NR); next
    }
    section == "inputs" { out("    " $0, NR); next }
    section == "runs" && /^  [^ #]/ { part = $0; sub(/^ */, "", part); sub(/:.*/, "", part); next }
    section == "runs" && part == "steps" { out("  " $0, NR) }
  ' "$action" > "$tmp/project/.github/workflows/action.yml"
  status=0
  (cd "$tmp/project" && "$actionlint" "${args[@]}" .github/workflows/action.yml) > "$tmp/out" || status=$?
  if [ "$status" -ne 0 ]; then fail=1; fi
  awk -v rel="$rel" '
    NR == FNR { line[$1] = $2; next }
    {
      split($0, p, ":")
      if (p[1] == ".github/workflows/action.yml" && (p[2] in line)) {
        print rel ":" line[p[2]] ":" substr($0, length(p[1]) + length(p[2]) + 3)
      } else print
    }
  ' "$tmp/map" "$tmp/out"
  rm -f "$tmp/map"
done

if [ "$fail" -ne 0 ]; then
  echo "lint-workflows: actionlint found problems in .github (see above)" >&2
fi
exit "$fail"
