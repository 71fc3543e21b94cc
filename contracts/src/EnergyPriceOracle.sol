// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "./AggregatorV3Interface.sol";
import {Owned} from "./Owned.sol";

/// @title EnergyPriceOracle
/// @notice A Chainlink-compatible price feed for one market zone, written by oracle reports.
/// A report is EIP-712 typed data `Report(bytes32 feed,uint80 roundId,int192 answer,
/// uint32 observedAt,bytes32 curveHash)` signed by `quorum` distinct signers and sent by an
/// allow-listed transmitter. When the transmitter is itself a signer, its transaction signature
/// counts as one report signature (so with a quorum of one no extra signature is sent).
/// Signers, quorum and transmitters are constructor arguments: no deployed feed has quorum 0.
/// Each round is packed into one storage slot; the curve hash stays in the transaction input.
contract EnergyPriceOracle is AggregatorV3Interface, Owned {
    uint256 private constant MAX_SIGNERS = 31;
    uint256 private constant MAX_TRANSMITTERS = 31;
    /// @dev Clock skew tolerated between the oracle and the chain. An observation up to this far
    /// ahead of the block is accepted and recorded at the block's time (startedAt <= updatedAt);
    /// anything further ahead is refused.
    uint256 private constant MAX_FUTURE_S = 60;
    uint256 internal constant SIG_BYTES = 64; // EIP-2098 compact: r || yParity-and-s
    bytes32 internal constant S_MASK = bytes32((uint256(1) << 255) - 1);
    bytes32 public constant REPORT_TYPEHASH = keccak256(
        "Report(bytes32 feed,uint80 roundId,int192 answer,uint32 observedAt,bytes32 curveHash)"
    );
    bytes32 private constant DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );

    /// @dev Read and written on every round: one slot. `primary` caches the first signer that is
    /// also a transmitter, so the usual sender needs no further storage read.
    struct Hot {
        uint32 latestRoundId;
        uint32 latestStartedAt;
        uint8 quorum;
        uint8 primaryIndex;
        address primary;
    }

    /// @dev One slot per round: the answer, the observation time (clamped to the block) and the
    /// block time it was recorded at.
    struct Round {
        int192 answer;
        uint32 startedAt;
        uint32 updatedAt;
    }

    struct Role {
        bool transmitter;
        bool signer;
        uint8 index;
    }

    uint8 public immutable override decimals;
    uint256 public constant override version = 5;
    bytes32 public immutable feed;
    int192 public immutable minAnswer;
    int192 public immutable maxAnswer;
    uint32 public immutable maxObservationAge;
    /// @notice Seconds per round: round `r` is the market interval starting at `r * roundInterval`.
    uint32 public immutable roundInterval;
    uint256 private immutable cachedChainId;
    bytes32 private immutable cachedDomainSeparator;

    string private s_description;
    Hot private s_hot;
    address[] private s_signers;
    address[] private s_transmitters;
    /// @dev A fixed-size array indexed by the uint32 round id: the slot needs no hashing.
    Round[1 << 32] private s_rounds;
    mapping(address => Role) internal s_roles;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
    event SignersSet(address[] signers, uint8 quorum);
    event TransmittersSet(address[] transmitters);

    /// @notice Immutable settings of a feed (a struct keeps the constructor readable).
    struct Config {
        bytes32 feedId;
        uint8 decimals;
        string description;
        int192 minAnswer;
        int192 maxAnswer;
        uint32 maxObservationAge;
        uint32 roundInterval;
    }

    constructor(
        address initialOwner,
        Config memory config,
        address[] memory signers_,
        uint8 quorum_,
        address[] memory transmitters_
    ) Owned(initialOwner) {
        require(config.minAnswer < config.maxAnswer, "EPO: min must be below max");
        require(config.maxObservationAge > 0, "EPO: zero max age");
        require(config.roundInterval > 0, "EPO: zero round interval");
        feed = config.feedId;
        decimals = config.decimals;
        s_description = config.description;
        minAnswer = config.minAnswer;
        maxAnswer = config.maxAnswer;
        maxObservationAge = config.maxObservationAge;
        roundInterval = config.roundInterval;
        cachedChainId = block.chainid;
        cachedDomainSeparator = _buildDomainSeparator();
        _setSigners(signers_, quorum_);
        _setTransmitters(transmitters_);
    }

    // ------------------------------------------------------------------ AggregatorV3Interface

    function description() external view override returns (string memory) {
        return s_description;
    }

    function getRoundData(uint80 roundId_)
        public
        view
        override
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        require(roundId_ <= type(uint32).max, "No data present");
        Round memory r = s_rounds[roundId_];
        require(r.updatedAt != 0, "No data present");
        return (roundId_, r.answer, r.startedAt, r.updatedAt, roundId_);
    }

    function latestRoundData()
        public
        view
        override
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return getRoundData(s_hot.latestRoundId);
    }

    /// @notice latestRoundData, reverting when the observation is older than `maxAge` seconds.
    function latestRoundDataNoOlderThan(uint256 maxAge)
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        (roundId, answer, startedAt, updatedAt, answeredInRound) = latestRoundData();
        require(block.timestamp - startedAt <= maxAge, "EPO: stale price");
    }

    function latestRound() external view returns (uint256) {
        return s_hot.latestRoundId;
    }

    // ------------------------------------------------------------------ reports

    /// @notice Quorum-of-one path: the sender is an allow-listed transmitter and a signer, and
    /// its transaction signature is the report's signature.
    function transmit(uint80 roundId, int192 answer, uint32 observedAt, bytes32 curveHash) external {
        Hot memory hot = s_hot;
        if (msg.sender != hot.primary) {
            Role memory role = s_roles[msg.sender];
            require(role.transmitter, "EPO: unauthorised transmitter");
            require(role.signer, "EPO: transmitter is not a signer");
        }
        require(hot.quorum == 1, "EPO: too few signatures");
        _accept(hot, roundId, answer, observedAt);
        curveHash; // signed as part of the transaction; kept in its input, not in storage
    }

    /// @notice Committee path: `signatures` holds EIP-2098 compact EIP-712 signatures of the
    /// report (64 bytes each: r, then s with the y parity in its top bit) by distinct signers;
    /// a transmitter that is a signer counts as one.
    function transmitSigned(
        uint80 roundId,
        int192 answer,
        uint32 observedAt,
        bytes32 curveHash,
        bytes calldata signatures
    ) external {
        Hot memory hot = s_hot;
        uint256 seen; // bit i set: signer i counted
        uint256 count; // signatures counted, the transmitter's own included
        if (msg.sender == hot.primary) {
            (seen, count) = (1 << hot.primaryIndex, 1);
        } else {
            Role memory role = s_roles[msg.sender];
            require(role.transmitter, "EPO: unauthorised transmitter");
            if (role.signer) (seen, count) = (1 << role.index, 1);
        }
        require(signatures.length % SIG_BYTES == 0, "EPO: malformed signatures");
        require(count + signatures.length / SIG_BYTES >= hot.quorum, "EPO: too few signatures");
        _checkSignatures(_digest(roundId, answer, observedAt, curveHash), signatures, seen);
        _accept(hot, roundId, answer, observedAt);
    }

    /// @dev Every signature must recover to a signer not yet in `seen`. address(0), which
    /// ecrecover returns for an invalid signature, never has a role.
    /// The one piece of inline assembly left, because benchmarks/gas.py shows it pays: against
    /// the same loop in plain Solidity (bench/EnergyPriceOraclePlainLoop.sol) it saves 600-750
    /// gas per signature beyond the transmitter's, 1.0% of a 2-of-4 round, 3.5% of 5-of-13 and
    /// 5.9% of 11-of-31, and it is what keeps 5 signers (80,288) under Chronicle Scribe's 81,025
    /// (plain: 83,194). It writes only free memory (the ecrecover input) and scratch space (the
    /// mapping key), and reads Role's packed slot directly (`signer` is byte 1, `index` byte 2).
    function _checkSignatures(bytes32 digest, bytes calldata signatures, uint256 seen) internal view virtual {
        uint256 failure;
        bytes32 sMask = S_MASK;
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, digest)
            for {
                let sig := signatures.offset
                let end := add(sig, signatures.length)
            } lt(sig, end) { sig := add(sig, SIG_BYTES) } {
                let vs := calldataload(add(sig, 32))
                mstore(add(p, 32), add(27, shr(255, vs)))
                mstore(add(p, 64), calldataload(sig))
                mstore(add(p, 96), and(vs, sMask))
                mstore(0, 0)
                pop(staticcall(gas(), 1, p, 128, 0, 32))
                mstore(32, s_roles.slot) // s_roles[signer]: keccak256(signer . slot)
                let role := sload(keccak256(0, 64))
                if iszero(and(shr(8, role), 0xff)) {
                    failure := 1
                    break
                }
                let bit := shl(and(shr(16, role), 0xff), 1)
                if and(seen, bit) {
                    failure := 2
                    break
                }
                seen := or(seen, bit)
            }
        }
        require(failure != 1, "EPO: signature by a non-signer");
        require(failure != 2, "EPO: duplicate signature");
    }

    /// @dev Round ids are bounded by the clock, not by the last id: round `r` must have started
    /// (`r * roundInterval <= observedAt`), and the observation is at most MAX_FUTURE_S ahead of
    /// the block. So no report, however signed, can take the id beyond the current interval, and
    /// every later interval still has a fresh id: no id sequence stops a later valid report. A
    /// daemon catching up after days down sends older intervals with today's observation time,
    /// which the bound allows; uint32 ids last until the year 2106 even at one-second rounds.
    /// Chainlink's AnswerUpdated is emitted; AggregatorInterface v2's NewRound is not (its
    /// fields are the sender and getRoundData's startedAt; it would cost 1,756 gas a round).
    function _accept(Hot memory hot, uint80 roundId, int192 answer, uint32 observedAt) private {
        uint256 time = block.timestamp;
        require(roundId > hot.latestRoundId, "EPO: round not newer");
        unchecked {
            // uint32 + uint32 and a block time + 60 cannot overflow; roundInterval is above 0
            require(observedAt <= time + MAX_FUTURE_S, "EPO: observation in the future");
            require(roundId <= observedAt / roundInterval, "EPO: round ahead of its observation");
            require(observedAt >= hot.latestStartedAt, "EPO: observation older than latest");
            require(uint256(observedAt) + maxObservationAge >= time, "EPO: stale observation");
        }
        require(answer >= minAnswer && answer <= maxAnswer, "EPO: answer out of bounds");
        uint32 startedAt = observedAt < time ? observedAt : uint32(time); // startedAt <= updatedAt
        Round storage round = s_rounds[roundId];
        (round.answer, round.startedAt, round.updatedAt) = (answer, startedAt, uint32(time));
        (s_hot.latestRoundId, s_hot.latestStartedAt) = (uint32(roundId), startedAt);
        emit AnswerUpdated(answer, roundId, time);
    }

    // ------------------------------------------------------------------ EIP-712

    function domainSeparator() public view returns (bytes32) {
        return block.chainid == cachedChainId ? cachedDomainSeparator : _buildDomainSeparator();
    }

    function reportDigest(uint80 roundId, int192 answer, uint32 observedAt, bytes32 curveHash)
        public
        view
        returns (bytes32)
    {
        return _digest(roundId, answer, observedAt, curveHash);
    }

    function _digest(uint80 roundId, int192 answer, uint32 observedAt, bytes32 curveHash)
        private
        view
        returns (bytes32)
    {
        bytes32 structHash = keccak256(abi.encode(REPORT_TYPEHASH, feed, roundId, answer, observedAt, curveHash));
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(
            abi.encode(
                DOMAIN_TYPEHASH, keccak256("EnergyPriceOracle"), keccak256("1"), block.chainid, address(this)
            )
        );
    }

    // ------------------------------------------------------------------ administration

    /// @notice Replace the signer set and the quorum (f+1 for a committee of 3f+1).
    function setSigners(address[] calldata newSigners, uint8 quorum_) external onlyOwner {
        _setSigners(newSigners, quorum_);
    }

    /// @notice Replace the transmitter allow-list.
    function setTransmitters(address[] calldata newTransmitters) external onlyOwner {
        _setTransmitters(newTransmitters);
    }

    function _setSigners(address[] memory newSigners, uint8 quorum_) private {
        require(newSigners.length > 0 && newSigners.length <= MAX_SIGNERS, "EPO: 1 to 31 signers");
        require(quorum_ > 0 && quorum_ <= newSigners.length, "EPO: quorum out of range");
        for (uint256 i = 0; i < s_signers.length; ++i) {
            Role storage old = s_roles[s_signers[i]];
            (old.signer, old.index) = (false, 0);
        }
        for (uint256 i = 0; i < newSigners.length; ++i) {
            Role storage role = s_roles[newSigners[i]];
            require(newSigners[i] != address(0), "EPO: zero signer");
            require(!role.signer, "EPO: duplicate signer");
            (role.signer, role.index) = (true, uint8(i));
        }
        s_signers = newSigners;
        s_hot.quorum = quorum_;
        _cachePrimary();
        emit SignersSet(newSigners, quorum_);
    }

    function _setTransmitters(address[] memory newTransmitters) private {
        require(
            newTransmitters.length > 0 && newTransmitters.length <= MAX_TRANSMITTERS, "EPO: 1 to 31 transmitters"
        );
        for (uint256 i = 0; i < s_transmitters.length; ++i) {
            s_roles[s_transmitters[i]].transmitter = false;
        }
        for (uint256 i = 0; i < newTransmitters.length; ++i) {
            Role storage role = s_roles[newTransmitters[i]];
            require(newTransmitters[i] != address(0), "EPO: zero transmitter");
            require(!role.transmitter, "EPO: duplicate transmitter");
            role.transmitter = true;
        }
        s_transmitters = newTransmitters;
        _cachePrimary();
        emit TransmittersSet(newTransmitters);
    }

    function _cachePrimary() private {
        (address primary, uint8 index) = (address(0), 0);
        for (uint256 i = 0; i < s_signers.length; ++i) {
            if (s_roles[s_signers[i]].transmitter) {
                (primary, index) = (s_signers[i], uint8(i));
                break;
            }
        }
        (s_hot.primary, s_hot.primaryIndex) = (primary, index);
    }

    function signers() external view returns (address[] memory) {
        return s_signers;
    }

    function transmitters() external view returns (address[] memory) {
        return s_transmitters;
    }

    function quorum() external view returns (uint8) {
        return s_hot.quorum;
    }
}
