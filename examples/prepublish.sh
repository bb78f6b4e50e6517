#!/usr/bin/env bash
# Pre-publish check with curl: exit 0 publish, 1 hold (verdict block), 3 mtqa could not answer.
#   MTQA_URL=http://127.0.0.1:8081 MTQA_TOKEN=... examples/prepublish.sh article.html
# Needs curl and python3 (to build and read the JSON safely; jq works as well).
set -euo pipefail
article=${1:?usage: prepublish.sh ARTICLE_FILE}
url=${MTQA_URL:-http://127.0.0.1:8081}
field=text
case "$article" in *.html|*.htm) field=html ;; esac

body=$(python3 -c 'import json,sys; print(json.dumps({sys.argv[1]: open(sys.argv[2], encoding="utf-8").read()}))' "$field" "$article")
auth=()
[ -n "${MTQA_TOKEN:-}" ] && auth=(-H "Authorization: Bearer ${MTQA_TOKEN}")

# --retry retries 503 (saturated or loading), honouring Retry-After; -f turns 4xx/5xx into failure.
if ! report=$(curl -sS -f --retry 3 --max-time 60 "${auth[@]}" -H 'Content-Type: application/json' \
        --data-binary "$body" "$url/v1/check"); then
    echo "mtqa unavailable" >&2
    exit 3
fi
verdict=$(printf '%s' "$report" | python3 -c 'import json,sys; print(json.load(sys.stdin)["document"]["verdict"])')
echo "mtqa verdict: $verdict"
[ "$verdict" = block ] && exit 1
exit 0
