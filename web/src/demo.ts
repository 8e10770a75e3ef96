// The local demo chain's built-in wallet: the accounts `script/start` funded and bonded,
// offered only when the node runs on its local demo chain (the node sends none elsewhere,
// and the chain id is checked here again), so that a browser and `script/start` are enough
// to sign in, request the floor and speak. Anvil's accounts are unlocked: the chain itself
// signs for them, so this provider forwards each request to the node's public RPC with the
// account named, and no key is in the page.

import type { EIP1193Provider } from "viem";
import type { ClientConfig } from "./api";
import type { WalletInfo } from "./wallet";

/** Anvil's chain id: the only chain demo accounts are offered on. */
export const DEMO_CHAIN_ID = 31337;

/** The demo accounts as wallets, labelled as such; none off the demo chain. */
export function demoWallets(config: ClientConfig): WalletInfo[] {
  if (config.chainId !== DEMO_CHAIN_ID) return [];
  return config.demoAccounts.map((a) => ({
    name: a.label,
    provider: forwarding(config.rpcUrl, a.address),
    demo: true,
    address: a.address,
  }));
}

function forwarding(rpc: string, address: string): EIP1193Provider {
  let id = 0;
  const request = async ({ method, params }: { method: string; params?: unknown }) => {
    if (method === "eth_requestAccounts" || method === "eth_accounts") return [address];
    const r = await fetch(rpc, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params: params ?? [] }),
    });
    const body = (await r.json()) as { result?: unknown; error?: { message: string; code?: number; data?: unknown } };
    if (body.error) throw Object.assign(new Error(body.error.message), { code: body.error.code, data: body.error.data });
    return body.result;
  };
  return { request, on() {}, removeListener() {} } as unknown as EIP1193Provider;
}
