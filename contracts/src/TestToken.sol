// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title TestToken
/// @notice OpenZeppelin's ERC-20 with a fixed supply minted to one holder and chosen decimals:
/// the token the tests and benchmarks settle trades in (a market would use its stablecoin).
contract TestToken is ERC20 {
    uint8 private immutable s_decimals;

    constructor(string memory name_, string memory symbol_, uint8 decimals_, address holder, uint256 supply)
        ERC20(name_, symbol_)
    {
        s_decimals = decimals_;
        _mint(holder, supply);
    }

    function decimals() public view override returns (uint8) {
        return s_decimals;
    }
}
