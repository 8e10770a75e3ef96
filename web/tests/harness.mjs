// What the browser tests share: ports, child processes that are killed at the end, waiting,
// `cast`, anvil with Assembly deployed as `script/start` deploys it, the fake microphone and
// the injected test wallet, and Chromium launched to use them.

import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { createServer } from "node:net";
import { readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

export const repo = resolve(import.meta.dirname, "../..");
export const tools = join(repo, "tools/node_modules/.bin");
// As script/env.sh sets it.
export const target = process.env.CARGO_TARGET_DIR ?? join(homedir(), ".cache/assembly/target");
/** Every process `run` started, to be killed when the test ends. */
export const children = [];

export const KEYS = {
  deployer: "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  // anvil's accounts 1 and 2, orchestrators in the demo deployment.
  orchestrator: "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  second: "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
};

export function freePort() {
  return new Promise((ok) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

export function run(cmd, args, env = {}) {
  const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const keep = (d) => (log = (log + d).slice(-20_000));
  p.stdout.on("data", keep);
  p.stderr.on("data", keep);
  p.log = () => log;
  children.push(p);
  return p;
}

export async function until(what, check, within = 20_000, every = 100) {
  const end = Date.now() + within;
  for (;;) {
    const v = await check().catch((e) => {
      if (e.message?.startsWith("request the floor")) throw e;
      return undefined;
    });
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

// Asynchronous, so the event loop keeps draining the children's output while it waits.
export const exec = promisify(execFile);
export async function cast(...args) {
  return (await exec(join(tools, "cast"), args, { encoding: "utf8" })).stdout.trim();
}

/** A 48 kHz mono WAV of a tone: the fake microphone's voice. */
export function toneWav(path, seconds = 30) {
  const rate = 48000;
  const n = rate * seconds;
  const b = Buffer.alloc(44 + n * 2);
  b.write("RIFF", 0); b.writeUInt32LE(36 + n * 2, 4); b.write("WAVE", 8);
  b.write("fmt ", 12); b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24); b.writeUInt32LE(rate * 2, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34);
  b.write("data", 36); b.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), 44 + i * 2);
  writeFileSync(path, b);
}

/** An EIP-1193 wallet for `address`, announced over EIP-6963, forwarding to anvil. */
export function walletScript(address, rpc) {
  return `(() => {
    const address = ${JSON.stringify(address)};
    let id = 0;
    const provider = {
      isAssemblyTestWallet: true,
      async request({ method, params }) {
        if (method === "eth_requestAccounts" || method === "eth_accounts") return [address];
        const r = await fetch(${JSON.stringify(rpc)}, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params: params ?? [] }),
        });
        const body = await r.json();
        if (method === "eth_sendTransaction" || method === "eth_estimateGas") console.log("wallet", method, JSON.stringify(params), JSON.stringify(body.result ?? body.error));
        if (body.error) throw Object.assign(new Error(body.error.message), { code: body.error.code, data: body.error.data });
        return body.result;
      },
      on() {}, removeListener() {},
    };
    window.ethereum = provider;
    const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider", {
      detail: Object.freeze({ info: { uuid: "assembly-test-" + address, name: "Test wallet", icon: "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg'/>", rdns: "test.assembly" }, provider }),
    }));
    window.addEventListener("eip6963:requestProvider", announce);
  })();`;
}

/**
 * anvil on a free port with the deployment `script/start` makes, under the name `name`
 * (deployments/<name>.json, removed by `forget`).
 */
export async function localChain(name) {
  const port = await freePort();
  const rpc = `http://127.0.0.1:${port}`;
  run(join(tools, "anvil"), ["--host", "127.0.0.1", "--port", String(port)]);
  await until("anvil", async () => (await cast("block-number", "--rpc-url", rpc)) !== "");
  await exec(join(tools, "forge"), ["script", "script/Deploy.s.sol:DeployLocal", "--rpc-url", rpc, "--broadcast"], {
    cwd: repo,
    env: { ...process.env, DEPLOYMENT_NAME: name, PATH: `${tools}:${process.env.PATH}` },
  });
  const deploymentPath = join(repo, "deployments", `${name}.json`);
  const deployment = JSON.parse(readFileSync(deploymentPath, "utf8"));
  return { port, rpc, ws: `ws://127.0.0.1:${port}`, deployment, deploymentPath };
}

/** Chromium as the tests run it: headless, its fake microphone playing `mic` (a WAV). */
export function launchChromium(mic) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--no-first-run",
      "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
      "--use-fake-device-for-media-stream", `--use-file-for-fake-audio-capture=${mic}`,
      "--autoplay-policy=no-user-gesture-required"],
  });
}
