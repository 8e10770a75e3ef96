// Where to connect in a cluster: every member serves the same floor, so a listener takes the
// one that answers it fastest, and a speaker or listener whose member goes away moves to the
// next. Measured in the background when the page opens, never on the way to the first sound:
// until it is known (and on a lone node) the page connects where it was served from.

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

/** The members of `api`'s cluster, nearest this page first, if it has more than one. */
export async function byNearness(api: Api): Promise<string[] | undefined> {
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
  // Those that did not answer stay in the list, last: they may be back by the time they
  // are needed.
  timed.sort((a, b) => a.ms - b.ms);
  return timed.map((t) => t.url);
}

/** The other members of `api`'s cluster (none on a lone node). */
export async function siblings(api: Api): Promise<string[]> {
  const view = await api.cluster();
  return view.nodes.filter((n) => n.member && !n.this).map((n) => n.url);
}

/** `path` on each of `bases`, in order. */
export function onEach(bases: string[], path: string): string[] {
  return bases.map((b) => new URL(path, b).toString());
}
