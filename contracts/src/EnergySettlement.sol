// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {AggregatorV3Interface} from "./AggregatorV3Interface.sol";
import {Owned} from "./Owned.sol";

interface IFlagRegistry {
    function isFlagged(bytes32 meterId) external view returns (bool);
}

/// @title EnergySettlement
/// @notice Settles energy trades in an ERC-20 held in escrow, at the price feed's latest price.
/// Buyers deposit tokens; a trade (by id, once) moves `price x energy` from the buyer meter's
/// owner's escrow to the seller meter's owner. Only an authorised settler or the buyer meter's
/// owner settles; flagged meters and stale prices are refused.
contract EnergySettlement is Owned, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice At most 10^12 Wh (a terawatt-hour) in one trade: keeps the amount far from overflow.
    uint256 public constant MAX_ENERGY_WH = 1e12;

    AggregatorV3Interface public immutable priceFeed;
    IFlagRegistry public immutable flags;
    IERC20 public immutable token;
    /// @notice A price observed longer ago than this is stale, in seconds.
    uint256 public immutable maxPriceAge;
    uint256 private immutable priceScale; // 10^feed decimals x 1000 Wh per kWh
    uint256 private immutable tokenUnit; // 10^token decimals

    mapping(address => bool) public isSettler;
    mapping(bytes32 => address) public meterOwner;
    mapping(address => uint256) public escrowOf;
    mapping(bytes32 => uint256) public settledInRound; // trade id => feed round it settled at (0: not yet)

    event SettlerSet(address indexed settler, bool allowed);
    event MeterRegistered(bytes32 indexed meterId, address indexed owner);
    event Deposited(address indexed account, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount);
    event Settled(
        bytes32 indexed tradeId,
        bytes32 indexed buyerMeter,
        bytes32 indexed sellerMeter,
        uint256 energyWh,
        int256 price,
        uint256 amount,
        uint80 roundId
    );

    constructor(
        address initialOwner,
        AggregatorV3Interface priceFeed_,
        IFlagRegistry flags_,
        IERC20Metadata token_,
        uint256 maxPriceAge_,
        address[] memory settlers
    ) Owned(initialOwner) {
        require(maxPriceAge_ > 0, "SET: zero max price age");
        priceFeed = priceFeed_;
        flags = flags_;
        token = IERC20(address(token_));
        maxPriceAge = maxPriceAge_;
        priceScale = 1000 * 10 ** priceFeed_.decimals();
        tokenUnit = 10 ** token_.decimals();
        for (uint256 i = 0; i < settlers.length; ++i) {
            _setSettler(settlers[i], true);
        }
    }

    // ------------------------------------------------------------------ administration

    function setSettler(address settler, bool allowed) external onlyOwner {
        _setSettler(settler, allowed);
    }

    function _setSettler(address settler, bool allowed) private {
        require(settler != address(0), "SET: zero settler");
        isSettler[settler] = allowed;
        emit SettlerSet(settler, allowed);
    }

    /// @notice Record who pays for (and is paid for) a meter's energy.
    function registerMeter(bytes32 meterId, address account) external onlyOwner {
        require(account != address(0), "SET: zero meter owner");
        meterOwner[meterId] = account;
        emit MeterRegistered(meterId, account);
    }

    // ------------------------------------------------------------------ escrow

    /// @notice Move `amount` tokens (approved beforehand) into the sender's escrow.
    function deposit(uint256 amount) external nonReentrant {
        require(amount > 0, "SET: zero deposit");
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before; // fee-on-transfer tokens
        escrowOf[msg.sender] += received;
        emit Deposited(msg.sender, received);
    }

    function withdraw(uint256 amount) external nonReentrant {
        require(amount > 0 && amount <= escrowOf[msg.sender], "SET: amount exceeds escrow");
        escrowOf[msg.sender] -= amount;
        token.safeTransfer(msg.sender, amount);
        emit Withdrawn(msg.sender, amount);
    }

    // ------------------------------------------------------------------ settlement

    /// @notice Amount due, in token units (rounded down), for `energyWh` at the latest price.
    function quote(uint256 energyWh) public view returns (uint256 amount, int256 price, uint80 roundId) {
        require(energyWh > 0 && energyWh <= MAX_ENERGY_WH, "SET: energy out of range");
        uint256 startedAt;
        uint80 answeredInRound;
        (roundId, price, startedAt,, answeredInRound) = priceFeed.latestRoundData();
        require(
            startedAt != 0 && startedAt <= block.timestamp && block.timestamp - startedAt <= maxPriceAge,
            "SET: stale price"
        );
        require(answeredInRound >= roundId, "SET: stale price");
        require(price > 0, "SET: non-positive price");
        amount = Math.mulDiv(uint256(price), energyWh * tokenUnit, priceScale);
    }

    /// @notice Pay trade `tradeId` once: `energyWh` delivered from `sellerMeter` to `buyerMeter`.
    function settle(bytes32 tradeId, bytes32 buyerMeter, bytes32 sellerMeter, uint256 energyWh)
        external
        nonReentrant
        returns (uint256 amount)
    {
        address payer = meterOwner[buyerMeter];
        address payee = meterOwner[sellerMeter];
        require(isSettler[msg.sender] || (payer != address(0) && msg.sender == payer), "SET: unauthorised settler");
        require(settledInRound[tradeId] == 0, "SET: trade already settled");
        require(payer != address(0), "SET: unknown buyer meter");
        require(payee != address(0), "SET: unknown seller meter");
        require(buyerMeter != sellerMeter, "SET: buyer and seller are one meter");
        require(!flags.isFlagged(buyerMeter) && !flags.isFlagged(sellerMeter), "SET: meter is flagged");
        int256 price;
        uint80 roundId;
        (amount, price, roundId) = quote(energyWh);
        require(amount > 0, "SET: amount rounds to zero");
        require(amount <= escrowOf[payer], "SET: insufficient escrow");
        settledInRound[tradeId] = roundId;
        escrowOf[payer] -= amount;
        token.safeTransfer(payee, amount);
        emit Settled(tradeId, buyerMeter, sellerMeter, energyWh, price, amount, roundId);
    }

    function isSettled(bytes32 tradeId) external view returns (bool) {
        return settledInRound[tradeId] != 0;
    }
}
