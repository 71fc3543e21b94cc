// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @notice Two-step ownership: the owner proposes, the new owner accepts.
abstract contract Owned {
    address public owner;
    address public pendingOwner;

    event OwnershipTransferRequested(address indexed from, address indexed to);
    event OwnershipTransferred(address indexed from, address indexed to);

    constructor(address initialOwner) {
        require(initialOwner != address(0), "Owned: zero owner");
        owner = initialOwner;
        emit OwnershipTransferred(address(0), initialOwner);
    }

    modifier onlyOwner() {
        require(msg.sender == owner, "Owned: caller is not the owner");
        _;
    }

    function transferOwnership(address to) external onlyOwner {
        require(to != address(0), "Owned: zero owner");
        pendingOwner = to;
        emit OwnershipTransferRequested(owner, to);
    }

    function acceptOwnership() external {
        require(msg.sender == pendingOwner, "Owned: caller is not the pending owner");
        emit OwnershipTransferred(owner, msg.sender);
        owner = msg.sender;
        pendingOwner = address(0);
    }
}
