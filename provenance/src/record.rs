//! The record of an occurrence as it is anchored on chain (`contracts/RecordAnchor.sol`):
//! each speech's leaf exactly as `contracts/libraries/SpeechLeaf.sol` states it,
//! OpenZeppelin's standard Merkle tree over the leaves, its root, and proofs that
//! `RecordAnchor.verify` (or [`verify`], offline) folds back to the root.
//!
//! The leaf's fields are `IRecordAnchor.Speech`'s, taken from the ABI the contracts
//! generate (`indexer/abi/RecordAnchor.json`), never retyped. What each holds, and so which
//! bytes a second node (or `assembly verify`) hashes to recompute it:
//!
//! | field | value |
//! |---|---|
//! | `sessionId`, `occurrence` | the session (Assembly's id) and its occurrence, from 0 |
//! | `slotStart` | the start of the speaker's slot, unix seconds, as the chain gave it |
//! | `speaker` | the slot's holder |
//! | `audioDigest` | SHA-256 of the recording: the bytes of its Ogg Opus file as archived (one file per speech, byte-identical on every node that heard it) |
//! | `attestationDigest` | [`crate::carrier::Certificate::digest`] of the certificate the speech was checked under (the latest one its holder signed), or zero for a speech no certificate of the holder's came with |
//! | `transcriptDigest` | [`transcript_digest`]: SHA-256 of the transcript's text, or zero while there is none |
//! | `revision` | 0 for the transcript as transcribed; `n` for its speaker's `n`th correction ([`crate::correction`]) |
//!
//! The transcript's bytes are the text exactly as the Hansard stores it
//! (`transcripts.text`, what `GET /api/v1/hansard/...` serves): its UTF-8 bytes with no
//! normalisation (no trimming, no case or Unicode folding), the timed segments left out.
//! SHA-256 because `IRecordAnchor.Speech` documents it so, beside the audio's.
//!
//! A corrected transcript is a new leaf of the same speech, every other field unchanged,
//! with the corrected text's digest and its revision: the leaves of revisions `0..n` stay,
//! so the record holds one leaf per revision of each speech and a root anchored before the
//! correction keeps proving what it held. Revision 0's text is the transcriber's, as first
//! recorded; a correction's is the text its speaker signed.

use alloy_primitives::{keccak256, B256};
use alloy_sol_types::SolValue;
use sha2::{Digest, Sha256};

mod abi {
    #![allow(missing_docs, clippy::too_many_arguments)]
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        RecordAnchor,
        "../indexer/abi/RecordAnchor.json"
    );
}

/// The contract's calls, events and errors (for encoding `verify` and `leafHash` calls
/// without a provider), and its `Speech` struct, from the generated ABI.
pub use abi::{IRecordAnchor, RecordAnchor};

/// One speech as a leaf of its occurrence's record.
pub type Leaf = IRecordAnchor::Speech;

/// The leaf hash of `speech`: `keccak256(keccak256(abi.encode(<its eight fields>)))`.
pub fn leaf_hash(speech: &Leaf) -> B256 {
    // Every field is static, so encoding the struct is encoding its fields in order.
    keccak256(keccak256(speech.abi_encode()))
}

/// The `transcriptDigest` of a transcript: SHA-256 of `text`'s UTF-8 bytes; zero for none.
pub fn transcript_digest(text: Option<&str>) -> B256 {
    match text {
        Some(t) => B256::from(<[u8; 32]>::from(Sha256::digest(t.as_bytes()))),
        None => B256::ZERO,
    }
}

/// `H(a, b)`: keccak256 of the smaller then the larger.
fn pair(a: B256, b: B256) -> B256 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut both = [0u8; 64];
    both[..32].copy_from_slice(lo.as_slice());
    both[32..].copy_from_slice(hi.as_slice());
    keccak256(both)
}

/// An occurrence's tree: OpenZeppelin's standard tree over sorted leaf hashes, held as the
/// array `SpeechLeaf` describes (`2n - 1` nodes, the root first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tree {
    nodes: Vec<B256>,
    leaves: usize,
}

impl Tree {
    /// The tree over `leaves` (leaf hashes, in any order); None for no leaves, which have
    /// no root.
    pub fn new(leaves: impl IntoIterator<Item = B256>) -> Option<Self> {
        let mut sorted: Vec<B256> = leaves.into_iter().collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort();
        let n = sorted.len();
        let mut nodes = vec![B256::ZERO; 2 * n - 1];
        for (i, leaf) in sorted.into_iter().enumerate() {
            nodes[2 * n - 2 - i] = leaf;
        }
        for k in (0..n - 1).rev() {
            nodes[k] = pair(nodes[2 * k + 1], nodes[2 * k + 2]);
        }
        Some(Self { nodes, leaves: n })
    }

    /// The tree over `speeches`' leaves.
    pub fn of<'a>(speeches: impl IntoIterator<Item = &'a Leaf>) -> Option<Self> {
        Self::new(speeches.into_iter().map(leaf_hash))
    }

    /// The root: what is anchored.
    pub fn root(&self) -> B256 {
        self.nodes[0]
    }

    /// How many leaves it holds (what `anchor`'s `speeches` claims).
    pub fn len(&self) -> usize {
        self.leaves
    }

    /// Whether it holds no leaf (never: a tree has at least one).
    pub fn is_empty(&self) -> bool {
        self.leaves == 0
    }

    /// The siblings from `leaf` (a leaf hash) up to the root; None if it is no leaf here.
    pub fn proof(&self, leaf: B256) -> Option<Vec<B256>> {
        let first = self.nodes.len() - self.leaves;
        let mut at = first + self.nodes[first..].iter().position(|h| *h == leaf)?;
        let mut proof = Vec::new();
        while at > 0 {
            let sibling = if at % 2 == 1 { at + 1 } else { at - 1 };
            proof.push(self.nodes[sibling]);
            at = (at - 1) / 2;
        }
        Some(proof)
    }
}

/// Whether `proof` folds `leaf` (a leaf hash) up to `root`, as `MerkleProof.verify` does.
pub fn verify(proof: &[B256], root: B256, leaf: B256) -> bool {
    proof.iter().fold(leaf, |h, sibling| pair(h, *sibling)) == root
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, U256};

    fn speech(n: u8) -> Leaf {
        Leaf {
            sessionId: U256::from(7),
            occurrence: 2,
            slotStart: alloy_primitives::Uint::from(2_000_000_000u64 + u64::from(n) * 60),
            speaker: Address::repeat_byte(n),
            audioDigest: B256::repeat_byte(n),
            attestationDigest: B256::ZERO,
            transcriptDigest: transcript_digest(Some("words")),
            revision: 0,
        }
    }

    #[test]
    fn a_leaf_is_eight_words_hashed_twice() {
        let s = speech(1);
        let encoded = s.abi_encode();
        assert_eq!(encoded.len(), 256);
        assert_eq!(&encoded[..32], U256::from(7).to_be_bytes::<32>().as_slice());
        assert_eq!(leaf_hash(&s), keccak256(keccak256(&encoded)));
    }

    #[test]
    fn every_leaf_proves_and_an_altered_one_does_not() {
        for n in 1..=9u8 {
            let speeches: Vec<Leaf> = (1..=n).map(speech).collect();
            let tree = Tree::of(&speeches).unwrap();
            assert_eq!(tree.len(), usize::from(n));
            for s in &speeches {
                let leaf = leaf_hash(s);
                let proof = tree.proof(leaf).unwrap();
                assert!(verify(&proof, tree.root(), leaf), "{n} leaves");
                let mut altered = s.clone();
                altered.transcriptDigest = transcript_digest(Some("words!"));
                assert!(!verify(&proof, tree.root(), leaf_hash(&altered)));
                assert!(tree.proof(leaf_hash(&altered)).is_none());
            }
            // The root depends on the set, not the order.
            let reversed: Vec<Leaf> = speeches.iter().rev().cloned().collect();
            assert_eq!(Tree::of(&reversed).unwrap().root(), tree.root());
        }
    }

    #[test]
    fn small_trees_are_as_openzeppelin_builds_them() {
        let (a, b, c) = (speech(1), speech(2), speech(3));
        let one = Tree::of([&a]).unwrap();
        assert_eq!(one.root(), leaf_hash(&a));
        assert_eq!(one.proof(leaf_hash(&a)), Some(vec![]));
        let two = Tree::of([&a, &b]).unwrap();
        assert_eq!(two.root(), pair(leaf_hash(&a), leaf_hash(&b)));
        // Three: the two smallest leaves pair first (they sit deepest); the largest joins
        // at the root.
        let mut l = [leaf_hash(&a), leaf_hash(&b), leaf_hash(&c)];
        l.sort();
        let three = Tree::of([&a, &b, &c]).unwrap();
        assert_eq!(three.root(), pair(pair(l[0], l[1]), l[2]));
        assert_eq!(three.proof(l[2]), Some(vec![pair(l[0], l[1])]));
        assert_eq!(three.proof(l[0]), Some(vec![l[1], l[2]]));
        assert!(Tree::new([]).is_none());
    }

    #[test]
    fn a_transcript_digest_is_sha256_of_its_text() {
        // SHA-256("abc"), FIPS 180-2's first example.
        assert_eq!(
            transcript_digest(Some("abc")).to_string(),
            "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(transcript_digest(None), B256::ZERO);
    }
}
