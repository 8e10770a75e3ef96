// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title FloorRule
/// @notice The floor rule, stated once. Every other part of Assembly (this repository's
/// Rust indexer included) implements exactly this and is tested against it.
///
/// Within one occurrence of a session, running over [occStart, occEnd), queue entries are
/// served first in, first out. Withdrawn entries take no time. Entry k's slot is
///
///     start_k = max(occStart, enqueuedAt_k, end_{k-1})
///     end_k   = max(start_k, min(start_k + slotLength, yieldedAt_k, occEnd))
///
/// where end_{-1} = 0 and a missing yield is +infinity. The holder of the floor at instant t
/// is the entry whose [start_k, end_k) contains t, or nobody. A cancelled session's occEnd
/// is the moment it was cancelled. Because a withdrawal must precede the entry's start and a
/// yield happens inside the holder's own slot, no transaction ever changes who held the
/// floor at an instant already past: the answer for a past instant is final.
library FloorRule {
    /// @notice The slot of one entry, given the end of the previous slot (`cursor`).
    /// @param cursor End of the previous non-withdrawn entry's slot (0 for the first).
    /// @param occStart Start of the occurrence.
    /// @param occEnd End of the occurrence (the cancellation time if earlier).
    /// @param enqueuedAt When the entry joined the queue.
    /// @param yieldedAt When its holder yielded, or 0 if they have not.
    /// @param slotLength The session's slot length.
    /// @return start Slot start.
    /// @return end Slot end (exclusive); equal to `start` for an empty slot.
    function slot(
        uint256 cursor,
        uint256 occStart,
        uint256 occEnd,
        uint256 enqueuedAt,
        uint256 yieldedAt,
        uint256 slotLength
    ) internal pure returns (uint256 start, uint256 end) {
        start = occStart > enqueuedAt ? occStart : enqueuedAt;
        if (cursor > start) start = cursor;
        end = start + slotLength;
        if (yieldedAt != 0 && yieldedAt < end) end = yieldedAt;
        if (occEnd < end) end = occEnd;
        if (end < start) end = start;
    }
}
