// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {DeployBase} from "../script/Deploy.s.sol";
import {vm} from "./utils/Vm.sol";

/// Stands in for Arbitrum's ArbSys precompile: the L2 block is far ahead of the L1 block,
/// which is what `block.number` reads on Arbitrum.
contract ArbSysStandIn {
    function arbBlockNumber() external pure returns (uint256) {
        return 280_000_000;
    }
}

contract DeployHarness is DeployBase {
    function deployBlock() external view returns (uint256) {
        return l2BlockNumber();
    }
}

/// The deployment records the block the indexer starts scanning at, in the chain's own numbering.
contract DeployTest {
    function test_deployBlock_isTheL2BlockOnArbitrum() public {
        DeployHarness h = new DeployHarness();
        vm.roll(21_000_000); // an L1 block number, as Arbitrum's block.number reads
        vm.etch(address(100), address(new ArbSysStandIn()).code);
        vm.chainId(42161);
        vm.assertEq(h.deployBlock(), 280_000_000, "Arbitrum One: ArbSys.arbBlockNumber()");
        vm.chainId(421614);
        vm.assertEq(h.deployBlock(), 280_000_000, "Arbitrum Sepolia: ArbSys.arbBlockNumber()");
        vm.chainId(31337);
        vm.assertEq(h.deployBlock(), 21_000_000, "elsewhere: block.number");
    }
}
