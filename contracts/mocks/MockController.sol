// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ILivepeerController} from "../interfaces/ILivepeer.sol";

/// @title MockController
/// @notice Stand-in for Livepeer's Controller, so local deployments resolve Livepeer's
/// contracts exactly as the Arbitrum One deployment does.
contract MockController is ILivepeerController {
    mapping(bytes32 => address) internal _contracts;

    event SetContractInfo(bytes32 id, address contractAddress, bytes20 gitCommitHash);

    /// @notice Register `contractAddress` under `id`.
    function setContractInfo(bytes32 id, address contractAddress, bytes20 gitCommitHash) external {
        _contracts[id] = contractAddress;
        emit SetContractInfo(id, contractAddress, gitCommitHash);
    }

    /// @inheritdoc ILivepeerController
    function getContract(bytes32 id) external view returns (address) {
        return _contracts[id];
    }
}
