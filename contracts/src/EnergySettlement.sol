// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "./AggregatorV3Interface.sol";

interface IFlagRegistry {
    function isFlagged(bytes32 meterId) external view returns (bool);
}

/// @title EnergySettlement
/// @notice A minimal consumer: settles a trade at the feed's price, read as any Chainlink feed
/// with a staleness check, and refuses meters flagged for fraud or tampering.
contract EnergySettlement {
    AggregatorV3Interface public immutable priceFeed;
    IFlagRegistry public immutable flags;
    uint256 public immutable maxPriceAge;

    event Settled(bytes32 indexed meterId, uint256 energyWh, int256 price, uint256 amount, uint80 roundId);

    constructor(AggregatorV3Interface priceFeed_, IFlagRegistry flags_, uint256 maxPriceAge_) {
        priceFeed = priceFeed_;
        flags = flags_;
        maxPriceAge = maxPriceAge_;
    }

    /// @notice Amount due (price units x Wh / 1000) for `energyWh` delivered to `meterId`.
    function quote(bytes32 meterId, uint256 energyWh) public view returns (uint256 amount, int256 price, uint80 roundId) {
        require(!flags.isFlagged(meterId), "SET: meter is flagged");
        uint256 updatedAt;
        (roundId, price,, updatedAt,) = priceFeed.latestRoundData();
        require(updatedAt != 0 && block.timestamp - updatedAt <= maxPriceAge, "SET: stale price");
        require(price > 0, "SET: non-positive price");
        amount = (uint256(price) * energyWh) / 1000;
    }

    function settle(bytes32 meterId, uint256 energyWh) external returns (uint256 amount) {
        int256 price;
        uint80 roundId;
        (amount, price, roundId) = quote(meterId, energyWh);
        emit Settled(meterId, energyWh, price, amount, roundId);
    }
}
