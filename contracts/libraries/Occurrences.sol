// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAssembly} from "../interfaces/IAssembly.sol";

/// @title Occurrences
/// @notice Calendar arithmetic of a (possibly recurring) session, in O(1): a weekly session
/// is one stored record, never one per week.
library Occurrences {
    /// @notice Bounds of occurrence `i`; the end is cut at the cancellation time.
    function bounds(IAssembly.Session memory s, uint256 i) internal pure returns (uint256 start, uint256 end) {
        start = uint256(s.start) + i * s.period;
        end = start + s.duration;
        if (s.cancelledAt != 0 && s.cancelledAt < end) end = s.cancelledAt;
        if (end < start) end = start;
    }

    /// @notice Whether occurrence `i` exists in the schedule (cancellation aside).
    function exists(IAssembly.Session memory s, uint256 i) internal pure returns (bool) {
        if (s.period == 0) return i == 0;
        return (s.count == 0 || i < s.count) && i <= type(uint32).max;
    }

    /// @notice The occurrence in progress at `t`, if any.
    function containing(IAssembly.Session memory s, uint256 t) internal pure returns (bool found, uint32 i) {
        if (t < s.start) return (false, 0);
        uint256 n = s.period == 0 ? 0 : (t - s.start) / s.period;
        if (!exists(s, n)) return (false, 0);
        (uint256 start, uint256 end) = bounds(s, n);
        if (t < start || t >= end) return (false, 0);
        return (true, uint32(n));
    }

    /// @notice The occurrence in progress at `t`, or else the next one to begin; what a
    /// request for the floor made at `t` queues for. Ignores cancellation.
    function currentOrNext(IAssembly.Session memory s, uint256 t) internal pure returns (bool found, uint32 i) {
        uint256 n;
        if (t >= s.start && s.period != 0) {
            n = (t - s.start) / s.period;
            if (t >= uint256(s.start) + n * s.period + s.duration) n++;
        } else if (t >= uint256(s.start) + s.duration) {
            return (false, 0);
        }
        if (!exists(s, n)) return (false, 0);
        return (true, uint32(n));
    }
}
