// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title MockLivepeerToken
/// @notice Minimal stand-in for LPT: the target of sample treasury proposals on local chains.
contract MockLivepeerToken {
    string public constant symbol = "LPT";
    mapping(address => uint256) public balanceOf;

    event Transfer(address indexed from, address indexed to, uint256 value);

    /// @notice The sender holds less than it tries to transfer.
    error InsufficientBalance(uint256 balance, uint256 needed);

    /// @notice Mint `amount` to `to`.
    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    /// @notice Move `amount` from the caller to `to`.
    function transfer(address to, uint256 amount) external returns (bool) {
        uint256 balance = balanceOf[msg.sender];
        if (balance < amount) revert InsufficientBalance(balance, amount);
        balanceOf[msg.sender] = balance - amount;
        balanceOf[to] += amount;
        emit Transfer(msg.sender, to, amount);
        return true;
    }
}
