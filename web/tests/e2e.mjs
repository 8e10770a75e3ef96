// End to end in headless Chromium (Debian's, driven by playwright-core) against the real node
// and anvil. Three wallets are injected as EIP-1193 / EIP-6963 providers backed by anvil's
// unlocked accounts, so signatures and transactions are real: an orchestrator requests the
// floor (a real `enqueue`), speaks through Chromium's fake microphone over WHIP; a delegator
// listens over WHEP and its WebRTC stats show audio arriving while the orchestrator holds the
// floor and stopping after the slot ends; the delegator's reaction reaches the speaker's page;
// a stranger is told why they cannot speak; the speakers' audio is signed in the browser and
// the node counts it signed, none altered, nothing refused; the orchestrator corrects the
// transcript of their speech with their wallet's signature. Saves screenshots to
// web/test-results/ and prints page weight, time to first audio and the cost of signing.
//
//   node tests/e2e.mjs   (needs: cargo build -p assembly-node, npm run build, chromium)

import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import {
  KEYS, cast, children, freePort, launchChromium, localChain, repo, run, target, toneWav, until, walletScript,
} from "./harness.mjs";

const results = join(repo, "web/test-results");
mkdirSync(results, { recursive: true });
const work = mkdtempSync(join(tmpdir(), "assembly-e2e-"));
const figures = {};
const started = Date.now();
const step = (what) => console.error(`[e2e ${((Date.now() - started) / 1000).toFixed(1)}s] ${what}`);

const ENS_NAME = "orchestrator-one.eth";
const ACCOUNTS = {
  orchestrator: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", // anvil 1, an active orchestrator
  delegator: "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65", // anvil 4, bonded to an orchestrator
  stranger: "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f", // anvil 8, nothing on chain
  second: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", // anvil 2, another orchestrator
};

/**
 * A React host page on an origin of its own, as Livepeer Explorer would embed the floor:
 * bundled with Vite, rendered on the server with react-dom/server (which must not touch a
 * browser API), hydrated in the browser. Returns its address.
 */
async function reactHost(node, session) {
  const { build } = await import("vite");
  const dir = join(work, "react-host");
  await build({
    configFile: false,
    logLevel: "warn",
    root: join(repo, "web/tests/react-host"),
    build: {
      outDir: dir,
      emptyOutDir: true,
      rollupOptions: { input: join(repo, "web/tests/react-host/client.js"), output: { entryFileNames: "[name].js" } },
    },
  });
  const { renderToString } = await import("react-dom/server");
  const { createElement } = await import("react");
  const { ExplorerStandIn } = await import("./react-host/app.js");
  const props = { node, session };
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Explorer stand-in</title></head><body>`
    + `<div id="root">${renderToString(createElement(ExplorerStandIn, props))}</div>`
    + `<script>window.__HOST__ = ${JSON.stringify(props)}</script><script type="module" src="/client.js"></script></body></html>`;
  if (!html.includes(`<assembly-floor node="${node}" session="${session}">`)) throw new Error(`server render: ${html}`);
  const port = await freePort();
  const server = (await import("node:http")).createServer((req, res) => {
    if (req.url === "/client.js") {
      res.writeHead(200, { "content-type": "text/javascript" }).end(readFileSync(join(dir, "client.js")));
    } else {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html);
    }
  });
  await new Promise((ok) => server.listen(port, "127.0.0.1", ok));
  server.unref();
  return `http://127.0.0.1:${port}/`;
}

/** Presses Tab until the focused control (inside shadow roots too) is named `name`; the presses. */
async function tabTo(p, name) {
  for (let i = 1; i <= 80; i++) {
    await p.keyboard.press("Tab");
    const label = await p.evaluate(() => {
      let a = document.activeElement;
      while (a?.shadowRoot?.activeElement) a = a.shadowRoot.activeElement;
      return (a?.getAttribute("aria-label") ?? a?.textContent ?? "").trim();
    });
    if (name instanceof RegExp ? name.test(label) : label === name) return i;
  }
  throw new Error(`Tab never reached "${name}"`);
}

// axe-core, run in each page as Deque's own checks of WCAG 2.x A and AA.
const axeSource = readFileSync(join(repo, "web/node_modules/axe-core/axe.min.js"), "utf8");
const accessibility = {};
async function axe(p, name) {
  // Evaluated over the DevTools protocol, so the node's Content-Security-Policy (which
  // refuses inline scripts) stays on for everything the page itself runs.
  await p.evaluate(axeSource);
  const found = await p.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
  });
  accessibility[name] = found.length;
  if (found.length) throw new Error(`axe-core on ${name}: ${found.join("; ")}`);
}

/** The node's provenance counters (its /metrics): frames by verdict, refusals by reason. */
async function provenance(base) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const read = (family, label) => Object.fromEntries(
    [...text.matchAll(new RegExp(`^${family}\\{${label}="(\\w+)"\\} (\\d+)$`, "gm"))].map((m) => [m[1], Number(m[2])]));
  const frames = read("assembly_provenance_frames_total", "verdict");
  if (!("signed" in frames)) throw new Error("the node's /metrics has no assembly_provenance_frames_total");
  const refused = Object.fromEntries(Object.entries(read("assembly_provenance_refused_total", "reason")).filter(([, n]) => n > 0));
  return { ...frames, refused };
}

/** Signed, nothing altered, nothing refused (`what`: whose speech, for the message). */
function wellSigned(counts, what) {
  if (!(counts.signed > 0) || counts.altered !== 0 || Object.keys(counts.refused).length > 0) {
    throw new Error(`${what}: the node's provenance counts ${JSON.stringify(counts)} (want signed > 0, none altered, none refused)`);
  }
}

async function main() {
  const [httpPort, udpPort, ipfsPort] = [await freePort(), await freePort(), await freePort()];
  const base = `http://127.0.0.1:${httpPort}`;

  step("anvil and the contracts");
  // Chain and contracts: the same deployment `script/start` makes, under its own name.
  const name = `e2e-${process.pid}`;
  const { rpc, ws, deployment, deploymentPath } = await localChain(name);
  // A session of our own with short slots (room for the timed checks inside one), starting now.
  const SLOT_S = 16;
  const now = Number(await cast("block", "latest", "--field", "timestamp", "--rpc-url", rpc));
  await cast("send", "--rpc-url", rpc, "--private-key", KEYS.deployer, deployment.assembly,
    "createSession((uint40,uint40,uint40,uint32,uint32,uint16,uint8,uint8,uint256))",
    `(${now + 1},3600,0,0,${SLOT_S},8,0,0,0)`);
  const session = Number((await cast("call", "--rpc-url", rpc, deployment.assembly, "sessionCount()(uint256)")).split(" ")[0]);

  // The sample LIP's text, served as script/start serves it (a local IPFS gateway stand-in).
  run("python3", [join(repo, "tools/ipfs/gateway.py"), join(repo, "script/demo"), String(ipfsPort)]);

  step(`session ${session}; starting the node`);
  // ENS on the same anvil (the mocks of contracts/mocks/MockENS.sol): the orchestrator's
  // reverse record names it, forward-confirmed, with an inline avatar.
  const deploy = async (name) => {
    const art = JSON.parse(readFileSync(join(repo, "indexer/abi", `${name}.json`), "utf8"));
    const r = await cast("send", "--rpc-url", rpc, "--private-key", KEYS.deployer, "--json", "--create", art.bytecode.object);
    return JSON.parse(r).contractAddress;
  };
  const ens = await deploy("MockENS");
  const resolver = await deploy("MockENSResolver");
  const ensSend = (to, sig, ...args) => cast("send", "--rpc-url", rpc, "--private-key", KEYS.deployer, to, sig, ...args);
  const reverse = await cast("namehash", `${ACCOUNTS.orchestrator.slice(2).toLowerCase()}.addr.reverse`);
  const forward = await cast("namehash", ENS_NAME);
  await ensSend(ens, "setResolver(bytes32,address)", reverse, resolver);
  await ensSend(resolver, "setName(bytes32,string)", reverse, ENS_NAME);
  await ensSend(ens, "setResolver(bytes32,address)", forward, resolver);
  await ensSend(resolver, "setAddr(bytes32,address)", forward, ACCOUNTS.orchestrator);
  await ensSend(resolver, "setText(bytes32,string,string)", forward, "avatar", "data:image/svg+xml;base64,PHN2ZyB4bWxucz0naHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmcnIHZpZXdCb3g9JzAgMCAxIDEnPjxyZWN0IHdpZHRoPScxJyBoZWlnaHQ9JzEnIGZpbGw9JyMyYTcnLz48L3N2Zz4=");

  // A stand-in transcription server (OpenAI's API, verbose_json): two timed segments for any
  // speech, so the record's transcript can be seen following playback.
  const whisperPort = await freePort();
  (await import("node:http")).createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({
      text: "opening words closing words",
      segments: [{ start: 0, end: 1.0, text: "opening words" }, { start: 1.0, end: 30, text: "closing words" }],
    })));
  }).listen(whisperPort, "127.0.0.1").unref();

  const node = run(join(target, "debug/assembly-node"), [], {
    ASSEMBLY_TRANSCRIBER: `openai:http://127.0.0.1:${whisperPort}`,
    ASSEMBLY_ENS_RPC_URL: rpc,
    ASSEMBLY_ENS_REGISTRY: ens,
    ASSEMBLY_NODE_LISTEN: `127.0.0.1:${httpPort}`,
    ASSEMBLY_RPC_URL: ws,
    ASSEMBLY_DEPLOYMENT: deploymentPath,
    ASSEMBLY_DB: join(work, "node.sqlite"),
    ASSEMBLY_SECRET_FILE: join(work, "node.secret"),
    ASSEMBLY_DOMAIN: `127.0.0.1:${httpPort}`,
    ASSEMBLY_PUBLIC_URL: base,
    ASSEMBLY_CONFIRMATIONS: "0",
    ASSEMBLY_MEDIA_BIND: `127.0.0.1:${udpPort}`,
    ASSEMBLY_WEB_ROOT: join(repo, "web/dist"),
    ASSEMBLY_RECORDINGS: join(work, "recordings"),
    ASSEMBLY_HLS: join(work, "hls"),
    ASSEMBLY_PUBLIC_RPC_URL: rpc,
    ASSEMBLY_IPFS_GATEWAY: `http://127.0.0.1:${ipfsPort}`,
    RUST_LOG: "warn",
  });
  await until("the node", async () => (await fetch(`${base}/healthz`)).ok);

  // A vote on the sample LIP's poll, cast on chain by an orchestrator: the schedule's agenda
  // for that debate shows it in its tally.
  const upcoming = await until("the schedule in the node's state", async () => {
    const s = await (await fetch(`${base}/api/v1/state`)).json();
    return s.upcoming?.find((u) => u.kind === "lip_debate");
  });
  const poll = `0x${BigInt(upcoming.proposal_id).toString(16).padStart(40, "0")}`;
  await cast("send", "--rpc-url", rpc, "--unlocked", "--from", ACCOUNTS.orchestrator, poll, "vote(uint256)", "0");

  const mic = join(work, "tone.wav");
  toneWav(mic);
  step("launching chromium");
  const browser = await launchChromium(mic);
  const blocked = [];
  const hostErrors = [];
  const page = async (account, viewport = { width: 1000, height: 900 }, reducedMotion = "no-preference") => {
    const ctx = await browser.newContext({ viewport, reducedMotion });
    if (account) await ctx.addInitScript(walletScript(account, rpc));
    await ctx.grantPermissions(["microphone"], { origin: base });
    const p = await ctx.newPage();
    p.on("pageerror", (e) => console.error("page error:", e.message));
    p.on("console", (m) => {
      if (m.text().startsWith("wallet")) console.error(m.text());
      // The node serves a Content-Security-Policy: anything the page needs and it blocks is a bug.
      if (m.text().includes("Content Security Policy")) blocked.push(m.text());
    });
    await p.goto(`${base}/?session=${session}`);
    return p;
  };
  const signIn = async (p, role) => {
    await p.getByRole("button", { name: "Connect wallet" }).click();
    // On the demo chain the page offers its demo accounts beside the browser's wallet.
    await p.getByRole("button", { name: "Test wallet" }).click();
    await p.locator("#account").getByText(role).waitFor({ timeout: 15_000 });
  };
  // The live view renders into an open shadow root.
  const floorText = (p) => p.evaluate(() => document.querySelector("assembly-floor").shadowRoot.textContent);
  const packets = (p) => p.evaluate(() => document.querySelector("assembly-floor").listening?.packetsReceived() ?? 0);

  step("opening pages");
  /** Waits for the page's transaction line to say the chain confirmed (or fails with its words). */
  const confirmed = (p) =>
    until("the transaction confirmed", async () => {
      const t = await p.locator("#tx").innerText();
      if (t.startsWith("Failed")) throw new Error(`request the floor: ${t}`);
      return t === "Confirmed by the chain.";
    }, 20_000);

  const speaker = await page(ACCOUNTS.orchestrator);
  // A phone whose owner asked for reduced motion.
  const listener = await page(ACCOUNTS.delegator, { width: 390, height: 844 }, "reduce");
  const stranger = await page(ACCOUNTS.stranger);
  await until("the session live on the page", async () => { const t = await floorText(speaker); if (process.env.E2E_DEBUG) console.log(t); return t.includes(`session ${session}`); });

  step("the schedule names its debates");
  // The treasury proposal by its description's first line; the LIP by the number and title
  // its IPFS text gives (fetched, verified against the poll's CID), each linked to Explorer.
  await until("titled debates on the schedule", async () => {
    const t = await stranger.locator("#schedule").innerText();
    return t.includes("Treasury: Fund Assembly transcription") && t.includes("LIP-100: Demo LIP");
  }, 30_000);
  // Each debate's agenda: when its vote closes, and the tally so far from the chain's votes
  // (the one cast above on the poll).
  await until("the agendas' vote close and tally", async () => {
    const t = await stranger.locator("#schedule").innerText();
    return t.includes("the vote closes") && t.includes("Tally so far: Yes: 1 voter; No: 0 voters") && /Fund Assembly transcription · proposed by 0x/.test(t) && /Demo LIP - an on-chain floor for orchestrator debates · proposed by 0x/.test(t);
  }, 30_000);
  // The same schedule as an iCalendar feed: the debate, and the moment its vote closes.
  // The LIP's title comes from IPFS, resolved by the node in the background: wait for it.
  let calendar = "";
  await until("the LIP's title in schedule.ics", async () => {
    calendar = await (await fetch(`${base}/api/v1/schedule.ics`)).text();
    return calendar.replace(/\r\n /g, "").includes("SUMMARY:Debate: LIP-100: Demo LIP");
  }, 10_000).catch(() => {
    throw new Error(`schedule.ics: ${calendar}`);
  });
  const unfolded = calendar.replace(/\r\n /g, "");
  if (!unfolded.startsWith("BEGIN:VCALENDAR\r\n") || !unfolded.includes("SUMMARY:Vote closes: Treasury: Fund Assembly transcription")) {
    throw new Error(`schedule.ics: ${calendar}`);
  }
  const links = await stranger.locator("#schedule a").evaluateAll((as) => as.map((a) => a.href));
  if (!links.some((h) => h.startsWith("https://explorer.livepeer.org/voting/0x")) || !links.some((h) => h.startsWith("https://explorer.livepeer.org/treasury/"))) {
    throw new Error(`schedule links: ${links.join(", ")}`);
  }

  step("stranger");
  // The stranger is told why, in words.
  await signIn(stranger, "observer");
  await stranger.getByText("may listen but not speak").waitFor();
  if (await stranger.getByRole("button", { name: "Request the floor" }).count()) throw new Error("a stranger was offered the floor");

  step("listener");
  // The delegator listens before anyone speaks: nothing arrives.
  await signIn(listener, "delegator");
  await listener.locator("assembly-floor").getByRole("button", { name: "Listen" }).click();
  await until("the listener connected", async () => (await floorText(listener)).includes("Listening"));
  await new Promise((r) => setTimeout(r, 1000));
  const silent = await packets(listener);

  // The public broadcast, playing (silence so far) in hls.js before anyone speaks; an
  // analyser on its output notes when sound first arrives.
  // Livepeer Explorer's stand-in, on another origin, with the floor in its Assembly tab.
  step("react host");
  const host = await browser.newPage();
  host.on("console", (m) => m.type() === "error" && hostErrors.push(m.text()));
  host.on("pageerror", (e) => hostErrors.push(e.message));
  await host.goto(await reactHost(base, session));
  const hostText = () => host.evaluate(() => document.querySelector("assembly-floor")?.shadowRoot?.textContent ?? "");
  await until("the floor inside the React host", async () => (await hostText()).includes(`session ${session}`), 10_000);
  await host.getByRole("tab", { name: "Treasury" }).click();
  await host.getByRole("tab", { name: "Assembly" }).click();
  await until("the floor back in its tab", async () => (await hostText()).includes(`session ${session}`), 10_000)
    .catch(async (e) => {
      throw new Error(`${e.message}: ${await host.evaluate(() => document.getElementById("root").innerHTML)} / ${await hostText()} / ${hostErrors.join(" | ")}`);
    });

  step("public broadcast");
  const broadcast = await browser.newPage();
  // The public page lists what is live, each with its stream address; one click plays it.
  await broadcast.goto(`${base}/broadcast.html`);
  await broadcast.getByText(`${base}/hls/${session}/index.m3u8`).first().waitFor({ timeout: 10_000 });
  await broadcast.getByRole("button", { name: `Play session ${session}` }).click();
  await broadcast.waitForFunction(() => document.getElementById("status").textContent.startsWith("Playing"), null, { timeout: 15_000 });
  await broadcast.evaluate(() => {
    const audio = document.getElementById("audio");
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    ctx.createMediaElementSource(audio).connect(analyser);
    analyser.connect(ctx.destination);
    const buf = new Float32Array(analyser.fftSize);
    window.onset = null;
    setInterval(() => {
      analyser.getFloatTimeDomainData(buf);
      const rms = Math.sqrt(buf.reduce((a, v) => a + v * v, 0) / buf.length);
      if (rms > 0.02 && window.onset === null) window.onset = Date.now();
    }, 10);
  });

  step("request the floor");
  // The orchestrator requests the floor: a real transaction from the injected wallet.
  await signIn(speaker, "orchestrator");
  await speaker.getByRole("button", { name: "Request the floor" }).click();
  await confirmed(speaker);
  await speaker.getByText("You have the floor").waitFor({ timeout: 10_000 });
  await speaker.getByText("Your microphone is live on the floor.").waitFor({ timeout: 10_000 });
  // Its wallet certified the page's speaking key (EIP-712, through the injected wallet).
  await speaker.getByText("Your audio is signed with a key your wallet certified").waitFor({ timeout: 5_000 });
  const holdingFrom = Date.now();
  const during = await until("audio at the listener", async () => {
    const n = await packets(listener);
    return n > silent + 50 ? n : undefined;
  }, 10_000);
  figures.packets_before_speaking = silent;
  figures.packets_while_speaking = during - silent;
  // The stage: the holder's face in its countdown ring, and the level moving while they speak.
  const meter = (p) => p.locator("assembly-floor").locator("meter.level").evaluate((m) => m.value, null, { timeout: 500 }).catch(() => -1);
  figures.stage_level_speaking = await until("the level moving", async () => {
    const v = await meter(listener);
    return v > 0.01 ? +v.toFixed(3) : undefined;
  }, 5_000);
  if (!(await listener.locator("assembly-floor").locator("svg.ring").count())) throw new Error("no countdown ring on the stage");
  // Its ENS name, confirmed both ways, and its avatar in the ring.
  await until("the holder's ENS name", async () => (await floorText(listener)).includes(`Speaking${ENS_NAME}`), 3_000);
  if (!(await listener.locator("assembly-floor").locator("svg.ring image").count())) throw new Error("no ENS avatar on the stage");

  // Glass to ear on HLS: from the node forwarding the speaker's first packet (the speech's
  // start in the archive) to sound at the broadcast player's output.
  const onset = await until("sound on the public broadcast", () => broadcast.evaluate(() => window.onset), 20_000);
  const speeches = await (await fetch(`${base}/api/v1/archive/speeches?session=${session}`)).json();
  figures.hls_glass_to_ear_ms = onset - speeches[0].started_ms;
  const playlist = await (await fetch(`${base}/hls/${session}/index.m3u8`)).text();
  if (!playlist.includes("#EXT-X-PROGRAM-DATE-TIME:")) throw new Error("playlist without program date-times");
  await broadcast.screenshot({ path: join(results, "public-broadcast.png"), fullPage: true });
  // Paused from here on: its decoding is no part of what the steps below measure (axe still
  // looks at the page at the end).
  await broadcast.evaluate(() => document.querySelectorAll("audio, video").forEach((m) => m.pause()));

  step("reaction");
  // A reaction from the listener reaches the speaker.
  await listener.locator("assembly-floor").getByRole("button", { name: /clap/ }).click();
  await speaker.locator("assembly-floor").getByText(/clap ×1/).waitFor({ timeout: 5_000 });
  // It floats up over the stage; on the reduced-motion phone it only fades.
  const floatAnimation = (p) => until("a floating reaction", () => p.evaluate(() => {
    const f = document.querySelector("assembly-floor").shadowRoot.querySelector(".floats .float");
    return f ? getComputedStyle(f).animationName : undefined;
  }), 3_000);
  figures.reaction_animation = { desktop: await floatAnimation(speaker), reduced_motion: await floatAnimation(listener) };
  if (figures.reaction_animation.desktop !== "rise" || figures.reaction_animation.reduced_motion !== "fade") {
    throw new Error(`reaction animations: ${JSON.stringify(figures.reaction_animation)}`);
  }
  await speaker.screenshot({ path: join(results, "live-view-speaker.png"), fullPage: true });
  await listener.screenshot({ path: join(results, "live-view-phone.png"), fullPage: true });


  step("first audio");
  // Time to first audio for a new listener on loopback: from navigation to the first packet,
  // five first visits in a row (each page its own browser context, so nothing is cached).
  let observer;
  const firstAudio = [];
  // The same runs from the click on Listen (the page's own mark): what a listener waits for
  // once they have asked, without the browser's loading of the page.
  const afterClick = [];
  // Stop early rather than measure past the slot's end (each visit takes about a second).
  for (let i = 0; i < 5 && Date.now() - holdingFrom < (SLOT_S - 3) * 1000; i++) {
    await observer?.close();
    observer = await browser.newPage();
    // Page weight: the JavaScript a first visit to the page loads, gzipped.
    const scripts = new Set();
    observer.on("response", (r) => r.request().resourceType() === "script" && scripts.add(new URL(r.url()).pathname));
    // A listener clicks as soon as the button is there, not when the page's load event fires.
    await observer.goto(`${base}/?session=${session}`, { waitUntil: "commit" });
    // The page watches for its first packet itself (a poll from here would add its own
    // round trips to the figure); the time is on the page's clock, from navigation start.
    const heard = observer.evaluate(() => new Promise((resolve, reject) => {
      const give = setTimeout(() => reject(new Error("no audio within 10 s")), 10_000);
      const look = async () => {
        const n = await document.querySelector("assembly-floor")?.listening?.packetsReceived();
        if (n > 0) {
          clearTimeout(give);
          resolve(performance.now());
        } else setTimeout(look, 2);
      };
      void look();
    }));
    await observer.locator("assembly-floor").getByRole("button", { name: "Listen" }).click();
    firstAudio.push(Math.round(await heard.catch(async (e) => {
      const status = await observer.locator("assembly-floor").locator(".row").textContent();
      throw new Error(`the observer's first audio (visit ${i + 1}): ${e.message}; the page says: ${status}`);
    })));
    // Where the time went, from the page's own clock (navigation start = 0): the document, the
    // live socket's first state, the click, the WHEP offer and answer, ICE+DTLS connected.
    const phases = await observer.evaluate(() => {
      const at = (name) => Math.round(performance.getEntriesByName(name).at(-1)?.startTime ?? -1);
      const nav = performance.getEntriesByType("navigation")[0];
      return {
        document: Math.round(nav.responseEnd),
        dom_content_loaded: Math.round(nav.domContentLoadedEventEnd),
        live_state: at("assembly:state"),
        clicked: at("assembly:click"),
        listen: at("assembly:listen"),
        offer: at("assembly:offer"),
        answer: at("assembly:answer"),
        connected: at("assembly:connected"),
      };
    });
    afterClick.push(firstAudio.at(-1) - phases.clicked);
    if (i === 0) {
      figures.first_audio_phases_ms = phases;
      figures.page_js_gzip_kb = +([...scripts]
        .reduce((n, path) => n + gzipSync(readFileSync(join(repo, "web/dist", path))).length, 0) / 1024).toFixed(1);
      // What a speaker loads besides (the page's signing code and its worker); none of it a listener's.
      const signingChunks = readdirSync(join(repo, "web/dist/assets")).filter((f) => /^(speaker|worker)-.*\.js$/.test(f));
      if (signingChunks.some((f) => [...scripts].some((path) => path.endsWith(f)))) throw new Error(`a listener loaded the signing code: ${[...scripts]}`);
      figures.speaker_signing_js_gzip_kb = +(signingChunks
        .reduce((n, f) => n + gzipSync(readFileSync(join(repo, "web/dist/assets", f))).length, 0) / 1024).toFixed(1);
    }
  }
  figures.first_audio_runs_ms = firstAudio;
  const median = (runs) => [...runs].sort((x, y) => x - y)[Math.floor(runs.length / 2)];
  figures.first_audio_ms = median(firstAudio);
  figures.first_audio_after_click_runs_ms = afterClick;
  figures.first_audio_after_click_ms = median(afterClick);
  await observer.screenshot({ path: join(results, "observer-view.png"), fullPage: true });

  step("slot end");
  // After the slot ends, audio stops.
  await speaker.getByRole("button", { name: "Request the floor" }).waitFor({ timeout: 15_000 });
  await new Promise((r) => setTimeout(r, 500));
  const atEnd = await packets(listener);
  await new Promise((r) => setTimeout(r, 2000));
  const after = await packets(listener);
  figures.slot_ms_observed = Date.now() - holdingFrom;
  figures.packets_in_2s_after_the_slot = after - atEnd;
  if (after - atEnd > 5) throw new Error(`audio kept arriving after the slot: ${after - atEnd} packets`);
  // Still after: nobody holds the floor, so there is no meter (or it reads silence).
  const stillAfter = await meter(listener);
  if (stillAfter > 0.01) throw new Error(`the level still moves after the slot: ${stillAfter}`);
  // The whole slot was signed in the browser, and the node found it so.
  figures.provenance_after_first_slot = await provenance(base);
  wellSigned(figures.provenance_after_first_slot, "the first slot");
  const signing = await speaker.evaluate(() => window.__assemblySigning);
  const costs = [...signing.costMs].sort((x, y) => x - y);
  const pct = (q) => costs[Math.min(costs.length - 1, Math.floor(q * costs.length))];
  figures.signing = {
    via: signing.via,
    batches: signing.batches,
    ms_per_batch_p50: pct(0.5),
    ms_per_batch_p95: pct(0.95),
    // The padding's bitrate over the frames signed (20 ms each).
    added_kbit_s: +((signing.added * 8) / (signing.frames * 20)).toFixed(2),
  };
  if (!(signing.batches > 0)) throw new Error(`the speaker's page signed no batch: ${JSON.stringify(signing)}`);

  // The queue as faces: another orchestrator takes the floor first, and the speaker's page
  // shows their place and when they will speak.
  step("queue");
  const sent = await cast("send", "--rpc-url", rpc, "--unlocked", "--from", ACCOUNTS.second, deployment.assembly, "enqueue(uint256)", String(session), "--json");
  if (JSON.parse(sent).status !== "0x1") throw new Error(`the second orchestrator's enqueue failed: ${sent}`);
  await until("the other orchestrator on the stage", async () => (await floorText(speaker)).toLowerCase().includes("speaking0x3c44…93bc"), 10_000)
    .catch(async (e) => {
      const state = await (await fetch(`${base}/api/v1/state`)).json();
      const block = await cast("block", "latest", "--field", "timestamp", "--rpc-url", rpc);
      const slot = await cast("call", "--rpc-url", rpc, deployment.assembly, "slotOf(uint256,uint32,uint32)(uint40,uint40)", String(session), "0", "1");
      throw new Error(`${e.message}: chain time ${block}, wall ${Date.now() / 1000}, slot 1 ${slot}, ${JSON.stringify(state.live)}`);
    });

  // Again, and this time yield: the audio stops at once, not at the slot's end.
  step("yield");
  await speaker.locator("#tx").evaluate((e) => (e.textContent = ""));
  await speaker.getByRole("button", { name: "Request the floor" }).click();
  await confirmed(speaker);
  await speaker.locator("assembly-floor").getByText(/^Your place: 1 of 1; you speak at /).waitFor({ timeout: 5_000 });
  await speaker.locator("assembly-floor").getByRole("list", { name: "Queue" }).getByText("1. you — next").waitFor({ timeout: 5_000 });
  await speaker.screenshot({ path: join(results, "stage-queue.png"), fullPage: true });
  // Connected while next (the handover is instant), heard once the other's slot is over.
  await speaker.getByText("Your microphone is live on the floor.").waitFor({ timeout: 20_000 });
  await speaker.getByText(/^You have the floor/).waitFor({ timeout: 20_000 });
  const before = await packets(listener);
  await until("audio again", async () => (await packets(listener)) > before + 25, 10_000);
  // Chain time counts whole seconds, and a slot yielded in the second it began is empty by
  // the rule: speak into the next second before yielding, so the record shows a yield.
  await new Promise((r) => setTimeout(r, 1200));
  await speaker.locator("#tx").evaluate((e) => (e.textContent = ""));
  await speaker.getByRole("button", { name: "Yield the floor" }).click();
  await confirmed(speaker);
  await speaker.getByRole("button", { name: "Request the floor" }).waitFor({ timeout: 5_000 });
  await new Promise((r) => setTimeout(r, 500));
  const atYield = await packets(listener);
  await new Promise((r) => setTimeout(r, 1500));
  figures.packets_in_1_5s_after_yield = (await packets(listener)) - atYield;
  if (figures.packets_in_1_5s_after_yield > 5) throw new Error(`audio kept arriving after the yield`);

  // The delegator looks up its orchestrator's record: the slots just held and the yield are
  // on it, read from the chain and the recordings.
  step("participation");
  const record = await page(null);
  await record.goto(`${base}/orchestrator.html?address=${ACCOUNTS.delegator}`);
  await record.getByText("This is that orchestrator's record.").waitFor({ timeout: 10_000 });
  await record.getByRole("heading", { name: ACCOUNTS.orchestrator }).waitFor({ timeout: 5_000 });
  const asked = await record.locator("dl.facts").textContent();
  if (!/held [1-9]\d* slots · yielded [1-9]/.test(asked ?? "")) {
    const json = await (await fetch(`${base}/api/v1/participation/${ACCOUNTS.orchestrator}`)).text();
    const occ = await (await fetch(`${base}/chain/v1/sessions/${session}/occurrences/0`)).text();
    throw new Error(`the record misses the slots held: ${asked}\n${json}\n${occ}`);
  }
  if (!/Spoke[1-9]\d* speeches/.test(asked ?? "")) throw new Error(`the record misses the speeches: ${asked}`);
  const csv = await (await fetch(`${base}/api/v1/participation/${ACCOUNTS.orchestrator}/csv`)).text();
  figures.participation_csv_rows = csv.trim().split("\n").length - 1;
  await record.screenshot({ path: join(results, "participation.png"), fullPage: true });
  await axe(record, "participation");

  // The record: a speech's link opens its session and plays that speech, from its start.
  step("record");
  // A search hit links to the moment its word was said: "closing" at 1 s.
  const hits = await (await fetch(`${base}/api/v1/hansard/search?q=closing&session=${session}`)).json();
  const last = hits[0];
  if (!last || last.at_ms !== 1000) throw new Error(`search hit without its moment: ${JSON.stringify(hits)}`);
  await record.goto(`${base}/record.html?speech=${last.id}&t=0`);
  await record.locator("#playing").getByText(/session \d+, occurrence 0/).waitFor({ timeout: 10_000 });
  const src = await record.locator("#audio").evaluate((a) => a.src);
  if (!src.endsWith(`/api/v1/archive/speeches/${last.id}/audio`)) throw new Error(`the record plays ${src}, not speech ${last.id}`);
  await until("the speech playing", () => record.locator("#audio").evaluate((a) => a.currentTime > 0.2), 10_000);
  if (!(await record.locator(`#speech-${last.id}`).isVisible())) throw new Error("the played speech is not in view");
  // The transcript follows playback: the first segment, then the second once past 1 s.
  await until("the transcript following playback", async () =>
    (await record.locator("#transcript button.segment.now").textContent({ timeout: 200 }).catch(() => "")) === "closing words", 10_000);
  await record.screenshot({ path: join(results, "record.png"), fullPage: true });
  await axe(record, "the record");
  await record.close();

  // The speaker corrects that speech's transcript: from their own hit in the Hansard to the
  // record's form, signed by their wallet (EIP-712) and submitted. The Hansard then has the
  // corrected words as revision 1, and the transcriber's kept as the original.
  step("correction");
  const corrected = "Opening words, then the closing words as I said them.";
  const mine = await speaker.context().newPage();
  mine.on("pageerror", (e) => console.error("page error:", e.message));
  const searchClosing = async () => {
    await mine.goto(`${base}/?session=${session}`);
    await mine.getByLabel("Words said").fill("closing");
    await mine.getByRole("button", { name: "Search" }).click();
    return mine.locator("#hansard li").filter({ has: mine.locator(`a[href="/record.html?speech=${last.id}&correct=1"]`) });
  };
  await (await searchClosing()).getByRole("link", { name: "correct your transcript" }).click();
  const ownSpeech = mine.locator(`#speech-${last.id}`);
  const correction = ownSpeech.getByRole("textbox", { name: "Your corrected transcript" });
  await correction.waitFor({ timeout: 10_000 });
  if (!(await correction.evaluate((t) => t === document.activeElement))) throw new Error("the correction form opened without focus");
  if ((await correction.inputValue()) !== "opening words closing words") throw new Error(`the form holds ${await correction.inputValue()}`);
  await correction.fill(corrected);
  await ownSpeech.getByRole("button", { name: "Sign and submit the correction" }).click();
  const saved = ownSpeech.getByRole("status").filter({ hasText: /^(Saved|Not saved)/ });
  await saved.waitFor({ timeout: 10_000 });
  const said = await saved.textContent();
  if (!said.startsWith("Saved as revision 1")) throw new Error(`correct the transcript: ${said}`);
  const entry = (await (await fetch(`${base}/api/v1/hansard/sessions/${session}`)).json()).speeches.find((s) => s.id === last.id);
  if (entry?.text !== corrected || entry?.revision !== 1) throw new Error(`the Hansard after the correction: ${JSON.stringify(entry)}`);
  const found = (await (await fetch(`${base}/api/v1/hansard/search?q=closing&session=${session}`)).json()).find((h) => h.id === last.id);
  if (found?.text !== corrected || found?.revision !== 1) throw new Error(`the search hit after the correction: ${JSON.stringify(found)}`);
  // Read again: the corrected words, said to be the speaker's, the original a click away.
  await mine.reload();
  await ownSpeech.locator("p.said").getByText(corrected, { exact: true }).waitFor({ timeout: 10_000 });
  await ownSpeech.getByText("Corrected by the speaker, revision 1.").waitFor({ timeout: 5_000 });
  await ownSpeech.getByText("The original and each revision").click();
  await ownSpeech.locator("ul.revisions").getByText("opening words closing words", { exact: true }).waitFor({ timeout: 5_000 });
  await mine.screenshot({ path: join(results, "record-corrected.png"), fullPage: true });
  await axe(mine, "the record, corrected by its speaker");
  // And in the Hansard on the main page.
  await (await searchClosing()).getByText("Corrected by the speaker, revision 1.").waitFor({ timeout: 10_000 });
  await mine.close();

  // A newcomer with no wallet at all, and only a keyboard (Tab to each control, then Enter):
  // the local chain's demo accounts, labelled as such,
  // sign in, request the floor and speak.
  step("demo wallet");
  // The public page with captions on, playing the multivariant playlist with the full hls.js
  // from before the newcomer speaks: it shows their captions from the WebVTT rendition.
  const captionedBroadcast = await browser.newPage();
  await captionedBroadcast.goto(`${base}/broadcast.html?session=${session}&captions=1`);
  await captionedBroadcast.getByRole("button", { name: `Play session ${session}` }).click();
  await captionedBroadcast.waitForFunction(() => document.getElementById("status").textContent.includes("with captions"), null, { timeout: 20_000 });
  const newcomer = await page(null);
  const signedBeforeDemo = (await provenance(base)).signed;
  let tabs = await tabTo(newcomer, "Connect wallet");
  await newcomer.keyboard.press("Enter");
  const demoGroup = newcomer.getByRole("group", { name: "Demo accounts on this local chain" });
  await demoGroup.getByText("this local chain only").waitFor({ timeout: 5_000 });
  await newcomer.screenshot({ path: join(results, "demo-accounts.png"), fullPage: true });
  await axe(newcomer, "the demo accounts");
  tabs += await tabTo(newcomer, /^Demo orchestrator 2 /);
  await newcomer.keyboard.press("Enter");
  await newcomer.locator("#account").getByText("orchestrator").waitFor({ timeout: 15_000 });
  tabs += await tabTo(newcomer, "Request the floor");
  await newcomer.keyboard.press("Enter");
  await confirmed(newcomer);
  await newcomer.getByText("Your microphone is live on the floor.").waitFor({ timeout: 10_000 });
  const beforeDemo = await packets(listener);
  await until("the demo account heard", async () => (await packets(listener)) > beforeDemo + 25, 10_000);
  // The React host shows who speaks, and its Listen button plays them from the other origin.
  await until("the speaker inside the React host", async () => (await hostText()).includes("Speaking"), 5_000);
  await host.locator("assembly-floor").getByRole("button", { name: "Listen" }).click();
  await until("audio in the React host", async () => (await host.evaluate(() => document.querySelector("assembly-floor").listening?.packetsReceived() ?? 0)) > 0, 5_000);
  // Live captions on the stage (the stand-in transcriber hears "opening words closing words"),
  // here and in the React host.
  const captioned = (p) => p.locator("assembly-floor").getByRole("log", { name: "Live captions" }).textContent().then((t) => t.includes("opening words"));
  await until("a live caption on the stage", () => captioned(listener), 8_000);
  await until("a live caption in the React host", () => captioned(host), 3_000);
  await listener.screenshot({ path: join(results, "stage-captions-phone.png"), fullPage: true });
  await host.screenshot({ path: join(results, "react-host.png"), fullPage: true });
  if (hostErrors.length) throw new Error(`the React host logged errors: ${hostErrors.join(" | ")}`);
  await newcomer.locator("#tx").evaluate((e) => (e.textContent = ""));
  tabs += await tabTo(newcomer, "Yield the floor");
  await newcomer.keyboard.press("Enter");
  await confirmed(newcomer);
  figures.keyboard_tabs_to_sign_in_request_and_yield = tabs;
  // The demo account's key was certified by anvil through the page's demo wallet.
  const demoSigning = await newcomer.evaluate(() => ({ state: window.__assemblySigning?.state, batches: window.__assemblySigning?.batches }));
  figures.demo_signed_frames = (await provenance(base)).signed - signedBeforeDemo;
  if (demoSigning.state !== "signing" || !(figures.demo_signed_frames > 0)) {
    throw new Error(`the demo account's audio was not signed: the page's ${JSON.stringify(demoSigning)}, the node's ${figures.demo_signed_frames} frames`);
  }
  // The captions in the HLS: hls.js has read the subtitles rendition and the page shows the
  // cue when playback reaches it, the playlist's hold-back behind live.
  await until("a caption from the HLS subtitles", () => captionedBroadcast.locator("#cues").textContent().then((t) => t.includes("opening words")), 25_000).catch(async (e) => {
    const seen = await captionedBroadcast.evaluate(() => JSON.stringify({
      native: !window.hls,
      at: document.getElementById("audio").currentTime,
      text: [...document.getElementById("audio").textTracks].map((t) => [t.kind, t.mode, [...(t.cues ?? [])].map((c) => [c.startTime, c.endTime, c.text])]),
    }));
    const subs = await (await fetch(`${base}/hls/${session}/subs.m3u8`)).text();
    throw new Error(`${e.message}: ${seen}\n${subs.split("\n").slice(-8).join(" ")}`);
  });
  figures.captioned_hls = await captionedBroadcast.evaluate(() => ({
    subtitle_tracks: window.hls.subtitleTracks.length,
    behind_live_s: +window.hls.latency.toFixed(1),
    cues_loaded: [...document.getElementById("audio").textTracks].reduce((n, t) => n + (t.cues?.length ?? 0), 0),
  }));
  if (figures.captioned_hls.subtitle_tracks !== 1) throw new Error(`subtitle tracks: ${JSON.stringify(figures.captioned_hls)}`);
  await captionedBroadcast.screenshot({ path: join(results, "public-broadcast-captions.png"), fullPage: true });

  // Accessibility last: axe takes seconds a page, which the timed steps above cannot spare.
  step("axe-core");
  await axe(speaker, "the floor, signed in");
  await axe(listener, "the floor on a phone, listening");
  await axe(broadcast, "the public broadcast");
  await axe(captionedBroadcast, "the public broadcast with captions");
  await axe(observer, "the floor, observing");

  await browser.close();
  // Every speech of the run (two slots held, a yield, the demo account's): none altered or refused.
  figures.provenance = await provenance(base);
  wellSigned(figures.provenance, "the whole run");
  // Anyone can check a speech the browser signed against the chain: `assembly verify`.
  const archived = await (await fetch(`${base}/api/v1/archive/speeches?session=${session}`)).json();
  const signedSpeech = archived.find((s) => !s.open && s.provenance?.verdict === "signed");
  if (!signedSpeech) throw new Error(`no closed signed speech in the archive: ${JSON.stringify(archived.map((s) => s.provenance))}`);
  let verified;
  try {
    verified = JSON.parse(execFileSync(join(target, "debug/assembly"), [
      "verify", `${base}/api/v1/archive/speeches/${signedSpeech.id}`, "--rpc", rpc, "--assembly", deployment.assembly, "--json",
    ]).toString());
  } catch (e) {
    throw new Error(`assembly verify refused the browser's speech: ${e.stdout ?? ""}${e.stderr ?? ""}`);
  }
  figures.assembly_verify = { speech: signedSpeech.id, verified: verified.verified, frames: verified.frames };
  // The slot's last frames each carry their own batch (the worker closes batches as the slot
  // ends), so none is left after the last batch; a few lost on a loaded machine are allowed.
  if (verified.frames.unattested > 5) throw new Error(`the speech ends unattested: ${JSON.stringify(verified.frames)}`);
  if (blocked.length > 0) throw new Error(`blocked by the Content-Security-Policy: ${blocked.join(" | ")}`);
  const headers = (await fetch(`${base}/`)).headers;
  for (const h of ["content-security-policy", "x-content-type-options", "x-frame-options"]) {
    if (!headers.get(h)) throw new Error(`the web client is served without ${h}`);
  }
  console.log(JSON.stringify({ ok: true, session, ...figures, axe_violations: accessibility }));
  if (figures.page_js_gzip_kb > 100) throw new Error(`page weight ${figures.page_js_gzip_kb} KB (goal: 100 KB)`);
  if (figures.hls_glass_to_ear_ms > 6000) throw new Error(`HLS glass to ear ${figures.hls_glass_to_ear_ms} ms`);
  if (figures.first_audio_ms > 1500) throw new Error(`first audio took ${figures.first_audio_ms} ms (median of ${firstAudio})`);
  void node;
}

// A hang anywhere (a browser that never answers) fails the test instead of stalling CI.
const watchdog = setTimeout(() => {
  console.error("e2e failed: no progress for 150 s");
  children.forEach((c) => c.kill());
  process.exit(1);
}, 150_000);
watchdog.unref();

main()
  .then(() => {
    children.forEach((c) => c.kill());
  })
  .catch((e) => {
    console.error("e2e failed:", e.message);
    for (const c of children) {
      const log = c.log().split("\n").slice(-15).join("\n");
      if (log.trim()) console.error(`--- ${c.spawnfile} (last lines)\n${log}`);
    }
    if (process.env.E2E_KEEP) {
      console.error(`kept running for inspection: ${children.map((c) => c.spawnargs.join(" ")).join(" | ")}`);
      return;
    }
    children.forEach((c) => c.kill());
    process.exit(1);
  })
  .finally(() => {
    try { execFileSync("rm", ["-f", join(repo, "deployments", `e2e-${process.pid}.json`)]); } catch {}
  });
