// The public broadcast page: a session's HLS stream in the browser's own player where it
// plays HLS (Safari), else through hls.js (loaded only here, never on the main page).

import { Api, type LiveState } from "./api";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const audio = $<HTMLAudioElement>("audio");
const status = $("status");

async function play(session: string) {
  const url = new URL(`/hls/${session}/index.m3u8`, location.origin).toString();
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

async function start() {
  const params = new URLSearchParams(location.search);
  let session = params.get("session");
  if (!session) {
    const state: LiveState | null = await fetch(new Api(location.origin).url("/api/v1/state"))
      .then((r) => r.json())
      .catch(() => null);
    session = state?.current != null ? String(state.current) : "";
  }
  $<HTMLInputElement>("session").value = session ?? "";
  $("play").onclick = () => void play($<HTMLInputElement>("session").value.trim());
  if (session && params.has("autoplay")) await play(session);
}

void start();
