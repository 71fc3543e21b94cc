// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Owned} from "./Owned.sol";

/// @title AnomalyRegistry
/// @notice One batch per detection run: the Merkle root of its anomalies, the count, the highest
/// severity and the detection time (one slot plus the root), so a batch costs the same gas
/// whatever its size. The tree is OpenZeppelin's StandardMerkleTree: a leaf is
/// `keccak256(keccak256(abi.encode(LEAF_TYPEHASH, batchId, meterId, ts, kind, severity,
/// scoreMilli)))`, built here from the anomaly's fields, and pairs are hashed sorted. A meter is
/// flagged (fraud, tampering) only with evidence: a flagging anomaly of that meter, proven to be
/// in the batch. Other contracts read flags with `isFlagged`.
contract AnomalyRegistry is Owned {
    /// @notice One detected anomaly, as the detector reported it.
    struct Anomaly {
        bytes32 meterId; // keccak256 of the meter id
        uint64 ts; // unix time of the reading
        bytes32 kind; // keccak256 of the anomaly type
        uint8 severity; // 1 low .. 4 critical
        int64 scoreMilli; // detector score x 1000
    }

    /// @notice A meter to flag, with the anomaly that justifies it and its proof in the batch.
    struct Flag {
        Anomaly anomaly;
        bytes32[] proof;
    }

    struct Batch {
        bytes32 root;
        uint32 count;
        uint8 maxSeverity;
        uint32 detectedAt;
        uint32 recordedAt;
    }

    bytes32 public constant LEAF_TYPEHASH =
        keccak256("Anomaly(uint64 batchId,bytes32 meterId,uint64 ts,bytes32 kind,uint8 severity,int64 scoreMilli)");
    bytes32 private constant METER_TAMPERING = keccak256("meter_tampering");
    bytes32 private constant TRADING_FRAUD = keccak256("trading_fraud");
    uint8 private constant MAX_SEVERITY = 4;
    /// @dev Clock skew tolerated between the oracle and the chain; a detection time up to this
    /// far ahead is recorded at the block's time, anything further ahead is refused.
    uint256 private constant MAX_FUTURE_S = 60;

    /// @notice Seconds per batch: batch `b` covers the detection run of the interval starting at
    /// `b * batchInterval`.
    uint32 public immutable batchInterval;
    mapping(uint256 => Batch) private s_batches;
    mapping(bytes32 => uint256) private s_flaggedIn; // meterId => batch id that flagged it (0: none)
    mapping(address => bool) public isReporter;
    uint64 public latestBatchId;

    event BatchRecorded(
        uint256 indexed batchId, bytes32 root, uint32 count, uint8 maxSeverity, uint32 detectedAt
    );
    event MeterFlagged(bytes32 indexed meterId, uint256 indexed batchId);
    event MeterCleared(bytes32 indexed meterId, uint256 indexed batchId);
    event ReporterSet(address indexed reporter, bool allowed);

    constructor(address initialOwner, address[] memory reporters, uint32 batchInterval_) Owned(initialOwner) {
        require(batchInterval_ > 0, "AR: zero batch interval");
        require(reporters.length > 0, "AR: no reporter");
        batchInterval = batchInterval_;
        for (uint256 i = 0; i < reporters.length; ++i) {
            _setReporter(reporters[i], true);
        }
    }

    function setReporter(address reporter, bool allowed) external onlyOwner {
        _setReporter(reporter, allowed);
    }

    function _setReporter(address reporter, bool allowed) private {
        require(reporter != address(0), "AR: zero reporter");
        isReporter[reporter] = allowed;
        emit ReporterSet(reporter, allowed);
    }

    /// @notice Record a detection run. `flags` name meters to flag, each with its evidence;
    /// `clear` lists meters to un-flag (cleared first, so a meter in both ends flagged).
    /// @dev Batch ids are bounded by the clock, not by the last id: batch `b` must have started
    /// (`b * batchInterval <= detectedAt`) and the detection is at most MAX_FUTURE_S ahead of the
    /// block, so no batch can take the id beyond the current interval and every later interval
    /// still has a fresh id. A daemon catching up after days down records older intervals with
    /// today's detection time, which the bound allows.
    function recordBatch(
        uint64 batchId,
        bytes32 root,
        uint32 count,
        uint8 maxSeverity,
        uint32 detectedAt,
        Flag[] calldata flags,
        bytes32[] calldata clear
    ) external {
        require(isReporter[msg.sender], "AR: unauthorised reporter");
        require(batchId > latestBatchId, "AR: batch not newer");
        require(detectedAt != 0, "AR: zero detection time");
        require(detectedAt <= block.timestamp + MAX_FUTURE_S, "AR: detection in the future");
        require(uint256(batchId) * batchInterval <= detectedAt, "AR: batch ahead of its detection");
        if (count == 0) {
            require(root == bytes32(0), "AR: root does not match count");
            require(maxSeverity == 0, "AR: severity of an empty batch");
            require(flags.length == 0, "AR: an empty batch flags nothing");
        } else {
            require(root != bytes32(0), "AR: root does not match count");
            require(maxSeverity >= 1 && maxSeverity <= MAX_SEVERITY, "AR: severity out of range");
        }
        uint32 detected = detectedAt < block.timestamp ? detectedAt : uint32(block.timestamp);
        Batch memory batch = Batch(root, count, maxSeverity, detected, uint32(block.timestamp));
        s_batches[batchId] = batch;
        latestBatchId = batchId;
        emit BatchRecorded(batchId, root, count, maxSeverity, detected);
        for (uint256 i = 0; i < clear.length; ++i) {
            delete s_flaggedIn[clear[i]];
            emit MeterCleared(clear[i], batchId);
        }
        for (uint256 i = 0; i < flags.length; ++i) {
            _flag(batchId, batch, flags[i]);
        }
    }

    /// @dev Flag the anomaly's meter once its type flags and its proof puts it in the batch.
    function _flag(uint64 batchId, Batch memory batch, Flag calldata flag) private {
        Anomaly calldata a = flag.anomaly;
        require(a.kind == METER_TAMPERING || a.kind == TRADING_FRAUD, "AR: anomaly type does not flag");
        _checkAnomaly(batch, a);
        require(MerkleProof.verifyCalldata(flag.proof, batch.root, anomalyLeaf(batchId, a)), "AR: flag without evidence");
        s_flaggedIn[a.meterId] = batchId;
        emit MeterFlagged(a.meterId, batchId);
    }

    function getBatch(uint256 batchId)
        external
        view
        returns (bytes32 root, uint32 count, uint8 maxSeverity, uint32 detectedAt, uint32 recordedAt)
    {
        Batch memory b = s_batches[batchId];
        require(b.recordedAt != 0, "AR: unknown batch");
        return (b.root, b.count, b.maxSeverity, b.detectedAt, b.recordedAt);
    }

    /// @notice True when the anomaly with these fields is in batch `batchId`; reverts with a
    /// reason otherwise. The leaf is built here, so neither an inner node nor the root can pass
    /// for an anomaly, and an empty batch has nothing to verify.
    function verifyAnomaly(uint64 batchId, Anomaly calldata anomaly, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        Batch memory b = s_batches[batchId];
        require(b.recordedAt != 0, "AR: unknown batch");
        require(b.count != 0, "AR: empty batch");
        _checkAnomaly(b, anomaly);
        require(MerkleProof.verifyCalldata(proof, b.root, anomalyLeaf(batchId, anomaly)), "AR: bad Merkle proof");
        return true;
    }

    /// @notice The Merkle leaf of an anomaly in batch `batchId` (StandardMerkleTree encoding).
    function anomalyLeaf(uint64 batchId, Anomaly calldata a) public pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                keccak256(abi.encode(LEAF_TYPEHASH, batchId, a.meterId, a.ts, a.kind, a.severity, a.scoreMilli))
            )
        );
    }

    /// @dev An anomaly of a real batch has a severity within the batch's and a time before its
    /// detection.
    function _checkAnomaly(Batch memory b, Anomaly calldata a) private pure {
        require(a.severity >= 1 && a.severity <= b.maxSeverity, "AR: anomaly severity out of range");
        require(a.ts != 0 && a.ts <= b.detectedAt, "AR: anomaly time out of range");
    }

    function isFlagged(bytes32 meterId) external view returns (bool) {
        return s_flaggedIn[meterId] != 0;
    }

    function flaggedIn(bytes32 meterId) external view returns (uint256) {
        return s_flaggedIn[meterId];
    }
}
