// The host page's browser entry: hydrates what the server rendered.
import { createElement } from "react";
import { hydrateRoot } from "react-dom/client";
import { ExplorerStandIn } from "./app.js";

hydrateRoot(document.getElementById("root"), createElement(ExplorerStandIn, window.__HOST__), {
  onRecoverableError: (e) => console.error(`hydration: ${e.message}`),
});
