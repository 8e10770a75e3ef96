// What a speaker's wallet signs to correct their speech's transcript (provenance/src/
// correction.rs, `TranscriptCorrection`): EIP-712 typed data naming the speech by its
// session, occurrence, slot start and the SHA-256 of its recording, the revision it makes
// (1 for the first) and the corrected text, in the domain speaking keys are certified in
// (./typed.ts). Shared by the wallet (which signs it) and the tests (which hash it against
// the Rust crate's digest).

import type { Address, Hex } from "viem";

export interface TranscriptCorrection {
  session: bigint;
  occurrence: number;
  /** The slot's start, in seconds since the epoch. */
  slotStart: bigint;
  /** SHA-256 of the speech's recording. */
  audio: Hex;
  /** 1 for the first correction; revision 0 is the machine transcript. */
  revision: number;
  text: string;
}

/** The most corrections a speech takes (correction.rs, `MAX_REVISION`). */
export const MAX_REVISION = 16;
/** The longest corrected text, in bytes of UTF-8 (correction.rs, `MAX_TEXT`). */
export const MAX_TEXT = 64 * 1024;

/** The typed data for `eth_signTypedData_v4` (viem's `signTypedData` / `hashTypedData`). */
export function transcriptCorrectionTypedData(chainId: number, assembly: Address, message: TranscriptCorrection) {
  return {
    domain: { name: "Assembly", version: "1", chainId, verifyingContract: assembly },
    types: {
      TranscriptCorrection: [
        { name: "session", type: "uint256" },
        { name: "occurrence", type: "uint32" },
        { name: "slotStart", type: "uint64" },
        { name: "audio", type: "bytes32" },
        { name: "revision", type: "uint32" },
        { name: "text", type: "string" },
      ],
    },
    primaryType: "TranscriptCorrection",
    message,
  } as const;
}
