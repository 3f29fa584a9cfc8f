"""Drives `accrete serve` with Python's standard library (urllib): every row
of a table of requests, in the format each row names, checking the status
and what the answer must contain; then reads report events from a stream.

Usage: python3 drive.py TABLE.json
TABLE: {"base": URL, "token": str|null, "rows": [{"method", "path",
        "content_type", "accept", "body", "status", "expect": [substrings]}],
        "stream": {"path", "events"}}
"""
import json
import sys
import urllib.error
import urllib.request

table = json.load(open(sys.argv[1]))
base = table["base"]
failures = []
for row in table["rows"]:
    data = row["body"].encode() if row["body"] is not None else None
    req = urllib.request.Request(base + row["path"], data=data, method=row["method"])
    if row["content_type"]:
        req.add_header("Content-Type", row["content_type"])
    if row["accept"]:
        req.add_header("Accept", row["accept"])
    if table.get("token"):
        req.add_header("Authorization", "Bearer " + table["token"])
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, text, ctype = resp.status, resp.read().decode(), resp.headers["Content-Type"]
    except urllib.error.HTTPError as e:
        status, text, ctype = e.code, e.read().decode(), e.headers["Content-Type"]
    where = f"{row['method']} {row['path']} ({row['content_type']} -> {row['accept']})"
    if status != row["status"]:
        failures.append(f"{where}: status {status}, expected {row['status']}: {text[:300]}")
        continue
    if row["accept"] and not ctype.startswith(row["accept"]):
        failures.append(f"{where}: Content-Type {ctype}")
    if row["accept"] == "application/json":
        json.loads(text)  # the answer is JSON
    for expected in row["expect"]:
        if expected not in text:
            failures.append(f"{where}: {expected!r} not in {text[:300]}")

stream = table.get("stream")
if stream:
    req = urllib.request.Request(base + stream["path"])
    if table.get("token"):
        req.add_header("Authorization", "Bearer " + table["token"])
    ids = []
    with urllib.request.urlopen(req, timeout=30) as resp:
        for line in resp:
            line = line.decode().rstrip("\n")
            if line.startswith("id: "):
                ids.append(int(line[4:]))
            if line.startswith("data: ") and ids:
                json.loads(line[6:])
                if len(ids) == len(stream["events"]):
                    break
    if ids != stream["events"]:
        failures.append(f"stream {stream['path']}: ids {ids}, expected {stream['events']}")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"{len(table['rows'])} requests as expected")
