// Where to listen in a cluster: every member serves the same floor, so a listener takes the
// one that answers it fastest. Measured in the background when the page opens, never on the
// way to the first sound: until it is known (and on a lone node) the page listens where it
// was served from.

import type { Api } from "./api";

/** Milliseconds for one small request to `base`, or Infinity if it fails or takes over 2 s. */
async function roundTrip(base: string): Promise<number> {
  const t0 = performance.now();
  try {
    const r = await fetch(new URL("/healthz", base), { cache: "no-store", signal: AbortSignal.timeout(2000) });
    return r.ok ? performance.now() - t0 : Infinity;
  } catch {
    return Infinity;
  }
}

/** The member of `api`'s cluster nearest this page, if the cluster has more than one. */
export async function nearest(api: Api): Promise<string | undefined> {
  const view = await api.cluster();
  const members = view.nodes.filter((n) => n.member).map((n) => n.url);
  if (members.length < 2) return undefined;
  // Twice each: the first pays for the connection, the second is the round trip.
  const timed = await Promise.all(
    members.map(async (url) => {
      await roundTrip(url);
      return { url, ms: await roundTrip(url) };
    }),
  );
  const best = timed.reduce((a, b) => (b.ms < a.ms ? b : a));
  return best.ms < Infinity ? best.url : undefined;
}
