// Datascript side of the query benchmark: loads the people that
// `cargo bench -p query --bench queries -- --dump PATH` wrote, runs the
// same queries with the same inputs, and prints one JSON line with
// p50/p99 latency per query.
// Usage: node bench.mjs PATH [budget-ms]
import fs from "node:fs";
import d from "datascript";

const path = process.argv[2];
const budgetMs = Number(process.argv[3] ?? 2000);
const people = JSON.parse(fs.readFileSync(path, "utf8"));
const n = people.length;

// The same query texts as benches/queries.rs, except that Datascript's JS
// API names attributes with strings ("person/name"), not keywords.
const jsAttrs = (text) => text.replace(/:person\/(\w+)/g, '"person/$1"');
const QUERIES = [
  ["point lookup", "[:find ?e . :in $ ?email :where [?e :person/email ?email]]"],
  ["2-clause join", "[:find ?e ?name :in $ ?age :where [?e :person/age ?age] [?e :person/name ?name]]"],
  ["5-clause join", "[:find ?gname ?gage :in $ ?email :where [?p :person/email ?email] [?p :person/friend ?f] [?f :person/follows ?g] [?g :person/name ?gname] [?g :person/age ?gage]]"],
  ["3-hop friends", "[:find ?f3 :in $ ?email :where [?p :person/email ?email] [?p :person/friend ?f1] [?f1 :person/friend ?f2] [?f2 :person/friend ?f3]]"],
  ["recursive rule", "[:find ?x :in $ % ?email :where [?p :person/email ?email] (follows* ?p ?x)]"],
  ["aggregate", "[:find ?age (count ?e) :where [?e :person/age ?age]]"],
  ["selective join", "[:find ?e ?name ?email ?age :in $ ?city :where [?e :person/city ?city] [?e :person/name ?name] [?e :person/email ?email] [?e :person/age ?age]]"],
  ["selective 2-hop", "[:find ?f ?fname ?fage :in $ ?city :where [?e :person/city ?city] [?e :person/friend ?f] [?f :person/name ?fname] [?f :person/age ?fage]]"],
];
const RULES = jsAttrs("[[(follows* ?a ?b) [?a :person/follows ?b]] [(follows* ?a ?b) [?a :person/follows ?c] (follows* ?c ?b)]]");

const schema = {
  "person/email": { ":db/unique": ":db.unique/identity" },
  // Datascript keeps AVET only for indexed attributes; accrete's AVET
  // covers every attribute, so the selective joins' start is indexed here too.
  "person/city": { ":db/index": true },
  "person/friend": { ":db/valueType": ":db.type/ref", ":db/cardinality": ":db.cardinality/many" },
  "person/follows": { ":db/valueType": ":db.type/ref", ":db/cardinality": ":db.cardinality/many" },
};
const conn = d.create_conn(schema);
const t0 = process.hrtime.bigint();
// Entity i gets id i + 1; references point at ids directly.
d.transact(conn, people.map((p, i) => ({
  ":db/id": i + 1,
  "person/name": p.name,
  "person/email": p.email,
  "person/age": p.age,
  "person/city": p.city,
  "person/friend": p.friends.map((f) => f + 1),
  "person/follows": p.follows.map((f) => f + 1),
})));
const loadSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
const db = d.db(conn);

// How many cities n people live in (benches/queries.rs `cities`).
const cities = Math.max(1, Math.floor(n / 200));

// The inputs of query q for iteration i, as benches/queries.rs makes them.
function inputs(q, i) {
  const person = (i * 7919 + 13) % n;
  const email = `user-${person}@example.com`;
  switch (q) {
    case 0: case 2: case 3: return [db, email];
    case 1: return [db, 18 + (i % 63)];
    case 4: return [db, RULES, email];
    case 6: case 7: return [db, person % cities];
    default: return [db];
  }
}

function size(result) {
  if (result === null || result === undefined) return 0;
  return Array.isArray(result) ? result.length : 1;
}

function measure(once) {
  for (let i = 0; i < 10; i++) once(i);
  const samples = [];
  let rows = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(budgetMs) * 1_000_000n;
  while (samples.length < 20 || (process.hrtime.bigint() - start < budget && samples.length < 20_000)) {
    const t = process.hrtime.bigint();
    rows += once(samples.length);
    samples.push(Number(process.hrtime.bigint() - t) / 1e3);
  }
  samples.sort((a, b) => a - b);
  const at = (p) => samples[Math.round((samples.length - 1) * p)];
  return { p50_us: +at(0.5).toFixed(1), p99_us: +at(0.99).toFixed(1), runs: samples.length, rows_avg: rows / samples.length };
}

// Result sizes of the first iterations, compared with accrete's.
const CHECKS = 20;
const queries = QUERIES.map(([name, text], q) => {
  const once = (i) => size(d.q(jsAttrs(text), ...inputs(q, i)));
  const check_rows = Array.from({ length: CHECKS }, (_, i) => once(i));
  return { query: name, ...measure(once), check_rows };
});
console.log(JSON.stringify({ datascript: { version: "1.8.1", people: n, load_seconds: +loadSeconds.toFixed(2), queries } }));
