// Build the front end of `ometiff view` into the Python package (no bundler needed):
// our sources from src/ and OpenSeadragon's distributed build, copied as they are.
import { cpSync, mkdirSync, rmSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "ometiff", "viewer", "static");
const osd = join(here, "node_modules", "openseadragon");

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "vendor", "openseadragon"), { recursive: true });
cpSync(join(here, "src"), out, { recursive: true });
cpSync(join(osd, "build", "openseadragon", "openseadragon.min.js"),
       join(out, "vendor", "openseadragon", "openseadragon.min.js"));
cpSync(join(osd, "build", "openseadragon", "images"),
       join(out, "vendor", "openseadragon", "images"), { recursive: true });
cpSync(join(osd, "LICENSE.txt"), join(out, "vendor", "openseadragon", "LICENSE.txt"));
const version = JSON.parse(readFileSync(join(osd, "package.json"), "utf8")).version;
writeFileSync(join(out, "vendor", "VERSIONS.txt"), `openseadragon ${version}\n`);
console.log(`built ${out}`);
