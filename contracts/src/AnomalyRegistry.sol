// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Owned} from "./Owned.sol";

/// @title AnomalyRegistry
/// @notice One batch per detection run: the Merkle root of its anomalies, the count, the highest
/// severity and the detection time (one slot plus the root), so a batch costs the same gas
/// whatever its size. Leaves are `keccak256(keccak256(abi.encode(meterId, ts, kind, severity,
/// scoreMilli)))`; pairs are hashed sorted. A report may also flag meters (fraud, tampering) and
/// clear earlier flags; other contracts read them with `isFlagged`.
contract AnomalyRegistry is Owned {
    struct Batch {
        bytes32 root;
        uint32 count;
        uint8 maxSeverity;
        uint32 detectedAt;
        uint32 recordedAt;
    }

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

    constructor(address initialOwner) Owned(initialOwner) {}

    function setReporter(address reporter, bool allowed) external onlyOwner {
        isReporter[reporter] = allowed;
        emit ReporterSet(reporter, allowed);
    }

    /// @notice Record a detection run; `flag` and `clear` list meters to flag or un-flag.
    function recordBatch(
        uint64 batchId,
        bytes32 root,
        uint32 count,
        uint8 maxSeverity,
        uint32 detectedAt,
        bytes32[] calldata flag,
        bytes32[] calldata clear
    ) external {
        require(isReporter[msg.sender], "AR: unauthorised reporter");
        require(batchId > latestBatchId, "AR: batch not newer");
        require(count > 0 ? root != bytes32(0) : root == bytes32(0), "AR: root does not match count");
        require(detectedAt <= block.timestamp + 60, "AR: detection in the future");
        s_batches[batchId] = Batch(root, count, maxSeverity, detectedAt, uint32(block.timestamp));
        latestBatchId = batchId;
        emit BatchRecorded(batchId, root, count, maxSeverity, detectedAt);
        for (uint256 i = 0; i < flag.length; ++i) {
            s_flaggedIn[flag[i]] = batchId;
            emit MeterFlagged(flag[i], batchId);
        }
        for (uint256 i = 0; i < clear.length; ++i) {
            delete s_flaggedIn[clear[i]];
            emit MeterCleared(clear[i], batchId);
        }
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

    /// @notice True when `leaf` is in batch `batchId`; reverts with a reason otherwise.
    function verifyAnomaly(uint256 batchId, bytes32 leaf, bytes32[] calldata proof) external view returns (bool) {
        bytes32 root = s_batches[batchId].root;
        require(s_batches[batchId].recordedAt != 0, "AR: unknown batch");
        bytes32 node = leaf;
        for (uint256 i = 0; i < proof.length; ++i) {
            bytes32 sibling = proof[i];
            node = node < sibling
                ? keccak256(abi.encodePacked(node, sibling))
                : keccak256(abi.encodePacked(sibling, node));
        }
        require(node == root, "AR: bad Merkle proof");
        return true;
    }

    function isFlagged(bytes32 meterId) external view returns (bool) {
        return s_flaggedIn[meterId] != 0;
    }

    function flaggedIn(bytes32 meterId) external view returns (uint256) {
        return s_flaggedIn[meterId];
    }
}
