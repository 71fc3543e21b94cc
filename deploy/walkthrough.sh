#!/usr/bin/env bash
# The real daemon on one machine, step by step: the reference backend, a dev chain, a key,
# the contracts, the daemon, its readiness, a clean stop. The README shows this file as it is,
# and tests/deploy/test_walkthrough.py runs it. Ports and places are variables with defaults.
set -euo pipefail
export PATH="$PWD/.venv/bin:$PATH"                     # where `make demo` put `oracle`
WORK="${WORK:-var/walkthrough}"; mkdir -p "$WORK"
BACKEND_PORT="${BACKEND_PORT:-8600}" RPC_PORT="${RPC_PORT:-8545}" API_PORT="${API_PORT:-8700}"
pids=(); trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

# 1. The reference backend: 3 weeks of replayed real history, time running 600x faster.
oracle backend serve --port "$BACKEND_PORT" --history-hours 504 --speed 600 --meters 8 \
  > "$WORK/backend.log" 2>&1 & pids+=($!)
# 2. A dev chain (hardhat, from `make test`'s node_modules): funded accounts, chain id 31337.
node_modules/.bin/hardhat node --hostname 127.0.0.1 --port "$RPC_PORT" > "$WORK/chain.log" 2>&1 & pids+=($!)

# 3. Settings: every key can also live in oracle.toml (see oracle.example.toml).
export ORACLE_DATABASE_URL="sqlite:///$WORK/oracle.db" ORACLE_DATA_DIR="$WORK"
export ORACLE_BACKEND__URL="http://127.0.0.1:$BACKEND_PORT" ORACLE_WEATHER__URL="http://127.0.0.1:$BACKEND_PORT"
export ORACLE_CHAIN__RPC_URLS="[\"http://127.0.0.1:$RPC_PORT\"]" ORACLE_CHAIN__KEYSTORE_PATH="$WORK/keystore.json"
export ORACLE_SCHEDULER__CLOCK=backend ORACLE_SCHEDULER__PRICING_EVERY_S=5 ORACLE_API__PORT="$API_PORT"
export ORACLE_KEYSTORE_PASSWORD="${ORACLE_KEYSTORE_PASSWORD:-change-me}"  # or a file in secrets_dir
until curl -fs -o /dev/null -X POST -H 'content-type: application/json' \
  -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "http://127.0.0.1:$RPC_PORT"; do sleep 1; done

# 4. Once: the schema, the signing key, the contracts (each safe to run again).
oracle db upgrade
oracle keys new --if-missing                           # the dev chain funds it at deploy
oracle contracts deploy --if-missing
until curl -fs -o /dev/null "http://127.0.0.1:$BACKEND_PORT/healthz"; do sleep 1; done

# 5. The daemon, then its readiness (database, backend, RPC, a fresh tick).
oracle run > "$WORK/daemon.log" 2>&1 & daemon=$!; pids+=($daemon)
until curl -fs "http://127.0.0.1:$API_PORT/readyz"; do sleep 2; done; echo
until oracle audit list --kind price.round --limit 1 --format jsonl | grep -q price; do sleep 5; done
oracle audit list --kind price.round --limit 3        # the first cleared intervals

# 6. Stop: SIGTERM lets the running job finish; exit code 0.
kill -TERM "$daemon"; wait "$daemon"; echo "daemon stopped: exit $?"
