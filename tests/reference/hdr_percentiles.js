// The JavaScript port (npm hdr-histogram-js) over the same input as HdrPercentiles.java: one
// base64 V2 compressed histogram per stdin line; prints "total v1 v2 ..." per line.
// Usage: node hdr_percentiles.js 50 99 99.9   (NODE_PATH pointing at a node_modules with the package)
const hdr = require("hdr-histogram-js");
const levels = process.argv.slice(2).map(Number);
const lines = require("fs").readFileSync(0, "utf8").split("\n").filter((l) => l.trim());
const out = [];
for (const line of lines) {
  const h = hdr.decodeFromCompressedBase64(line.trim());
  out.push([h.totalCount, ...levels.map((p) => h.getValueAtPercentile(p))].join(" "));
}
process.stdout.write(out.join("\n") + "\n");
