//! Who may speak: a role read from Livepeer's BondingManager against a session's policy.
//! The contract applies the same rule when a request is made
//! (`contracts/libraries/LivepeerRoles.sol`); the node applies it again when audio is
//! admitted, because a role can be lost after the request.

use serde::{Deserialize, Serialize};

/// What the chain says someone is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// In the active set this round: may speak.
    Orchestrator,
    /// Has bonded stake: may listen and react, and speak where a session allows it.
    Delegator,
    /// Neither.
    Observer,
}

/// Who may ask for the floor (the contract's `Speakers`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Speakers {
    /// Active orchestrators only.
    Orchestrators,
    /// Active orchestrators and delegators with bonded stake.
    OrchestratorsAndDelegators,
}

/// Whether `role` lets someone speak in a session open to `speakers`.
pub fn may_speak(role: Role, speakers: Speakers) -> bool {
    match role {
        Role::Orchestrator => true,
        Role::Delegator => speakers == Speakers::OrchestratorsAndDelegators,
        Role::Observer => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delegators_speak_only_where_the_session_allows() {
        use Speakers::*;
        assert!(may_speak(Role::Orchestrator, Orchestrators));
        assert!(!may_speak(Role::Delegator, Orchestrators));
        assert!(may_speak(Role::Delegator, OrchestratorsAndDelegators));
        assert!(!may_speak(Role::Observer, OrchestratorsAndDelegators));
    }
}
