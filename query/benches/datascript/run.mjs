// Runs the query crate's benchmark and the same queries on Datascript
// (npm `datascript`) over the same generated people, then prints a
// side-by-side table and one JSON line.
//   npm install && node run.mjs [people] [budget-ms]     (defaults 20000, 2000)
// ACCRETE_CARGO_DIR sets the directory cargo runs in (default: the query
// crate); cargo honours CARGO_TARGET_DIR from the environment, e.g.
//   CARGO_TARGET_DIR=/work/target/query node run.mjs
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import os from "node:os";
import path from "node:path";

const people = process.argv[2] ?? "20000";
const budget = process.argv[3] ?? "2000";
const here = path.dirname(fileURLToPath(import.meta.url));
const cargoDir = process.env.ACCRETE_CARGO_DIR ?? path.resolve(here, "../..");
const dump = path.join(os.tmpdir(), `accrete-query-bench-${process.pid}.json`);

function run(cmd, args, cwd) {
  const out = spawnSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 26 });
  if (out.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed with status ${out.status}`);
  return out.stdout.trim().split("\n");
}

const rustLines = run("cargo", ["bench", "-p", "query", "--bench", "queries", "--",
  "--people", people, "--budget-ms", budget, "--dump", dump], cargoDir);
const accrete = JSON.parse(rustLines.find((l) => l.startsWith('{"accrete"'))).accrete;
const datascript = JSON.parse(run("node", ["--max-old-space-size=8192", "bench.mjs", dump, budget], here).at(-1)).datascript;

const ratio = (a, b) => (a && b ? +(a / b).toFixed(2) : null);
const rows = accrete.queries.map((a, i) => {
  const ds = datascript.queries[i];
  const agree = JSON.stringify(a.check_rows) === JSON.stringify(ds.check_rows);
  if (!agree) {
    console.error(`warning: ${a.query} result sizes differ: accrete ${a.check_rows}, Datascript ${ds.check_rows}`);
  }
  return {
    query: a.query,
    accrete_p50_us: +a.p50_us.toFixed(1),
    accrete_indexed_p50_us: +a.indexed_p50_us.toFixed(1),
    accrete_segments_p50_us: +a.segments_p50_us.toFixed(1),
    datascript_p50_us: ds.p50_us,
    speedup: ratio(ds.p50_us, a.p50_us),
    accrete_p99_us: +a.p99_us.toFixed(1),
    datascript_p99_us: ds.p99_us,
    rows: +a.rows_avg.toFixed(1),
    same_results: agree,
  };
});

console.log(`${people} people; p50 latency per query, 1 thread; Datascript ${datascript.version} on Node ${process.version}`);
console.log("speedup = Datascript p50 / accrete p50 (above 1: accrete is faster)");
const pad = (v, n) => String(v ?? "").padStart(n);
console.log(["query".padEnd(16), pad("accrete µs", 11), pad("indexed µs", 11), pad("segments µs", 12), pad("DS µs", 10),
  pad("speedup", 8), pad("acc p99", 9), pad("DS p99", 9), pad("rows", 7)].join(" "));
for (const r of rows) {
  console.log([r.query.padEnd(16), pad(r.accrete_p50_us, 11), pad(r.accrete_indexed_p50_us, 11), pad(r.accrete_segments_p50_us, 12),
    pad(r.datascript_p50_us, 10), pad(r.speedup, 8), pad(r.accrete_p99_us, 9), pad(r.datascript_p99_us, 9), pad(r.rows, 7)].join(" "));
}
console.log(`result sizes of the first ${accrete.queries[0].check_rows.length} runs of each query agree: ${rows.every((r) => r.same_results)}`);
for (const [layer, floor] of Object.entries(accrete.floor)) {
  console.log(`model floor (${layer}): :person/age scan ${floor.scan_age_p50_us.toFixed(1)} µs, one EAVT probe ${floor.eavt_probe_us.toFixed(2)} µs, one AVET probe ${floor.avet_probe_us.toFixed(2)} µs`);
}
console.log(JSON.stringify({ people: Number(people), accrete, datascript, comparison: rows }));
