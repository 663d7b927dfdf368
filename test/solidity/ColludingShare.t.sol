// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {Dispatch} from "../../contracts/libraries/Dispatch.sol";

/// @title Measurement, issue 11 item 8: splitting a stake raises its selection weight
/// @notice The static weight is S·Q/(S+Q) with S = min(1, √(stake / stakeCap)): concave in the stake, so a budget split
/// across many minimum-stake nodes weighs more than the same budget in one node. SECURITY's bound on a colluding
/// share must use the real weight function (docs/admin-and-keys.md, "Colluding share"); this file measures it with the
/// contracts' own `Dispatch.staticWeight` and checks the two facts the bound rests on.
contract ColludingShareTest is Test {
    uint256 internal constant WAD = 1e18;
    uint256 internal constant MINIMUM_STAKE = 400 ether;
    uint256 internal constant STAKE_CAP = 4_000 ether;

    /// @dev Weight of a node with `stake`: a new node (Q_long = 5, Q = 0.5) or a perfect one (Q = 1).
    function _w(uint256 stake, bool perfect) internal pure returns (uint256) {
        return Dispatch.staticWeight(stake, STAKE_CAP, perfect ? 500 : 0, perfect ? 50 : 0, 10_000);
    }

    /// @dev Total weight of `total` split into `k` equal nodes.
    function _split(uint256 total, uint256 k, bool perfect) internal pure returns (uint256) {
        return k * _w(total / k, perfect);
    }

    /// @dev The issue's figure: 10 × 400 weighs about 5.8 × 1 × 4000 (new nodes), 4.8 × (perfect QoS).
    function test_tenAtTheMinimumOutweighOneAtTheCap() public {
        uint256 newRatio = (_split(STAKE_CAP, 10, false) * 1000) / _w(STAKE_CAP, false);
        uint256 perfectRatio = (_split(STAKE_CAP, 10, true) * 1000) / _w(STAKE_CAP, true);
        emit log_named_uint("10 x 400 / 1 x 4000, new nodes (x1000)", newRatio);
        emit log_named_uint("10 x 400 / 1 x 4000, perfect QoS (x1000)", perfectRatio);
        assertApproxEqAbs(newRatio, 5_811, 2);
        assertApproxEqAbs(perfectRatio, 4_805, 2);
    }

    /// @dev The table of docs/admin-and-keys.md: 4,000 tokens as k nodes.
    function test_splitTable() public {
        uint256[5] memory ks = [uint256(1), 2, 4, 5, 10];
        for (uint256 i = 0; i < ks.length; ++i) {
            emit log_named_uint(
                string.concat("k=", vm.toString(ks[i]), " total weight new (1e-4)"),
                _split(STAKE_CAP, ks[i], false) / 1e14
            );
            emit log_named_uint(
                string.concat("k=", vm.toString(ks[i]), " total weight perfect (1e-4)"),
                _split(STAKE_CAP, ks[i], true) / 1e14
            );
        }
        // More nodes, more weight, for the same budget.
        for (uint256 i = 1; i < ks.length; ++i) {
            assertGt(_split(STAKE_CAP, ks[i], true), _split(STAKE_CAP, ks[i - 1], true));
        }
    }

    /// @dev Fuzz: weight per token never rises with the stake, so the minimum stake buys the most weight per token
    /// (up to the 1-wei rounding of the fixed-point math).
    function testFuzz_weightPerTokenFallsWithStake(uint256 a, uint256 b, bool perfect) public pure {
        a = bound(a, MINIMUM_STAKE, 10 * STAKE_CAP);
        b = bound(b, a, 10 * STAKE_CAP);
        // w(a)/a >= w(b)/b  <=>  w(a)·b >= w(b)·a
        assertGe(_w(a, perfect) * (b / 1e9) + b / 1e9, _w(b, perfect) * (a / 1e9));
    }

    /// @dev Fuzz: any split of a budget A into nodes of at least the minimum stake weighs at most A/m · w(m): the
    /// bound docs/admin-and-keys.md uses for the colluding share.
    function testFuzz_noSplitBeatsTheMinimumStakeBound(uint256 budget, uint256 k, bool perfect) public pure {
        budget = bound(budget, MINIMUM_STAKE, 100 * STAKE_CAP);
        k = bound(k, 1, budget / MINIMUM_STAKE);
        uint256 bound_ = (budget * _w(MINIMUM_STAKE, perfect)) / MINIMUM_STAKE;
        assertLe(_split(budget, k, perfect), bound_ + k);
    }
}
