// <AssemblyFloor node="https://assembly.example" />: the live floor of an Assembly node inside
// a React app (Livepeer Explorer's "Assembly" tab).
//
// The live view is the node's own custom element, <assembly-floor>, defined by the node's
// `/embed.js`. This component renders the element and loads that script once, in an effect:
// effects never run during server-side rendering, so a server (Next.js, react-dom/server)
// renders a plain <assembly-floor> tag and touches no browser API, and the browser upgrades
// the tag after hydration. Loading the script from the node keeps the view and the node's
// API one version.

import { createElement, useEffect } from "react";

const loading = new Map();

/** Loads `src` as a module script once per page; resolves when it has run. */
function load(src) {
  if (!loading.has(src)) {
    loading.set(
      src,
      new Promise((resolve, reject) => {
        const s = document.createElement("script");
        s.type = "module";
        s.src = src;
        s.onload = () => resolve();
        s.onerror = () => {
          loading.delete(src);
          reject(new Error(`could not load ${src}`));
        };
        document.head.append(s);
      }),
    );
  }
  return loading.get(src);
}

/**
 * The live floor of the Assembly node at `node`: who holds the floor and for how long, the
 * queue, listeners, reactions, and a Listen button (WHEP). Visitors are anonymous observers
 * here; signing in and speaking happen on the node's own page.
 */
export function AssemblyFloor({ node, session = "current", className, onError }) {
  useEffect(() => {
    if (customElements.get("assembly-floor")) return;
    load(new URL("/embed.js", node).toString()).catch((e) => onError?.(e));
  }, [node, onError]);
  return createElement("assembly-floor", { node, session: String(session), className });
}
