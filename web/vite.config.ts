import { defineConfig } from "vite";

// The node serves dist/ at "/". `embed.js` (just <assembly-floor>) keeps a stable name so other
// sites can include it. In development, Vite proxies the node's API.
export default defineConfig({
  build: {
    target: "es2022",
    outDir: "dist",
    emptyOutDir: true,
    rollupOptions: {
      input: { main: "index.html", broadcast: "broadcast.html", orchestrator: "orchestrator.html", record: "record.html", embed: "src/embed.ts" },
      output: {
        entryFileNames: (chunk) => (chunk.name === "embed" ? "embed.js" : "assets/[name]-[hash].js"),
      },
    },
  },
  server: {
    proxy: {
      "/api": { target: "http://127.0.0.1:8700", ws: true },
      "/chain": "http://127.0.0.1:8700",
    },
  },
});
