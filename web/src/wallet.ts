// Wallets (EIP-6963 discovery, the injected EIP-1193 provider as a fallback), Sign-In with
// Ethereum, and the floor's transactions. The chain judges every request: the client only
// sends the transaction and reports what the chain said, with the contract's own reason.

import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  custom,
  defineChain,
  getAddress,
  hexToBytes,
  toHex,
  type Abi,
  type Chain,
  type EIP1193Provider,
  type Hex,
} from "viem";
import { abi as assemblyAbi } from "../../indexer/abi/Assembly.json";
import type { ClientConfig } from "./api";
import { transcriptCorrectionTypedData, type TranscriptCorrection } from "./provenance/correction";
import { speakingKeyTypedData, type SpeakingKey } from "./provenance/typed";
import reasons from "./reasons.json";

export interface WalletInfo {
  name: string;
  icon?: string;
  provider: EIP1193Provider;
  /** One of the local demo chain's accounts (`demo.ts`), not the visitor's own wallet. */
  demo?: boolean;
  /** The account, when it is known before connecting (a demo account's). */
  address?: string;
}

/** Wallets that announce themselves (EIP-6963), then `window.ethereum` if none do. */
export async function discover(wait = 150): Promise<WalletInfo[]> {
  const found: WalletInfo[] = [];
  const seen = new Set<string>();
  const onAnnounce = (e: Event) => {
    const d = (e as CustomEvent).detail as { info: { uuid: string; name: string; icon?: string }; provider: EIP1193Provider };
    if (!d?.provider || seen.has(d.info?.uuid)) return;
    seen.add(d.info.uuid);
    found.push({ name: d.info.name, icon: d.info.icon, provider: d.provider });
  };
  window.addEventListener("eip6963:announceProvider", onAnnounce);
  window.dispatchEvent(new Event("eip6963:requestProvider"));
  await new Promise((r) => setTimeout(r, wait));
  window.removeEventListener("eip6963:announceProvider", onAnnounce);
  const injected = (window as unknown as { ethereum?: EIP1193Provider }).ethereum;
  if (found.length === 0 && injected) found.push({ name: "Browser wallet", provider: injected });
  return found;
}

// The contract's ABI as forge built it (exported by `script/abi`, checked current by
// `script/test`); only `abi` is imported, so the bytecode stays out of the bundle.
export const ASSEMBLY_ABI = assemblyAbi as Abi;

// Each error's wording is its NatSpec `@notice` in contracts/interfaces/IAssembly.sol, cased
// to follow "Failed: "; web/tests/reasons.mjs checks that every error has one and that they agree.
const REASONS: Record<string, string> = reasons;

/** The contract's reason for a failed call, in words. */
export function reasonOf(e: unknown): string {
  if (e instanceof BaseError) {
    const revert = e.walk((x) => x instanceof ContractFunctionRevertedError);
    if (revert instanceof ContractFunctionRevertedError && revert.data?.errorName) {
      return REASONS[revert.data.errorName] ?? revert.data.errorName;
    }
    if (e.walk((x) => (x as { code?: number }).code === 4001)) return "you rejected it in your wallet";
    return e.shortMessage;
  }
  return e instanceof Error ? e.message : String(e);
}

export type FloorCall = "enqueue" | "withdraw" | "yieldFloor";

export class Wallet {
  readonly chain: Chain;
  address?: `0x${string}`;

  constructor(
    readonly info: WalletInfo,
    private readonly config: ClientConfig,
  ) {
    this.chain = defineChain({
      id: config.chainId,
      name: config.network,
      nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: [config.rpcUrl] } },
    });
  }

  async connect(): Promise<`0x${string}`> {
    const accounts = (await this.info.provider.request({ method: "eth_requestAccounts" })) as string[];
    if (!accounts?.length) throw new Error("the wallet shared no account");
    this.address = getAddress(accounts[0]);
    await this.ensureChain();
    return this.address;
  }

  /** Asks the wallet to switch to the node's chain (adding it if unknown). */
  private async ensureChain() {
    const p = this.info.provider;
    const id = Number(await p.request({ method: "eth_chainId" }));
    if (id === this.config.chainId) return;
    const chainId = toHex(this.config.chainId);
    try {
      await p.request({ method: "wallet_switchEthereumChain", params: [{ chainId }] });
    } catch (e) {
      if ((e as { code?: number }).code !== 4902) throw e;
      await p.request({
        method: "wallet_addEthereumChain",
        params: [{ chainId, chainName: this.config.network, rpcUrls: [this.config.rpcUrl], nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 } }],
      });
    }
  }

  /** Signs an EIP-4361 message for the node's nonce. */
  async signIn(n: { nonce: string; domain: string; uri: string; chain_id: number }): Promise<{ message: string; signature: string }> {
    if (!this.address) throw new Error("connect the wallet first");
    const issued = new Date();
    const expires = new Date(issued.getTime() + 10 * 60_000);
    const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");
    const message = [
      `${n.domain} wants you to sign in with your Ethereum account:`,
      this.address,
      "",
      "Sign in to Assembly.",
      "",
      `URI: ${n.uri}/`,
      "Version: 1",
      `Chain ID: ${n.chain_id}`,
      `Nonce: ${n.nonce}`,
      `Issued At: ${iso(issued)}`,
      `Expiration Time: ${iso(expires)}`,
    ].join("\n");
    const signature = (await this.info.provider.request({
      method: "personal_sign",
      params: [toHex(message), this.address],
    })) as string;
    return { message, signature };
  }

  /**
   * Certifies a speaking key (EIP-712 typed data, `eth_signTypedData_v4`: a signature, no
   * transaction): the key the page signs this slot's audio with. Fails with the reason in
   * words.
   */
  async certify(key: SpeakingKey): Promise<Uint8Array> {
    if (!this.address) throw new Error("connect the wallet first");
    const wallet = createWalletClient({ chain: this.chain, transport: custom(this.info.provider), account: this.address });
    try {
      return hexToBytes(await wallet.signTypedData(speakingKeyTypedData(this.config.chainId, getAddress(this.config.assembly), key)));
    } catch (e) {
      throw new Error(reasonOf(e));
    }
  }

  /**
   * Signs a correction of the transcript of one of this account's speeches (EIP-712 typed
   * data, `eth_signTypedData_v4`, in the domain of `certify`): the wallet shows the speaker
   * the words they put their name to. Fails with the reason in words.
   */
  async correct(correction: TranscriptCorrection): Promise<Hex> {
    if (!this.address) throw new Error("connect the wallet first");
    const wallet = createWalletClient({ chain: this.chain, transport: custom(this.info.provider), account: this.address });
    try {
      return await wallet.signTypedData(transcriptCorrectionTypedData(this.config.chainId, getAddress(this.config.assembly), correction));
    } catch (e) {
      throw new Error(reasonOf(e));
    }
  }

  /**
   * Sends one of the floor's transactions. `onSent` hears the hash once the wallet has sent
   * it; the promise settles when the chain has judged it. A call the chain would refuse is
   * refused before it costs gas, with the contract's reason.
   */
  async send(call: FloorCall, session: number, onSent: (hash: string) => void): Promise<void> {
    if (!this.address) throw new Error("connect the wallet first");
    const transport = custom(this.info.provider);
    const pub = createPublicClient({ chain: this.chain, transport });
    const wallet = createWalletClient({ chain: this.chain, transport, account: this.address });
    // Judged against the pending block: the floor is a function of time, and the latest
    // block can be seconds old on a quiet chain (a slot that has just ended still looks
    // current there).
    const { request } = await pub.simulateContract({
      // The wire carries addresses as plain strings; viem wants them typed (and checked).
      address: getAddress(this.config.assembly),
      abi: ASSEMBLY_ABI,
      functionName: call,
      args: [BigInt(session)],
      account: this.address,
      blockTag: "pending",
    });
    // A fifth more gas than the estimate: the estimate is taken against the pending block,
    // and the block the transaction lands in can cost a little more (seen on anvil, which
    // otherwise sends exactly the estimate).
    const gas = await pub.estimateContractGas({ ...request, blockTag: "pending" });
    const hash = await wallet.writeContract({ ...request, gas: (gas * 6n) / 5n });
    onSent(hash);
    const receipt = await pub.waitForTransactionReceipt({ hash, pollingInterval: 250 });
    if (receipt.status !== "success") throw new Error("the chain reverted the transaction");
  }
}
