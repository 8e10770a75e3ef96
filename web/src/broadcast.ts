// The public broadcast page: a session's HLS stream in the browser's own player where it
// plays HLS (Safari), else through hls.js (loaded only here, never on the main page).

import { Api, type LiveState } from "./api";
import { el, KIND, short } from "./format";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const audio = $<HTMLAudioElement>("audio");
const status = $("status");

async function play(session: string) {
  const url = streamUrl(session);
  $("url").textContent = url;
  status.textContent = "Loading…";
  if (audio.canPlayType("application/vnd.apple.mpegurl")) {
    audio.src = url;
  } else {
    const { default: Hls } = await import("hls.js/light");
    if (!Hls.isSupported()) {
      status.textContent = "This browser cannot play HLS.";
      return;
    }
    const hls = new Hls({ lowLatencyMode: true, liveSyncDurationCount: 2 });
    hls.on(Hls.Events.ERROR, (_e, data) => {
      if (data.fatal) status.textContent = `Stream error: ${data.details}`;
    });
    hls.loadSource(url);
    hls.attachMedia(audio);
    (window as unknown as { hls: unknown }).hls = hls;
  }
  audio.onplaying = () => (status.textContent = `Playing session ${session}.`);
  await audio.play().catch(() => (status.textContent = "Press play to start."));
}

// The audio alone (played here: hls.js's light build has no subtitles), and the
// multivariant playlist with the live captions as WebVTT, for players that show subtitles.
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
  if (session && params.has("autoplay")) await play(session);
}

void start();
