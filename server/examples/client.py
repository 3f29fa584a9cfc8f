"""A client of `accrete serve` in Python's standard library: JSON over HTTP.

Usage: python3 client.py http://127.0.0.1:4335 shop [TOKEN]

JSON follows accrete's lossless mapping (model/src/json.rs): keywords are
{"~kw": ":a/b"}, sets {"~set": [...]}, uuids {"~uuid": "..."}, and so on;
strings, numbers, booleans, arrays and keyword-keyed maps are plain JSON.
"""
import json
import sys
import urllib.error
import urllib.request
import uuid

BASE, DB = sys.argv[1], sys.argv[2]
TOKEN = sys.argv[3] if len(sys.argv) > 3 else None


def call(endpoint, body):
    req = urllib.request.Request(
        f"{BASE}/dbs/{DB}/{endpoint}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    if TOKEN:
        req.add_header("Authorization", f"Bearer {TOKEN}")
    try:
        with urllib.request.urlopen(req) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as e:
        error = json.load(e)["error"]  # {"kind", "exit-code", "message", ...}
        raise SystemExit(f"{endpoint}: {error['kind']}: {error['message']}")


kw = lambda name: {"~kw": name}

# Schema and data: map forms read naturally, keys are attribute names.
call("transact", {"tx-data": [
    {"db/ident": kw(":book/title"), "db/valueType": kw(":db.type/string"),
     "db/cardinality": kw(":db.cardinality/one"), "db/unique": kw(":db.unique/identity")},
    {"db/ident": kw(":book/year"), "db/valueType": kw(":db.type/long"),
     "db/cardinality": kw(":db.cardinality/one")}]})
tx_id = str(uuid.uuid4())
first = call("transact", {"tx-id": {"~uuid": tx_id},
                          "tx-data": [{"db/id": "b", "book/title": "Dune", "book/year": 1965}]})
# Sending the same tx-id again never commits twice: same t, same tempids.
again = call("transact", {"tx-id": {"~uuid": tx_id},
                          "tx-data": [{"db/id": "b", "book/title": "Dune", "book/year": 1965}]})
assert again["t"] == first["t"], (first, again)

# A query as EDN text, its input as JSON; the answer names its basis t.
found = call("q", {"query": "[:find ?y . :in $ ?title :where [?b :book/title ?title] [?b :book/year ?y]]",
                   "args": ["Dune"], "t": first["t"]})
assert found["result"] == 1965, found
book = call("pull", {"pattern": "[:book/title :book/year]", "eid": "[:book/title \"Dune\"]"})
assert book["result"] == {"book/title": "Dune", "book/year": 1965}, book
print(f"t={first['t']} basis-t={found['basis-t']} year={found['result']} pulled={book['result']}")
