// A stand-in for Livepeer Explorer: a React app with Governance, Treasury and Assembly tabs,
// the last showing <AssemblyFloor>. Rendered on the server (react-dom/server) and hydrated in
// the browser, as Next.js would.

import { createElement as h, useState } from "react";
import { AssemblyFloor } from "../../react/assembly-floor.js";

const TABS = ["Governance", "Treasury", "Assembly"];

export function ExplorerStandIn({ node, session }) {
  const [tab, setTab] = useState("Assembly");
  return h(
    "main",
    null,
    h("h1", null, "Livepeer Explorer (stand-in)"),
    h(
      "div",
      { role: "tablist", "aria-label": "Sections" },
      ...TABS.map((t) =>
        h("button", { key: t, role: "tab", "aria-selected": tab === t, type: "button", onClick: () => setTab(t) }, t),
      ),
    ),
    h(
      "section",
      { role: "tabpanel", "aria-label": tab },
      tab === "Assembly" ? h(AssemblyFloor, { node, session }) : h("p", null, `${tab} lives here.`),
    ),
  );
}
