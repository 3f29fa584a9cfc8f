// Datascript side of model's transact benchmark: the same entities (five
// attributes each, :person/email a unique identity), transacted in
// transactions of 10 datoms or batches of 10,000, then a full :eavt scan.
// Usage: node --expose-gc bench.mjs tx10|batch10k [datoms]
import d from "datascript";

const mode = process.argv[2] ?? "tx10";
const datoms = Number(process.argv[3] ?? 1_000_000);
const perTx = mode === "tx10" ? 10 : 10_000;
const ATTRS = 5;

function entity(i, slot) {
  return {
    ":db/id": -(slot + 1),
    "person/name": `name-${i}`,
    "person/age": i % 100,
    "person/email": `user-${i}@example.com`,
    "person/city": `city-${i % 1000}`,
    "person/score": (i * 7) % 100000,
  };
}

const entities = Math.floor(datoms / ATTRS);
const perTxEntities = Math.max(1, Math.floor(perTx / ATTRS));
const txs = [];
for (let start = 0; start < entities; start += perTxEntities) {
  const tx = [];
  for (let i = start; i < Math.min(entities, start + perTxEntities); i++) tx.push(entity(i, i - start));
  txs.push(tx);
}

const schema = { "person/email": { ":db/unique": ":db.unique/identity" } };
const conn = d.create_conn(schema);
global.gc?.();
const before = process.memoryUsage().rss;
const t0 = process.hrtime.bigint();
for (const tx of txs) d.transact(conn, tx);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
txs.length = 0;
global.gc?.();
const rss = Math.max(0, process.memoryUsage().rss - before);
const db = d.db(conn);
const loaded = d.datoms(db, ":eavt").length;
const result = {
  mode,
  datoms: loaded,
  seconds: +seconds.toFixed(3),
  datoms_per_s: Math.round(loaded / seconds),
  rss_bytes: rss,
  rss_mib_per_million: +(rss / 2 ** 20 / (loaded / 1e6)).toFixed(1),
};
if (mode === "batch10k") {
  const s0 = process.hrtime.bigint();
  let scanned = 0;
  for (const _ of d.datoms(db, ":eavt")) scanned++;
  const scan = Number(process.hrtime.bigint() - s0) / 1e9;
  Object.assign(result, { scan_datoms: scanned, scan_seconds: +scan.toFixed(3), scan_datoms_per_s: Math.round(scanned / scan) });
}
console.log(JSON.stringify(result));
