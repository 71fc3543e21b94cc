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
/// Each round is packed into one storage slot; the curve hash stays in the transaction input.
contract EnergyPriceOracle is AggregatorV3Interface, Owned {
    uint256 private constant TRANSMITTER = 1;
    uint256 private constant SIGNER = 2;
    uint256 private constant MAX_SIGNERS = 31;
    uint256 private constant MAX_FUTURE_S = 60;
    uint256 private constant SIG_BYTES = 64; // EIP-2098 compact: r || yParity-and-s
    uint256 private constant SIG_SHIFT = 6; // log2(SIG_BYTES)
    uint256 private constant S_MASK = (1 << 255) - 1;
    uint256 private constant NON_SIGNER = 1;
    uint256 private constant DUPLICATE = 2;
    // The hot slot, read and written on every round: latestRoundId (bits 0..31), latestObservedAt
    // (32..63), quorum (64..71), primaryIndex (72..79), primary (80..239). `primary` caches the
    // first signer that is also a transmitter, so the usual sender needs no further storage read.
    uint256 private constant QUORUM_SHIFT = 64;
    uint256 private constant PRIMARY_INDEX_SHIFT = 72;
    uint256 private constant PRIMARY_SHIFT = 80;
    uint256 private constant LATEST_MASK = (1 << 64) - 1;
    uint256 private constant QUORUM_MASK = 0xff << QUORUM_SHIFT;
    uint256 private constant PRIMARY_MASK = ((1 << 168) - 1) << PRIMARY_INDEX_SHIFT;
    uint256 private constant ANSWER_MASK = (1 << 192) - 1;
    bytes32 private constant NEW_ROUND_TOPIC = keccak256("NewRound(uint256,address,uint256)");
    bytes32 private constant ANSWER_UPDATED_TOPIC = keccak256("AnswerUpdated(int256,uint256,uint256)");
    bytes32 public constant REPORT_TYPEHASH = keccak256(
        "Report(bytes32 feed,uint80 roundId,int192 answer,uint32 observedAt,bytes32 curveHash)"
    );
    bytes32 private constant DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );

    uint8 public immutable override decimals;
    uint256 public constant override version = 4;
    bytes32 public immutable feed;
    int192 public immutable minAnswer;
    int192 public immutable maxAnswer;
    uint32 public immutable maxObservationAge;
    uint256 private immutable cachedChainId;
    bytes32 private immutable cachedDomainSeparator;

    string private s_description;
    uint256 private s_hot;
    address[] private s_signers;
    address[] private s_transmitters;
    /// @dev One slot per round: answer (int192, bits 0..191), observedAt (192..223), updatedAt
    /// (224..255). A fixed-size array indexed by the uint32 round id: the slot needs no hashing.
    uint256[1 << 32] private s_rounds;
    /// @dev Indexed by address: bit 0 transmitter, bit 1 signer, bits 8..15 signer index. A
    /// fixed-size array (slot = base + address, a range the compiler keeps disjoint from every
    /// other variable) rather than a mapping, so a lookup needs no hashing.
    uint256[1 << 160] private s_roles;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
    event NewRound(uint256 indexed roundId, address indexed startedBy, uint256 startedAt);
    event SignersSet(address[] signers, uint8 quorum);
    event TransmittersSet(address[] transmitters);

    constructor(
        address initialOwner,
        bytes32 feedId,
        uint8 decimals_,
        string memory description_,
        int192 minAnswer_,
        int192 maxAnswer_,
        uint32 maxObservationAge_
    ) Owned(initialOwner) {
        require(minAnswer_ < maxAnswer_, "EPO: min must be below max");
        require(maxObservationAge_ > 0, "EPO: zero max age");
        feed = feedId;
        decimals = decimals_;
        s_description = description_;
        minAnswer = minAnswer_;
        maxAnswer = maxAnswer_;
        maxObservationAge = maxObservationAge_;
        cachedChainId = block.chainid;
        cachedDomainSeparator = _buildDomainSeparator();
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
        uint256 packed = s_rounds[roundId_];
        updatedAt = packed >> 224;
        require(updatedAt != 0, "No data present");
        return (roundId_, int192(uint192(packed)), uint32(packed >> 192), updatedAt, roundId_);
    }

    function latestRoundData()
        public
        view
        override
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return getRoundData(uint32(s_hot));
    }

    /// @notice latestRoundData, reverting when the observation is older than `maxAge` seconds.
    function latestRoundDataNoOlderThan(uint256 maxAge)
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        (roundId, answer, startedAt, updatedAt, answeredInRound) = latestRoundData();
        require(block.timestamp <= startedAt + maxAge, "EPO: stale price");
    }

    function latestRound() external view returns (uint256) {
        return uint32(s_hot);
    }

    // ------------------------------------------------------------------ reports

    /// @notice Quorum-of-one path: the sender is an allow-listed transmitter and a signer, and
    /// its transaction signature is the report's signature.
    function transmit(uint80 roundId, int192 answer, uint32 observedAt, bytes32 curveHash) external {
        uint256 hot = s_hot;
        if (msg.sender != address(uint160(hot >> PRIMARY_SHIFT))) {
            uint256 roles = s_roles[uint160(msg.sender)];
            require(roles & TRANSMITTER != 0, "EPO: unauthorised transmitter");
            require(roles & SIGNER != 0, "EPO: transmitter is not a signer");
        }
        require((hot & QUORUM_MASK) == (1 << QUORUM_SHIFT), "EPO: too few signatures");
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
        uint256 hot = s_hot;
        uint256 seen; // bit i set: signer i counted
        uint256 count; // signatures counted, the transmitter's own included
        if (msg.sender == address(uint160(hot >> PRIMARY_SHIFT))) {
            (seen, count) = (1 << ((hot >> PRIMARY_INDEX_SHIFT) & 0xff), 1);
        } else {
            uint256 roles = s_roles[uint160(msg.sender)];
            require(roles & TRANSMITTER != 0, "EPO: unauthorised transmitter");
            if (roles & SIGNER != 0) (seen, count) = (1 << ((roles >> 8) & 0xff), 1);
        }
        uint256 n = signatures.length >> SIG_SHIFT;
        require(n << SIG_SHIFT == signatures.length, "EPO: malformed signatures");
        unchecked {
            count += n;
        }
        require(count >= (hot >> QUORUM_SHIFT) & 0xff, "EPO: too few signatures");
        bytes32 digest = _digest(roundId, answer, observedAt, curveHash);
        uint256 failure = _checkSignatures(digest, signatures, seen);
        require(failure != NON_SIGNER, "EPO: signature by a non-signer");
        require(failure != DUPLICATE, "EPO: duplicate signature");
        _accept(hot, roundId, answer, observedAt);
    }

    /// @dev ecrecover each compact signature and look its signer up: 0 when all are distinct
    /// signers not yet in `seen`, else NON_SIGNER or DUPLICATE. address(0) never has a role.
    function _checkSignatures(bytes32 digest, bytes calldata signatures, uint256 seen)
        private
        view
        returns (uint256 failure)
    {
        uint256 sMask = S_MASK;
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
                let roles := sload(add(s_roles.slot, mload(0)))
                if iszero(and(roles, SIGNER)) {
                    failure := NON_SIGNER
                    break
                }
                let bit := shl(and(shr(8, roles), 0xff), 1)
                if and(seen, bit) {
                    failure := DUPLICATE
                    break
                }
                seen := or(seen, bit)
            }
        }
    }

    function _accept(uint256 hot, uint80 roundId, int192 answer, uint32 observedAt) private {
        unchecked {
            require(roundId > uint32(hot) && roundId <= type(uint32).max, "EPO: round not newer");
            require(observedAt >= uint32(hot >> 32), "EPO: observation older than latest");
            require(uint256(observedAt) + maxObservationAge >= block.timestamp, "EPO: stale observation");
            require(observedAt <= block.timestamp + MAX_FUTURE_S, "EPO: observation in the future");
        }
        (int256 lo, int256 hi) = (minAnswer, maxAnswer);
        bool inBounds;
        assembly {
            inBounds := iszero(or(slt(answer, lo), sgt(answer, hi)))
        }
        require(inBounds, "EPO: answer out of bounds");
        (uint256 answerMask, uint256 latestMask) = (ANSWER_MASK, LATEST_MASK);
        (bytes32 newRound, bytes32 answerUpdated) = (NEW_ROUND_TOPIC, ANSWER_UPDATED_TOPIC);
        assembly ("memory-safe") {
            sstore(
                add(s_rounds.slot, roundId),
                or(and(answer, answerMask), or(shl(192, observedAt), shl(224, timestamp())))
            )
            sstore(s_hot.slot, or(and(hot, not(latestMask)), or(roundId, shl(32, observedAt))))
            mstore(0, observedAt)
            log3(0, 32, newRound, roundId, caller())
            mstore(0, timestamp())
            log3(0, 32, answerUpdated, answer, roundId)
        }
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

    /// @dev keccak256("\x19\x01" || domainSeparator || structHash), hashed over free memory.
    function _digest(uint80 roundId, int192 answer, uint32 observedAt, bytes32 curveHash)
        private
        view
        returns (bytes32 digest)
    {
        bytes32 domain = domainSeparator();
        (bytes32 typeHash, bytes32 feed_) = (REPORT_TYPEHASH, feed);
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, typeHash)
            mstore(add(p, 32), feed_)
            mstore(add(p, 64), roundId)
            mstore(add(p, 96), answer)
            mstore(add(p, 128), observedAt)
            mstore(add(p, 160), curveHash)
            let structHash := keccak256(p, 192)
            mstore(p, 0x1901)
            mstore(add(p, 32), domain)
            mstore(add(p, 64), structHash)
            digest := keccak256(add(p, 30), 66)
        }
    }

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(
            abi.encode(
                DOMAIN_TYPEHASH, keccak256("EnergyPriceOracle"), keccak256("1"), block.chainid, address(this)
            )
        );
    }

    // ------------------------------------------------------------------ administration

    /// @notice Replace the signer set and the quorum (f+1 for a committee of 2f+1 or more).
    function setSigners(address[] calldata newSigners, uint8 quorum_) external onlyOwner {
        require(newSigners.length > 0 && newSigners.length <= MAX_SIGNERS, "EPO: 1 to 31 signers");
        require(quorum_ > 0 && quorum_ <= newSigners.length, "EPO: quorum out of range");
        for (uint256 i = 0; i < s_signers.length; ++i) {
            s_roles[uint160(s_signers[i])] &= TRANSMITTER;
        }
        for (uint256 i = 0; i < newSigners.length; ++i) {
            address s = newSigners[i];
            require(s != address(0), "EPO: zero signer");
            require(s_roles[uint160(s)] & SIGNER == 0, "EPO: duplicate signer");
            s_roles[uint160(s)] = (s_roles[uint160(s)] & TRANSMITTER) | SIGNER | (i << 8);
        }
        s_signers = newSigners;
        s_hot = (s_hot & ~QUORUM_MASK) | (uint256(quorum_) << QUORUM_SHIFT);
        _cachePrimary();
        emit SignersSet(newSigners, quorum_);
    }

    /// @notice Replace the transmitter allow-list.
    function setTransmitters(address[] calldata newTransmitters) external onlyOwner {
        for (uint256 i = 0; i < s_transmitters.length; ++i) {
            s_roles[uint160(s_transmitters[i])] &= ~TRANSMITTER;
        }
        for (uint256 i = 0; i < newTransmitters.length; ++i) {
            require(newTransmitters[i] != address(0), "EPO: zero transmitter");
            s_roles[uint160(newTransmitters[i])] |= TRANSMITTER;
        }
        s_transmitters = newTransmitters;
        _cachePrimary();
        emit TransmittersSet(newTransmitters);
    }

    function _cachePrimary() private {
        uint256 primary;
        for (uint256 i = 0; i < s_signers.length; ++i) {
            if (s_roles[uint160(s_signers[i])] & TRANSMITTER != 0) {
                primary = (uint256(uint160(s_signers[i])) << PRIMARY_SHIFT) | (i << PRIMARY_INDEX_SHIFT);
                break;
            }
        }
        s_hot = (s_hot & ~PRIMARY_MASK) | primary;
    }

    function signers() external view returns (address[] memory) {
        return s_signers;
    }

    function transmitters() external view returns (address[] memory) {
        return s_transmitters;
    }

    function quorum() external view returns (uint8) {
        return uint8(s_hot >> QUORUM_SHIFT);
    }
}
