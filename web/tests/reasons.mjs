// Checks the web client's wording for the contract's errors (web/src/reasons.json) against
// the contract: every custom error in the ABI the client decodes with (indexer/abi/Assembly.json)
// has wording, no wording names an error the ABI lacks, and each wording is the error's
// NatSpec (its `@notice`, or the `@dev` of errors inherited from OpenZeppelin), cased to
// follow "Failed: " (first letter lower case, no closing full stop). Run after `forge build`.
import { readFileSync } from "node:fs";

const root = new URL("../../", import.meta.url);
const read = (path) => JSON.parse(readFileSync(new URL(path, root), "utf8"));

const abi = read("indexer/abi/Assembly.json").abi;
const reasons = read("web/src/reasons.json");
// forge's parsed `metadata` keeps only the functions' docs; the compiler's own metadata
// (`rawMetadata`) has the errors' too.
const { userdoc, devdoc } = JSON.parse(read("out/Assembly.sol/Assembly.json").rawMetadata).output;

const canonical = (p) =>
  p.type.startsWith("tuple") ? `(${p.components.map(canonical).join(",")})${p.type.slice(5)}` : p.type;
const natspec = (signature) => {
  const text = userdoc.errors?.[signature]?.[0]?.notice ?? devdoc.errors?.[signature]?.[0]?.details;
  return text?.replace(/\s+/g, " ").trim();
};
const asShown = (text) => (text[0].toLowerCase() + text.slice(1)).replace(/\.$/, "");

const problems = [];
const errors = abi.filter((item) => item.type === "error");
for (const error of errors) {
  const signature = `${error.name}(${error.inputs.map(canonical).join(",")})`;
  const doc = natspec(signature);
  const wording = reasons[error.name];
  if (doc === undefined) problems.push(`${signature} has no NatSpec`);
  if (wording === undefined) problems.push(`${error.name} has no wording in web/src/reasons.json`);
  if (doc !== undefined && wording !== undefined && wording !== asShown(doc)) {
    problems.push(`${error.name}: the web client says\n    "${wording}"\n  but its NatSpec says\n    "${asShown(doc)}"`);
  }
}
const names = new Set(errors.map((e) => e.name));
for (const name of Object.keys(reasons)) {
  if (!names.has(name)) problems.push(`web/src/reasons.json words ${name}, which Assembly's ABI does not have`);
}

if (problems.length > 0) {
  console.error(`reasons: ${problems.length} problem(s)\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log(`reasons: all ${errors.length} errors worded as their NatSpec says`);
