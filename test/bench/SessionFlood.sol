// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Assembly} from "../../contracts/Assembly.sol";
import {IAssembly} from "../../contracts/interfaces/IAssembly.sol";

/// @notice Benchmark helper: as Assembly's owner, creates many sessions per transaction so
/// a local chain holds 100,000 real Assembly events in a few hundred blocks.
contract SessionFlood {
    /// @notice Take ownership offered with `transferOwnership`.
    function accept(Assembly floor) external {
        floor.acceptOwnership();
    }

    /// @notice Create `n` one-hour sessions starting at `start`.
    function flood(Assembly floor, uint256 n, uint40 start) external {
        IAssembly.SessionParams memory p;
        p.start = start;
        p.duration = 1 hours;
        for (uint256 i; i < n; ++i) {
            floor.createSession(p);
        }
    }
}
