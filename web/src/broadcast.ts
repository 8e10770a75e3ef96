// The public broadcast page: a session's HLS stream, through hls.js (loaded only here, never
// on the main page) or the browser's own player. Without captions it plays the low-latency
// `index.m3u8`; with captions, the multivariant `master.m3u8` (its audio held back past the
// captions' lag by the playlist itself) with hls.js's full build, which reads WebVTT.

import type Hls from "hls.js";
import { Api, type LiveState } from "./api";
import { el, KIND, short } from "./format";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const audio = $<HTMLAudioElement>("audio");
const status = $("status");
const captionsBox = $<HTMLInputElement>("captions");
const cues = $("cues");
let hls: Hls | undefined;

/** Shows the captions track's current cues (an audio element draws no text of its own). */
function showCaptions(track: TextTrack) {
  if (track.kind !== "subtitles" && track.kind !== "captions") return;
  track.mode = "hidden";
  track.oncuechange = () => {
    const text = Array.from(track.activeCues ?? [], (c) => (c as VTTCue).text).join(" ");
    if (text) cues.textContent = text;
  };
}
audio.textTracks.onaddtrack = (e) => e.track && showCaptions(e.track);

async function play(session: string) {
  const withCaptions = captionsBox.checked && (await published(streamUrl(session, "master.m3u8")));
  const url = streamUrl(session, withCaptions ? "master.m3u8" : "index.m3u8");
  $("url").textContent = url;
  cues.hidden = !withCaptions;
  cues.textContent = "";
  status.textContent = captionsBox.checked && !withCaptions ? "This node publishes no captions; playing without them." : "Loading…";
  hls?.destroy();
  hls = undefined;
  const native = audio.canPlayType("application/vnd.apple.mpegurl") !== "";
  // Without captions the browser's own player is preferred where it has one. With captions,
  // hls.js is, wherever it runs: Chromium's own HLS player ignores subtitle renditions
  // (Safari's shows them, and plays where Media Source is missing).
  const Player = withCaptions
    ? (await import("hls.js")).default
    : native
      ? undefined
      : (await import("hls.js/light")).default;
  if (Player?.isSupported()) {
    // Low latency where the playlist allows; with captions the playlist's own HOLD-BACK
    // decides how far behind to play.
    const h = new Player(withCaptions ? {} : { lowLatencyMode: true, liveSyncDurationCount: 2 });
    // The cues are drawn by the page (showCaptions), not by the player.
    h.subtitleDisplay = false;
    h.on(Player.Events.ERROR, (_e, data) => {
      if (data.fatal) status.textContent = `Stream error: ${data.details}`;
    });
    h.loadSource(url);
    h.attachMedia(audio);
    hls = h;
    (window as unknown as { hls: unknown }).hls = h;
  } else if (native) {
    audio.src = url;
  } else {
    status.textContent = "This browser cannot play HLS.";
    return;
  }
  audio.onplaying = () => (status.textContent = `Playing session ${session}${withCaptions ? ", with captions" : ""}.`);
  await audio.play().catch(() => (status.textContent = "Press play to start."));
}

/** Whether the node publishes `url` (the captions exist only where a transcriber runs). */
async function published(url: string): Promise<boolean> {
  return fetch(url, { method: "HEAD" }).then((r) => r.ok, () => false);
}

// The audio alone, the stream's low-latency address, and the multivariant playlist with
// the live captions as WebVTT, for players that show subtitles.
function streamUrl(session: number | string, file = "index.m3u8"): string {
  return new URL(`/hls/${session}/${file}`, location.origin).toString();
}

/** What is live, each with one button to play it and its address for other players. */
async function listLive(): Promise<LiveState | null> {
  const state: LiveState | null = await fetch(new Api(location.origin).url("/api/v1/state"))
    .then((r) => r.json())
    .catch(() => null);
  const list = $("live");
  if (!state) {
    list.replaceChildren(el("li", { textContent: "The node could not be reached." }));
    return null;
  }
  if (state.live.length === 0) {
    list.replaceChildren(el("li", { textContent: "Nothing is live now; the floor's page has the schedule." }));
    return state;
  }
  list.replaceChildren(
    ...state.live.map((s) => {
      const button = el("button", { type: "button", className: "primary", textContent: `Play session ${s.session}` });
      button.onclick = () => void play(String(s.session));
      const speaking = s.floor ? ` — speaking: ${short(s.floor.speaker.address)}` : " — nobody holds the floor";
      return el(
        "li",
        {},
        el("strong", { textContent: `${KIND[s.kind] ?? s.kind} · session ${s.session}` }),
        speaking,
        " ",
        button,
        el("br"),
        "Stream address: ",
        el("code", { textContent: streamUrl(s.session) }),
        el("br"),
        "With captions: ",
        el("code", { textContent: streamUrl(s.session, "master.m3u8") }),
      );
    }),
  );
  return state;
}

async function start() {
  const params = new URLSearchParams(location.search);
  const state = await listLive();
  window.setInterval(() => void listLive(), 15_000);
  const session = params.get("session") ?? (state?.current != null ? String(state.current) : "");
  $<HTMLInputElement>("session").value = session;
  $("play").onclick = () => void play($<HTMLInputElement>("session").value.trim());
  captionsBox.checked = params.get("captions") === "1";
  if (session && params.has("autoplay")) await play(session);
}

void start();
