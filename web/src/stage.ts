// The stage's pictures: an identicon for each address, the countdown ring around the floor
// holder, and reactions that float up over the stage. Pictures only: every one of them sits
// beside words that say the same (the address, "0:42 left", the tally), so a screen reader
// and a text-only reader miss nothing.

const SVG = "http://www.w3.org/2000/svg";

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** The address's bytes, from its hex (a malformed address still draws, from what there is). */
function bytes(address: string): number[] {
  const hex = address.toLowerCase().replace(/^0x/, "").padEnd(40, "0");
  return Array.from({ length: 20 }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16) || 0);
}

/**
 * A 5×5 mirrored pattern drawn from the address: the same address always draws the same
 * face, and two addresses that share their first characters still look unlike (the bits come
 * from the whole address).
 */
export function identicon(address: string, size: number): SVGSVGElement {
  const b = bytes(address);
  const hue = ((b[0] << 8) | b[1]) % 360;
  const picture = svg("svg", { viewBox: "0 0 5 5", width: size, height: size, class: "face", "aria-hidden": "true" });
  picture.append(svg("rect", { width: 5, height: 5, rx: 1, fill: `hsl(${hue} 45% 92%)` }));
  const ink = `hsl(${hue} 60% 32%)`;
  for (let y = 0; y < 5; y++) {
    for (let x = 0; x < 3; x++) {
      const on = (b[2 + y * 3 + x] ^ b[19 - y]) & 1;
      if (!on) continue;
      for (const col of x === 2 ? [2] : [x, 4 - x]) picture.append(svg("rect", { x: col, y, width: 1, height: 1, fill: ink }));
    }
  }
  return picture;
}

/** The floor holder's face inside a ring that empties as the slot runs out. */
export function ringed(address: string, left: number, size: number): SVGSVGElement {
  const r = 46;
  const around = 2 * Math.PI * r;
  const picture = svg("svg", { viewBox: "0 0 100 100", width: size, height: size, class: "ring", "aria-hidden": "true" });
  picture.append(
    svg("circle", { cx: 50, cy: 50, r, fill: "none", stroke: "currentColor", "stroke-opacity": 0.15, "stroke-width": 6 }),
    svg("circle", {
      cx: 50,
      cy: 50,
      r,
      fill: "none",
      stroke: "currentColor",
      "stroke-width": 6,
      "stroke-linecap": "round",
      "stroke-dasharray": `${(around * Math.min(1, Math.max(0, left))).toFixed(1)} ${around.toFixed(1)}`,
      transform: "rotate(-90 50 50)",
      class: "left",
    }),
  );
  const face = identicon(address, 64);
  face.setAttribute("x", "18");
  face.setAttribute("y", "18");
  face.setAttribute("width", "64");
  face.setAttribute("height", "64");
  picture.append(face);
  return picture;
}

/**
 * Shows `text` rising over `layer` and fading (or, where the reader asked for reduced motion,
 * only fading: the stylesheet decides), then removes it. At most a dozen at once.
 */
export function float(layer: HTMLElement, text: string) {
  while (layer.childElementCount >= 12) layer.firstElementChild?.remove();
  const e = document.createElement("span");
  e.className = "float";
  e.textContent = text;
  e.style.left = `${10 + Math.random() * 75}%`;
  e.addEventListener("animationend", () => e.remove());
  // A browser that runs no animation (or a hidden tab) still clears it.
  setTimeout(() => e.remove(), 4000);
  layer.append(e);
}

/** The stage's styles, for the floor element's shadow root. */
export const STAGE_STYLE = `
.stage { position: relative; }
.floats { position: absolute; inset: 0; pointer-events: none; overflow: hidden; }
.float { position: absolute; bottom: 0; font-size: 1.4rem; white-space: nowrap; animation: rise 3s ease-out forwards; }
@keyframes rise { from { transform: translateY(0); opacity: 1; } to { transform: translateY(-9rem); opacity: 0; } }
@media (prefers-reduced-motion: reduce) {
  .float { animation: fade 3s linear forwards; }
  @keyframes fade { from { opacity: 1; } to { opacity: 0; } }
}
.holder { display: flex; gap: 1rem; align-items: center; }
.holder .who { display: grid; gap: .2rem; }
.holder .name { font-size: 1.25rem; font-weight: 700; }
meter.level { width: 10rem; height: .8rem; }
.faces { display: flex; gap: .75rem; flex-wrap: wrap; list-style: none; padding: 0; margin: .25rem 0; }
.faces li { display: grid; justify-items: center; gap: .15rem; font-size: .85rem; text-align: center; max-width: 7rem; }
.faces li.you { font-weight: 700; }
.faces li.you .face { outline: 3px solid currentColor; outline-offset: 2px; border-radius: .3rem; }
.counts { display: flex; gap: 1rem; flex-wrap: wrap; }
`;
