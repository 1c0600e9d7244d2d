#!/usr/bin/env bash
# Regenerates assets/console.png, the README's screenshot, from a real `farmhand demo` session:
# the console runs in a 160x48 tmux pane, its screen (with colours) becomes HTML through `aha`,
# and headless Chromium renders that to PNG. Needs tmux, aha and chromium (Debian packages).
#   assets/make-screenshot.sh [path/to/farmhand]   (default: target/release/farmhand)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/farmhand}
work=$(mktemp -d)
session="farmhand-shot-$$"
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$work"' EXIT

tmux new-session -d -s "$session" -x 160 -y 48 "env TERM=xterm-256color COLORTERM=truecolor $bin demo --log-dir $work"
sleep "${SHOT_WAIT:-20}"                     # let decisions and spend build up
for key in ${SHOT_KEYS:-}; do tmux send-keys -t "$session" "$key"; sleep 1; done
tmux capture-pane -e -p -t "$session" > "$work/console.ansi"
aha --black --title "farmhand console" < "$work/console.ansi" \
  | sed 's|<pre>|<pre style="font-family: DejaVu Sans Mono, monospace; font-size: 14px; line-height: 1.15; margin: 8px;">|' \
  > "$work/console.html"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1370,795 \
  --screenshot="$PWD/assets/console.png" "file://$work/console.html" 2>/dev/null
echo "wrote assets/console.png"
