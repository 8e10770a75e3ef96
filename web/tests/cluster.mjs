// The cluster in a browser: two nodes on one anvil, registered in the node registry by two
// orchestrators, node A "far away" (its HTTP behind a proxy that holds every request 150 ms)
// and node B near. A page served by A measures both and listens at B; an orchestrator speaks
// from A's page, to A, and is heard at B through A's relay; A is SIGKILLed mid-slot, the
// speaker's page carries on at B by itself, and the listener hears a gap, not an end. Prints
// the gap and saves screenshots to web/test-results/.
//
//   node tests/cluster.mjs   (needs: cargo build -p assembly-node, npm run build, chromium)

import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  KEYS, cast, children, freePort, launchChromium, localChain, repo, run, target, toneWav, until, walletScript,
} from "./harness.mjs";

const results = join(repo, "web/test-results");
mkdirSync(results, { recursive: true });
const work = mkdtempSync(join(tmpdir(), "assembly-cluster-"));
const started = Date.now();
const step = (what) => console.error(`[cluster ${((Date.now() - started) / 1000).toFixed(1)}s] ${what}`);
const figures = {};
const ORCHESTRATOR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"; // anvil 1
const FAR_MS = 150;

/** A TCP proxy to 127.0.0.1:`port` that holds what the client sends `ms` first: a node far away. */
async function far(port, ms) {
  const listen = await freePort();
  const server = createServer((client) => {
    const upstream = connect(port, "127.0.0.1");
    client.on("data", (d) => setTimeout(() => upstream.writable && upstream.write(d), ms));
    upstream.on("data", (d) => client.writable && client.write(d));
    const end = () => { client.destroy(); upstream.destroy(); };
    for (const s of [client, upstream]) { s.on("close", end); s.on("error", end); }
  });
  await new Promise((ok) => server.listen(listen, "127.0.0.1", ok));
  server.unref();
  return listen;
}

/** Starts a node in work/`name`, known to the world (and the registry) at `url`. */
function startNode(name, chain, { http, udp, url }) {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const node = run(join(target, "debug/assembly-node"), [], {
    ASSEMBLY_NODE_LISTEN: `127.0.0.1:${http}`,
    ASSEMBLY_RPC_URL: chain.ws,
    ASSEMBLY_DEPLOYMENT: chain.deploymentPath,
    ASSEMBLY_DB: join(dir, "node.sqlite"),
    ASSEMBLY_SECRET_FILE: join(dir, "secret"),
    ASSEMBLY_DOMAIN: new URL(url).host,
    ASSEMBLY_PUBLIC_URL: url,
    ASSEMBLY_CONFIRMATIONS: "0",
    ASSEMBLY_MEDIA_BIND: `127.0.0.1:${udp}`,
    ASSEMBLY_WEB_ROOT: join(repo, "web/dist"),
    ASSEMBLY_RECORDINGS: join(dir, "recordings"),
    ASSEMBLY_HLS: join(dir, "hls"),
    ASSEMBLY_PUBLIC_RPC_URL: chain.rpc,
    RUST_LOG: "warn",
  });
  return { node, direct: `http://127.0.0.1:${http}`, url, keyFile: join(dir, "secret.key") };
}

/** The operator registers the node: the node key signs its consent (keyDigest), the operator sends it. */
async function register(chain, operatorKey, n) {
  const registry = chain.deployment.nodeRegistry;
  const key = readFileSync(n.keyFile, "utf8").trim();
  const operator = await cast("wallet", "address", "--private-key", operatorKey);
  const digest = await cast("call", "--rpc-url", chain.rpc, registry, "keyDigest(address)(bytes32)", operator);
  const proof = await cast("wallet", "sign", "--no-hash", "--private-key", key, digest);
  const keyAddress = await cast("wallet", "address", "--private-key", key);
  await cast("send", "--rpc-url", chain.rpc, "--private-key", operatorKey, registry,
    "register(string,address,bytes)", n.url, keyAddress, proof);
}

/** A gauge or counter from a node's /metrics. */
async function metric(base, line) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  return found ? Number(found.slice(line.length + 1)) : undefined;
}

async function main() {
  step("anvil, the contracts and two nodes");
  const chain = await localChain(`cluster-${process.pid}`);
  const [httpA, udpA, httpB, udpB] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const farA = await far(httpA, FAR_MS);
  const a = startNode("a", chain, { http: httpA, udp: udpA, url: `http://127.0.0.1:${farA}` });
  const b = startNode("b", chain, { http: httpB, udp: udpB, url: `http://127.0.0.1:${httpB}` });
  for (const n of [a, b]) await until(`node ${n.url}`, async () => (await fetch(`${n.direct}/healthz`)).ok);
  await register(chain, KEYS.orchestrator, a);
  await register(chain, KEYS.second, b);
  for (const n of [a, b]) {
    await until("both members known", async () => {
      const v = await (await fetch(`${n.direct}/api/v1/cluster`)).json();
      return v.nodes.filter((m) => m.member).length === 2;
    });
  }
  const now = Number(await cast("block", "latest", "--field", "timestamp", "--rpc-url", chain.rpc));
  await cast("send", "--rpc-url", chain.rpc, "--private-key", KEYS.deployer, chain.deployment.assembly,
    "createSession((uint40,uint40,uint40,uint32,uint32,uint16,uint8,uint8,uint256))",
    `(${now + 1},3600,0,0,60,8,0,0,0)`);
  const session = Number((await cast("call", "--rpc-url", chain.rpc, chain.deployment.assembly, "sessionCount()(uint256)")).split(" ")[0]);

  const mic = join(work, "tone.wav");
  toneWav(mic, 60);
  const browser = await launchChromium(mic);
  const page = async (account) => {
    const ctx = await browser.newContext();
    if (account) await ctx.addInitScript(walletScript(account, chain.rpc));
    await ctx.grantPermissions(["microphone"], { origin: a.url });
    const p = await ctx.newPage();
    p.on("pageerror", (e) => console.error("page error:", e.message));
    await p.goto(`${a.url}/?session=${session}`);
    return p;
  };

  step("a listener on A's page listens at B, the nearer member");
  const listener = await page();
  const order = await until("the page's measure of the members", () =>
    listener.evaluate(() => document.querySelector("assembly-floor")?.listenAt), 15_000);
  figures.members_by_nearness = order;
  if (order[0] !== b.url) throw new Error(`the page ranked the members ${order.join(", ")}; B (${b.url}) is nearer`);
  await listener.locator("assembly-floor").getByRole("button", { name: "Listen" }).click();
  await until("the listener connected at B", async () =>
    (await metric(b.direct, 'assembly_media_peers{direction="listener"}')) === 1, 10_000);
  if ((await metric(a.direct, 'assembly_media_peers{direction="listener"}')) !== 0) throw new Error("the listener is at A");
  const packets = () => listener.evaluate(() => document.querySelector("assembly-floor").listening?.packetsReceived() ?? 0);

  step("an orchestrator speaks from A's page, to A, heard at B");
  const speaker = await page(ORCHESTRATOR);
  await speaker.getByRole("button", { name: "Connect wallet" }).click();
  await speaker.getByRole("button", { name: "Test wallet" }).click();
  await speaker.locator("#account").getByText("orchestrator").waitFor({ timeout: 15_000 });
  await speaker.getByRole("button", { name: "Request the floor" }).click();
  await speaker.getByText("Your microphone is live on the floor.").waitFor({ timeout: 20_000 });
  const before = await packets();
  await until("audio at the listener on B", async () => (await packets()) > before + 100, 10_000);
  if ((await metric(a.direct, 'assembly_media_peers{direction="publisher"}')) < 1) throw new Error("the speaker is not at A");

  step("A dies mid-slot");
  const heard = [];
  const watch = setInterval(async () => {
    const n = await packets().catch(() => undefined);
    if (n !== undefined) heard.push([Date.now(), n]);
  }, 50);
  await new Promise((r) => setTimeout(r, 500));
  a.node.kill("SIGKILL");
  const killed = Date.now();
  const atKill = await packets();
  await until("audio at the listener again, from the speaker now at B", async () => (await packets()) > atKill + 100, 30_000);
  await new Promise((r) => setTimeout(r, 500));
  clearInterval(watch);
  // The gap: the longest stretch between two polls that found new packets.
  const rises = heard.filter(([, n], i) => i > 0 && n > heard[i - 1][1]).map(([t]) => t);
  const gap = Math.max(...rises.slice(1).map((t, i) => t - rises[i]));
  figures.failover_gap_ms = gap;
  figures.failover_heard_after_ms = heard.find(([t, n]) => t > killed && n > atKill)?.[0] - killed;
  await speaker.screenshot({ path: join(results, "cluster-speaker-after-failover.png"), fullPage: true });
  await listener.screenshot({ path: join(results, "cluster-listener.png"), fullPage: true });
  console.log(JSON.stringify({ ok: true, session, ...figures }));
  await browser.close();
}

const watchdog = setTimeout(() => {
  console.error("cluster e2e failed: no progress for 150 s");
  children.forEach((c) => c.kill());
  process.exit(1);
}, 150_000);
watchdog.unref();

main()
  .then(() => children.forEach((c) => c.kill()))
  .catch((e) => {
    console.error("cluster e2e failed:", e.message);
    for (const c of children) {
      const log = c.log().split("\n").slice(-15).join("\n");
      if (log.trim()) console.error(`--- ${c.spawnfile} (last lines)\n${log}`);
    }
    children.forEach((c) => c.kill());
    process.exit(1);
  })
  .finally(() => {
    try { execFileSync("rm", ["-f", join(repo, "deployments", `cluster-${process.pid}.json`)]); } catch {}
  });
