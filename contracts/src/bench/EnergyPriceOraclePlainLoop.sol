// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {EnergyPriceOracle} from "../EnergyPriceOracle.sol";

/// @title EnergyPriceOraclePlainLoop
/// @notice Benchmark only (benchmarks/gas.py, and a test that both agree): the feed with its
/// signature loop written in plain Solidity, to measure what the inline assembly saves.
contract EnergyPriceOraclePlainLoop is EnergyPriceOracle {
    constructor(
        address initialOwner,
        Config memory config,
        address[] memory signers_,
        uint8 quorum_,
        address[] memory transmitters_
    ) EnergyPriceOracle(initialOwner, config, signers_, quorum_, transmitters_) {}

    function _checkSignatures(bytes32 digest, bytes calldata signatures, uint256 seen) internal view override {
        uint256 end = signatures.length;
        for (uint256 offset = 0; offset < end;) {
            (bytes32 r, bytes32 vs) = abi.decode(signatures[offset:offset + SIG_BYTES], (bytes32, bytes32));
            address signer = ecrecover(digest, uint8(uint256(vs >> 255)) + 27, r, vs & S_MASK);
            Role storage role = s_roles[signer];
            require(role.signer, "EPO: signature by a non-signer");
            uint256 bit = 1 << role.index;
            require(seen & bit == 0, "EPO: duplicate signature");
            seen |= bit;
            unchecked {
                offset += SIG_BYTES; // below signatures.length, a calldata size
            }
        }
    }
}
