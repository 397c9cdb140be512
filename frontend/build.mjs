// Build the front end of `ometiff view` into the Python package (no bundler needed):
// our page lives in src/ometiff/viewer/static itself (app.js, app.css, index.html);
// this copies OpenSeadragon's distributed build beside it, into static/vendor.
import { cpSync, mkdirSync, rmSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "ometiff", "viewer", "static");
const osd = join(here, "node_modules", "openseadragon");

rmSync(join(out, "vendor"), { recursive: true, force: true });
mkdirSync(join(out, "vendor", "openseadragon"), { recursive: true });
cpSync(join(osd, "build", "openseadragon", "openseadragon.min.js"),
       join(out, "vendor", "openseadragon", "openseadragon.min.js"));
cpSync(join(osd, "build", "openseadragon", "images"),
       join(out, "vendor", "openseadragon", "images"), { recursive: true });
cpSync(join(osd, "LICENSE.txt"), join(out, "vendor", "openseadragon", "LICENSE.txt"));
const version = JSON.parse(readFileSync(join(osd, "package.json"), "utf8")).version;
writeFileSync(join(out, "vendor", "VERSIONS.txt"), `openseadragon ${version}\n`);
console.log(`built ${join(out, "vendor")}`);
