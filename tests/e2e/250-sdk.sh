#!/bin/bash
# The official Dify Node SDK (npm dify-client, pinned in tests/sdk) runs
# its completion, chat, conversation and message calls unchanged.
. "$(dirname "$0")/../lib.sh"
SDK="$ROOT/tests/sdk"
if [ ! -d "$SDK/node_modules/dify-client" ]; then
	(cd "$SDK" && npm ci --no-audit --no-fund >/dev/null 2>&1) ||
	    { not_ok "npm installs the dify-client SDK"; exit 1; }
fi
start_fake_upstream
start_server
read -r A KA <<<"$(new_app completion --provider fake --model echo \
    --pre-prompt "About {{topic}}" --input text-input:topic:Topic:required)"
read -r B KB <<<"$(new_app chat --provider fake --model echo)"
node "$SDK/sdk.test.mjs" "$BASE/v1" "$KA" "$KB"
