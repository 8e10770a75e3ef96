// What a speaker's wallet signs once when they take the floor (provenance/src/lib.rs,
// `SpeakingKey`): EIP-712 typed data naming a short-lived key, for one occurrence of one
// session, in the domain of the Assembly contract on its chain. Shared by the wallet (which
// signs it) and the tests (which hash it against the Rust crate's digest).

import type { Address } from "viem";

export interface SpeakingKey {
  session: bigint;
  occurrence: number;
  /** The speaking key's address. */
  key: Address;
  /** Seconds since the epoch. */
  notAfter: bigint;
}

/** The typed data for `eth_signTypedData_v4` (viem's `signTypedData` / `hashTypedData`). */
export function speakingKeyTypedData(chainId: number, assembly: Address, message: SpeakingKey) {
  return {
    domain: { name: "Assembly", version: "1", chainId, verifyingContract: assembly },
    types: {
      SpeakingKey: [
        { name: "session", type: "uint256" },
        { name: "occurrence", type: "uint32" },
        { name: "key", type: "address" },
        { name: "notAfter", type: "uint64" },
      ],
    },
    primaryType: "SpeakingKey",
    message,
  } as const;
}
