// Small formatting helpers shared by the views.

export function short(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}

/** LPT from base units (18 decimals), rounded for reading. */
export function lpt(base: string): string {
  let v: bigint;
  try {
    v = BigInt(base);
  } catch {
    return "?";
  }
  const whole = v / 10n ** 18n;
  return `${whole.toLocaleString("en-US")} LPT`;
}

/** m:ss until `ms`, never negative. */
export function countdown(msLeft: number): string {
  const s = Math.max(0, Math.ceil(msLeft / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export const KIND: Record<string, string> = {
  open_floor: "Open floor",
  lip_debate: "LIP debate",
  treasury_debate: "Treasury debate",
  governor_debate: "Governor proposal debate",
};

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> & { class?: string } = {},
  ...children: (Node | string | null | undefined)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  const { class: cls, ...rest } = props;
  if (cls) e.className = cls;
  Object.assign(e, rest);
  for (const c of children) if (c != null) e.append(c);
  return e;
}

/** What a scheduled debate is about, in words, and its page on Livepeer Explorer: LIP polls
 * are under /voting (by the poll's address), governor proposals under /treasury (by id). */
export function debateTopic(
  kind: string,
  proposalId: string,
  title: { lip?: number | null; title?: string | null; cid?: string | null } | null | undefined,
): { text: string; href: string } {
  const id = BigInt(proposalId);
  const named = title?.title ?? undefined;
  if (kind === "lip_debate") {
    const poll = `0x${id.toString(16).padStart(40, "0")}`;
    const lip = title?.lip != null ? `LIP-${title.lip}` : "LIP poll";
    const text = named ? `${lip}: ${named}` : `${lip} ${title?.cid ?? short(poll)}`;
    return { text, href: `https://explorer.livepeer.org/voting/${poll}` };
  }
  const label = kind === "treasury_debate" ? "Treasury" : "Governor proposal";
  const text = `${label}: ${named ?? short(`0x${id.toString(16)}`)}`;
  return { text, href: `https://explorer.livepeer.org/treasury/${proposalId}` };
}
