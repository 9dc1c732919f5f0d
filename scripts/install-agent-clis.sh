#!/usr/bin/env bash
# Install the agent CLIs cao's conformance suite is verified against, at pinned versions,
# into a private npm prefix (never the global one: self-updaters and other projects must
# not see or change them). Idempotent: a CLI already present at its pinned version is
# skipped, so CI can cache the prefix between runs.
#
# Usage: scripts/install-agent-clis.sh [NAME...]     NAME: claude codex gemini opencode qwen copilot
#   CAO_AGENT_CLIS_DIR  install prefix (default ~/.cache/cao/agent-clis)
# Prints the bin directory to put on PATH as its last line.
set -euo pipefail

PREFIX="${CAO_AGENT_CLIS_DIR:-$HOME/.cache/cao/agent-clis}"

# name -> npm package@version (keep in sync with verified_versions in cao/providers/*.py)
declare -A PINS=(
  [claude]="@anthropic-ai/claude-code@2.1.197"
  [codex]="@openai/codex@0.169.0"
  [gemini]="@google/gemini-cli@0.61.0"
  [opencode]="opencode-ai@1.18.33"
  [qwen]="@qwen-code/qwen-code@0.15.10"
  [copilot]="@github/copilot@1.0.102"
)
ORDER=(claude codex gemini opencode qwen copilot)

if ! command -v npm >/dev/null 2>&1; then
  echo "install-agent-clis: npm not found; install Node.js 20+ first (e.g. apt-get install nodejs npm)" >&2
  exit 1
fi

names=("$@")
[ ${#names[@]} -eq 0 ] && names=("${ORDER[@]}")

mkdir -p "$PREFIX"
# Each CLI gets its own sub-prefix so one CLI's dependency tree cannot shadow another's.
for name in "${names[@]}"; do
  spec="${PINS[$name]:-}"
  if [ -z "$spec" ]; then
    echo "install-agent-clis: unknown CLI '$name' (known: ${ORDER[*]})" >&2
    exit 2
  fi
  pkg="${spec%@*}"
  version="${spec##*@}"
  dir="$PREFIX/$name"
  manifest="$dir/node_modules/$pkg/package.json"
  if [ -f "$manifest" ] && grep -q "\"version\": *\"$version\"" "$manifest"; then
    echo "install-agent-clis: $spec already installed"
  else
    echo "install-agent-clis: installing $spec into $dir"
    mkdir -p "$dir"
    # --no-save keeps a package.json from accumulating; --no-audit/--no-fund: no extra traffic.
    # Postinstall scripts that create folders of their own (opencode's) do so under the
    # prefix, not in the user's ~/.config and ~/.local.
    XDG_CONFIG_HOME="$PREFIX/.postinstall/config" XDG_DATA_HOME="$PREFIX/.postinstall/data" \
    XDG_STATE_HOME="$PREFIX/.postinstall/state" \
      npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "$spec" >&2
  fi
done

# One bin directory with a link per CLI, so users add a single entry to PATH.
bin="$PREFIX/bin"
mkdir -p "$bin"
for name in "${ORDER[@]}"; do
  [ -d "$PREFIX/$name/node_modules/.bin" ] || continue
  for exe in "$PREFIX/$name/node_modules/.bin/"*; do
    base="$(basename "$exe")"
    case "$base" in claude|codex|gemini|opencode|qwen|copilot) ln -sfn "$exe" "$bin/$base" ;; esac
  done
done

echo "install-agent-clis: add this to PATH:" >&2
echo "$bin"
