#!/bin/bash
# The official Dify Node SDK (npm dify-client, pinned in tests/sdk) runs
# its completion, chat, conversation and message calls unchanged.
. "$(dirname "$0")/../lib.sh"
plan 15
SDK="$ROOT/tests/sdk"
# installed by make test (npm ci in tests/sdk): a test fetches nothing
if [ ! -d "$SDK/node_modules/dify-client" ]; then
	not_ok "the dify-client SDK is installed in tests/sdk (make test, or npm ci there)"
	exit 1
fi
start_fake_upstream
start_server
read -r A KA <<<"$(new_app completion --provider fake --model echo \
    --pre-prompt "About {{topic}}" --input text-input:topic:Topic:required)"
read -r B KB <<<"$(new_app chat --provider fake --model echo)"
node "$SDK/sdk.test.mjs" "$BASE/v1" "$KA" "$KB"
