// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice The floor rule written the plain way, as a fold over the whole queue from its
/// first entry: no head, no settling, no binary search. The contract must agree with it.
contract ReferenceFloor {
    struct Request {
        address speaker;
        uint256 enqueuedAt;
        uint256 yieldedAt;
        bool withdrawn;
    }

    Request[] public requests;
    uint256 public immutable occStart;
    uint256 public immutable occEnd;
    uint256 public immutable slotLength;

    constructor(uint256 occStart_, uint256 occEnd_, uint256 slotLength_) {
        occStart = occStart_;
        occEnd = occEnd_;
        slotLength = slotLength_;
    }

    function count() external view returns (uint256) {
        return requests.length;
    }

    function add(address speaker, uint256 at) external {
        requests.push(Request(speaker, at, 0, false));
    }

    function withdraw(uint256 i) external {
        requests[i].withdrawn = true;
    }

    function yieldAt(uint256 i, uint256 at) external {
        requests[i].yieldedAt = at;
    }

    /// Slot of request `i`, empty if withdrawn.
    function slotOf(uint256 i) public view returns (uint256 start, uint256 end) {
        uint256 previousEnd;
        for (uint256 k; k <= i; ++k) {
            Request memory r = requests[k];
            if (r.withdrawn) {
                (start, end) = (previousEnd, previousEnd);
                continue;
            }
            start = r.enqueuedAt;
            if (occStart > start) start = occStart;
            if (previousEnd > start) start = previousEnd;
            end = start + slotLength;
            if (r.yieldedAt != 0 && r.yieldedAt < end) end = r.yieldedAt;
            if (occEnd < end) end = occEnd;
            if (end < start) end = start;
            previousEnd = end;
        }
    }

    function floorAt(uint256 t) external view returns (address speaker, uint256 start, uint256 end, uint256 index) {
        if (t < occStart || t >= occEnd) return (address(0), 0, 0, 0);
        for (uint256 k; k < requests.length; ++k) {
            if (requests[k].withdrawn) continue;
            (uint256 a, uint256 b) = slotOf(k);
            if (t >= a && t < b) return (requests[k].speaker, a, b, k);
        }
    }

    /// The queue as it stands at `t`, the plain way: its head is the first request neither
    /// withdrawn nor over by `t`; `live` counts the requests neither withdrawn nor over (all
    /// of them past the head), `withdrawn` the withdrawn requests past the head, and
    /// `withdrawnBy` says whether `speaker` has one of those.
    function pending(uint256 t, address speaker)
        external
        view
        returns (uint256 head, uint256 live, uint256 withdrawn, bool withdrawnBy)
    {
        uint256 n = requests.length;
        head = n;
        for (uint256 k; k < n; ++k) {
            if (requests[k].withdrawn) continue;
            (, uint256 b) = slotOf(k);
            if (b <= t) continue;
            if (head == n) head = k;
            ++live;
        }
        for (uint256 k = head; k < n; ++k) {
            if (!requests[k].withdrawn) continue;
            ++withdrawn;
            if (requests[k].speaker == speaker) withdrawnBy = true;
        }
    }

    /// The request of `speaker` that has not ended by `t` and was not withdrawn, if any.
    function liveOf(address speaker, uint256 t) external view returns (bool found, uint256 index) {
        for (uint256 k; k < requests.length; ++k) {
            if (requests[k].speaker != speaker || requests[k].withdrawn) continue;
            (, uint256 b) = slotOf(k);
            if (b > t) return (true, k);
        }
    }
}
