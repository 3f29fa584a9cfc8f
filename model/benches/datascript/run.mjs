// Runs model's transact benchmark and the same workload on Datascript
// (npm `datascript`), then prints a side-by-side table and one JSON line.
//   npm install && node run.mjs [datoms]        (default 1,000,000)
// ACCRETE_CARGO_DIR sets the directory cargo runs in (default: the model crate).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";

const datoms = process.argv[2] ?? "1000000";
const here = path.dirname(fileURLToPath(import.meta.url));
const cargoDir = process.env.ACCRETE_CARGO_DIR ?? path.resolve(here, "../..");

function run(cmd, args, cwd) {
  const out = spawnSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 26 });
  if (out.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed with status ${out.status}`);
  return out.stdout.trim().split("\n");
}

const rustLines = run("cargo", ["bench", "-p", "model", "--bench", "transact", "--", "--datoms", datoms], cargoDir);
const model = JSON.parse(rustLines.find((l) => l.startsWith('{"model"'))).model;
const datascript = ["tx10", "batch10k"].map((mode) =>
  JSON.parse(run("node", ["--expose-gc", "--max-old-space-size=16384", "bench.mjs", mode, datoms], here).at(-1)),
);

const ratio = (a, b) => (b ? +(a / b).toFixed(2) : null);
const rows = model.map((m, i) => {
  const d = datascript[i];
  return {
    mode: m.mode,
    model_datoms_per_s: m.datoms_per_s,
    datascript_datoms_per_s: d.datoms_per_s,
    speed_ratio: ratio(m.datoms_per_s, d.datoms_per_s),
    model_mib_per_million: m.rss_mib_per_million,
    datascript_mib_per_million: d.rss_mib_per_million,
    memory_ratio: ratio(m.rss_mib_per_million, d.rss_mib_per_million),
  };
});
const scanModel = model.find((m) => m.scan_datoms_per_s);
const scanDs = datascript.find((d) => d.scan_datoms_per_s);
rows.push({
  mode: "scan eavt",
  model_datoms_per_s: scanModel.scan_datoms_per_s,
  datascript_datoms_per_s: scanDs.scan_datoms_per_s,
  speed_ratio: ratio(scanModel.scan_datoms_per_s, scanDs.scan_datoms_per_s),
});

console.log(`transact ${datoms} datoms (5 attributes per entity, one unique identity), model vs Datascript ${"1.8.1"}`);
const pad = (v, n) => String(v ?? "").padStart(n);
console.log(["mode".padEnd(10), pad("model dat/s", 12), pad("DS dat/s", 10), pad("speed x", 8), pad("model MiB/M", 12), pad("DS MiB/M", 9), pad("mem x", 6)].join(" "));
for (const r of rows) {
  console.log([r.mode.padEnd(10), pad(r.model_datoms_per_s, 12), pad(r.datascript_datoms_per_s, 10), pad(r.speed_ratio, 8),
    pad(r.model_mib_per_million, 12), pad(r.datascript_mib_per_million, 9), pad(r.memory_ratio, 6)].join(" "));
}
console.log(JSON.stringify({ datoms: Number(datoms), model, datascript, comparison: rows }));
