// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Owned} from "./Owned.sol";

/// @title GridOptimizationRegistry
/// @notice Per dispatch interval: the hash of the full schedule and its summary figures
/// (cost in milli-units, renewable share and peak reduction in basis points, carbon in grams),
/// packed into two slots; the full schedule is kept in the event log.
contract GridOptimizationRegistry is Owned {
    struct Commitment {
        bytes32 scheduleHash;
        int96 costMilli;
        uint16 renewableShareBps;
        int16 peakReductionBps;
        uint64 carbonGrams;
        uint32 recordedAt;
    }

    mapping(uint256 => Commitment) private s_commitments;
    mapping(address => bool) public isReporter;
    uint64 public latestInterval;

    event ScheduleCommitted(
        uint256 indexed intervalStart,
        bytes32 indexed scheduleHash,
        int96 costMilli,
        uint16 renewableShareBps,
        int16 peakReductionBps,
        uint64 carbonGrams,
        bytes schedule
    );
    event ReporterSet(address indexed reporter, bool allowed);

    constructor(address initialOwner) Owned(initialOwner) {}

    function setReporter(address reporter, bool allowed) external onlyOwner {
        isReporter[reporter] = allowed;
        emit ReporterSet(reporter, allowed);
    }

    /// @notice Commit the schedule for `intervalStart` (unix seconds); `schedule` must hash to
    /// `scheduleHash` (keccak256).
    function commitSchedule(
        uint64 intervalStart,
        bytes32 scheduleHash,
        int96 costMilli,
        uint16 renewableShareBps,
        int16 peakReductionBps,
        uint64 carbonGrams,
        bytes calldata schedule
    ) external {
        require(isReporter[msg.sender], "GOR: unauthorised reporter");
        require(intervalStart > latestInterval, "GOR: interval not newer");
        require(renewableShareBps <= 10_000, "GOR: renewable share above 100%");
        require(keccak256(schedule) == scheduleHash, "GOR: schedule does not match its hash");
        s_commitments[intervalStart] = Commitment(
            scheduleHash, costMilli, renewableShareBps, peakReductionBps, carbonGrams, uint32(block.timestamp)
        );
        latestInterval = intervalStart;
        emit ScheduleCommitted(
            intervalStart, scheduleHash, costMilli, renewableShareBps, peakReductionBps, carbonGrams, schedule
        );
    }

    function getCommitment(uint256 intervalStart)
        external
        view
        returns (
            bytes32 scheduleHash,
            int96 costMilli,
            uint16 renewableShareBps,
            int16 peakReductionBps,
            uint64 carbonGrams,
            uint32 recordedAt
        )
    {
        Commitment memory c = s_commitments[intervalStart];
        require(c.recordedAt != 0, "GOR: unknown interval");
        return (c.scheduleHash, c.costMilli, c.renewableShareBps, c.peakReductionBps, c.carbonGrams, c.recordedAt);
    }
}
