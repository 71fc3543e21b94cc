// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Owned} from "./Owned.sol";

/// @title GridOptimizationRegistry
/// @notice Per dispatch interval: the hash of the full schedule and its summary figures
/// (cost in milli-units, renewable share and peak reduction in basis points, carbon in grams),
/// packed into two slots; the full schedule is kept in the event log. Every figure is range
/// checked: the bounds are far beyond any microgrid's day yet far inside the field types.
contract GridOptimizationRegistry is Owned {
    /// @notice |costMilli| at most 10^15 (10^12 currency units for one schedule).
    int96 public constant MAX_ABS_COST_MILLI = 1e15;
    /// @notice At most 10^15 g (a million tonnes) of CO2 for one schedule.
    uint64 public constant MAX_CARBON_GRAMS = 1e15;
    int16 private constant MAX_ABS_PEAK_BPS = 10_000;

    struct Commitment {
        bytes32 scheduleHash;
        int96 costMilli;
        uint16 renewableShareBps;
        int16 peakReductionBps;
        uint64 carbonGrams;
        uint32 recordedAt;
    }

    /// @notice How far ahead of the block a schedule's interval may start, in seconds.
    uint32 public immutable planningHorizon;
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

    constructor(address initialOwner, address[] memory reporters, uint32 planningHorizon_) Owned(initialOwner) {
        require(reporters.length > 0, "GOR: no reporter");
        planningHorizon = planningHorizon_;
        for (uint256 i = 0; i < reporters.length; ++i) {
            _setReporter(reporters[i], true);
        }
    }

    function setReporter(address reporter, bool allowed) external onlyOwner {
        _setReporter(reporter, allowed);
    }

    function _setReporter(address reporter, bool allowed) private {
        require(reporter != address(0), "GOR: zero reporter");
        isReporter[reporter] = allowed;
        emit ReporterSet(reporter, allowed);
    }

    /// @notice Commit the schedule for `intervalStart` (unix seconds); `schedule` must hash to
    /// `scheduleHash` (keccak256).
    /// @dev Interval starts only move forward and never beyond the block time plus the planning
    /// horizon, so the furthest any commitment can push `latestInterval` is one horizon ahead of
    /// now: a later valid schedule waits at most that long, and the 64-bit field never fills.
    /// A daemon catching up after days down commits past intervals, which the bound allows.
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
        require(intervalStart <= block.timestamp + planningHorizon, "GOR: interval beyond the planning horizon");
        require(costMilli >= -MAX_ABS_COST_MILLI && costMilli <= MAX_ABS_COST_MILLI, "GOR: cost out of range");
        require(renewableShareBps <= 10_000, "GOR: renewable share above 100%");
        require(
            peakReductionBps >= -MAX_ABS_PEAK_BPS && peakReductionBps <= MAX_ABS_PEAK_BPS,
            "GOR: peak reduction out of range"
        );
        require(carbonGrams <= MAX_CARBON_GRAMS, "GOR: carbon out of range");
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
