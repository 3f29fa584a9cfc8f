// A client of `accrete serve` in JavaScript (Node 18+ or a browser): fetch
// and JSON. Usage: node client.mjs http://127.0.0.1:4335 shop [TOKEN]
//
// JSON follows accrete's lossless mapping (model/src/json.rs): keywords are
// {"~kw": ":a/b"}, sets {"~set": [...]}, and so on.
const [base, db, token] = process.argv.slice(2);

async function call(endpoint, body) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const resp = await fetch(`${base}/dbs/${db}/${endpoint}`, {
    method: "POST", headers, body: JSON.stringify(body),
  });
  const answer = await resp.json();
  if (!resp.ok) throw new Error(`${endpoint}: ${answer.error.kind}: ${answer.error.message}`);
  return answer;
}

const kw = (name) => ({ "~kw": name });
await call("transact", { "tx-data": [
  { "db/ident": kw(":film/title"), "db/valueType": kw(":db.type/string"),
    "db/cardinality": kw(":db.cardinality/one"), "db/unique": kw(":db.unique/identity") },
  { "db/ident": kw(":film/rating"), "db/valueType": kw(":db.type/double"),
    "db/cardinality": kw(":db.cardinality/one") }] });
// A whole number sent as a double must say so: JavaScript prints 8.0 as 8.
const tx = await call("transact", { "tx-data": [{ "db/id": "f", "film/title": "Alien", "film/rating": { "~double": 8 } }] });
const found = await call("q", {
  query: "[:find ?r . :in $ ?t :where [?f :film/title ?t] [?f :film/rating ?r]]",
  args: ["Alien"], t: tx.t,
});
if (found.result !== 8) throw new Error(`expected 8, got ${JSON.stringify(found)}`);
// Speculative: `with` commits nothing.
const spec = await call("with", { "tx-data": [{ "db/id": "g", "film/title": "Heat" }] });
if (spec.committed !== false) throw new Error("with must not commit");
console.log(`t=${tx.t} basis-t=${found["basis-t"]} rating=${found.result} speculative-t=${spec.t}`);
