#!/usr/bin/env python3
"""Pre-publish check against an ``mtqa serve`` instance: a CMS hook runs this before publishing.

    MTQA_TOKEN=... python3 examples/prepublish_webhook.py --url http://127.0.0.1:8081 article.html
    echo '{"title": "...", "html": "<p>...</p>"}' | python3 examples/prepublish_webhook.py --json -

Exit status: 0 publish (verdict pass, or warn unless --fail-on warn), 1 hold (verdict block),
3 mtqa could not answer (network, 5xx after retries; --on-error publish|hold maps it to 0 or 1).
The article is only read, never changed. Standard library only, so any CMS host can run it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request

PUBLISH, HOLD, UNAVAILABLE = 0, 1, 3


def check(url: str, article: dict, token: str | None, timeout: float, retries: int) -> dict:
    """POST the article to /v1/check; retries 503 (saturated or still loading) after Retry-After."""
    body = json.dumps(article).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    for attempt in range(retries + 1):
        request = urllib.request.Request(url.rstrip("/") + "/v1/check", data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            detail = json.loads(exc.read() or b"{}")
            if exc.code == 503 and attempt < retries:
                time.sleep(min(float(exc.headers.get("Retry-After", "1")), 10.0))
                continue
            raise RuntimeError(f"mtqa answered {exc.code}: {detail.get('message', exc.reason)} "
                               f"(request id {detail.get('request_id', '-')})") from None  # fmt: skip
    raise RuntimeError("mtqa stayed saturated")


def read_article(path: str, as_json: bool, html: bool | None, title: str | None) -> dict:
    raw = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    if as_json:
        article = json.loads(raw)
        return {k: article[k] for k in ("id", "title", "text", "html") if article.get(k) is not None}
    is_html = html if html is not None else path.lower().endswith((".html", ".htm")) or raw.lstrip().startswith("<")
    article = {"html" if is_html else "text": raw}
    if title:
        article["title"] = title
    if path != "-":
        article["id"] = os.path.basename(path)
    return article


def summary(document: dict) -> str:
    lines = [f"mtqa verdict: {document['verdict']}"]
    for where, findings in (("", document["findings"]), ("title: ", document.get("title", {}).get("findings", []))):
        for f in findings:
            fix = f" -> {f['suggestions'][0]!r}" if f["suggestions"] else ""
            lines.append(f"  {where}{f['severity']:7} {f['category']:11} {f['text']!r}{fix}  {f['message']}")
    for error in document["errors"]:
        lines.append(f"  (checker {error['checker']} failed: {error['error']}; its findings are missing)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("article", help="article file, or - for standard input")
    parser.add_argument("--url", default=os.environ.get("MTQA_URL", "http://127.0.0.1:8081"))
    parser.add_argument("--token", default=os.environ.get("MTQA_TOKEN"), help="bearer token (default: $MTQA_TOKEN)")
    parser.add_argument("--json", action="store_true", help='the input is {"title"?, "text"|"html", "id"?}')
    parser.add_argument("--html", action="store_true", default=None, help="the input is HTML (default: guess)")
    parser.add_argument("--title", help="headline, checked too")
    parser.add_argument("--fail-on", choices=["block", "warn"], default="block")
    parser.add_argument("--on-error", choices=["publish", "hold", "exit"], default="exit",
                        help="when mtqa cannot answer: publish (exit 0), hold (exit 1) or exit 3 (default)")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--retries", type=int, default=3)
    args = parser.parse_args(argv)
    article = read_article(args.article, args.json, args.html, args.title)
    try:
        report = check(args.url, article, args.token, args.timeout, args.retries)
    except (RuntimeError, OSError, ValueError) as exc:
        print(f"mtqa unavailable: {exc}", file=sys.stderr)
        return {"publish": PUBLISH, "hold": HOLD, "exit": UNAVAILABLE}[args.on_error]
    document = report["document"]
    print(summary(document))
    held = document["verdict"] == "block" or (args.fail_on == "warn" and document["verdict"] == "warn")
    return HOLD if held else PUBLISH


if __name__ == "__main__":
    sys.exit(main())
