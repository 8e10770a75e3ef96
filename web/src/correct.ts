// Signing a speaker's correction of their speech's transcript: the speaker's wallet found
// (the one already sharing their account, else the browser's, else the local chain's demo
// account), the correction signed as EIP-712 typed data and submitted. Loaded only when a
// speaker opens the correction form: it brings the wallet code (viem), which listeners never
// load.

import { getAddress, type Hex } from "viem";
import type { Api, ClientConfig, SpeechTranscript, TranscriptRevision } from "./api";
import { demoWallets } from "./demo";
import { short } from "./format";
import { discover, reasonOf, Wallet, type WalletInfo } from "./wallet";

/** The speaker's wallet, connected to the node's chain; fails in words if there is none. */
async function speakersWallet(config: ClientConfig, speaker: string): Promise<Wallet> {
  const found = await discover();
  const demo = demoWallets(config);
  const want = speaker.toLowerCase();
  const accountsOf = async (w: WalletInfo) =>
    w.address ? [w.address] : ((await w.provider.request({ method: "eth_accounts" }).catch(() => [])) as string[]);
  let chosen: WalletInfo | undefined;
  for (const w of [...found, ...demo]) {
    if ((await accountsOf(w)).some((a) => a.toLowerCase() === want)) {
      chosen = w;
      break;
    }
  }
  // None shares the account yet: the browser's wallet is asked (it may hold it).
  chosen ??= found[0];
  if (!chosen) throw new Error("no wallet found in this browser holds the speaker's account");
  const wallet = new Wallet(chosen, config);
  // A refusal in the wallet (the account not shared, the chain not switched) in words.
  const address = await wallet.connect().catch((e: unknown) => {
    throw new Error(reasonOf(e));
  });
  if (address.toLowerCase() !== want) {
    throw new Error(`the wallet's account ${short(address)} is not this speech's speaker, ${short(speaker)}; switch accounts in the wallet and try again`);
  }
  return wallet;
}

/**
 * Signs `text` as the next revision of the speech `t` describes and submits it. `say` hears
 * each step in words. Fails with the wallet's reason, or the node's `ApiError` (its `code`).
 */
export async function signCorrection(
  api: Api,
  t: SpeechTranscript,
  text: string,
  say: (step: string) => void,
): Promise<{ revision: TranscriptRevision; fresh: boolean }> {
  const revision = t.nextRevision;
  const audioDigest = t.audioDigest;
  if (revision === null || revision === undefined || !audioDigest) throw new Error("this speech takes no corrections now");
  say("Finding your wallet…");
  const config = await api.config();
  // The wallet signs in the domain of the node's chain and contract: the transcript names them.
  if (t.chainId !== config.chainId || t.assembly.toLowerCase() !== config.assembly.toLowerCase()) {
    throw new Error(`the speech was recorded under chain ${t.chainId}'s contract ${short(t.assembly)}, not this node's`);
  }
  const wallet = await speakersWallet(config, t.speaker);
  say(`Sign revision ${revision} in your wallet: it shows the words you are putting your name to.`);
  const signature = await wallet.correct({
    session: BigInt(t.sessionId),
    occurrence: t.occurrence,
    slotStart: BigInt(t.slotStart),
    audio: audioDigest as Hex,
    revision,
    text,
  });
  say("Submitting the signed correction…");
  return api.correct({
    sessionId: t.sessionId,
    occurrence: t.occurrence,
    slotStart: t.slotStart,
    speaker: getAddress(t.speaker),
    audioDigest,
    revision,
    text,
    signature,
  });
}
