// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {SumTree} from "../../contracts/libraries/SumTree.sol";

/// @dev Library reverts happen in the caller's frame; this wrapper gives `vm.expectRevert` an external call.
contract SumTreeWrapper {
    using SumTree for SumTree.Tree;

    SumTree.Tree internal _tree;

    function insert(uint256 weight) external returns (uint256) {
        return _tree.insert(weight);
    }

    function update(uint256 pos, uint256 weight) external {
        _tree.update(pos, weight);
    }

    function draw(uint256 value) external view returns (uint256) {
        return _tree.draw(value);
    }
}

contract SumTreeTest is Test {
    using SumTree for SumTree.Tree;

    SumTree.Tree internal tree;
    /// @dev The reference model: weight per position, and which positions are members.
    uint256[] internal weights;
    bool[] internal member;

    function _insert(uint256 weight) internal returns (uint256 pos) {
        pos = tree.insert(weight);
        if (pos == weights.length) {
            weights.push(weight);
            member.push(true);
        } else {
            assertFalse(member[pos], "a freed position is handed out");
            weights[pos] = weight;
            member[pos] = true;
        }
    }

    function _remove(uint256 pos) internal {
        tree.remove(pos);
        weights[pos] = 0;
        member[pos] = false;
    }

    function _sum() internal view returns (uint256 sum) {
        for (uint256 i = 0; i < weights.length; ++i) sum += weights[i];
    }

    /// @dev The tree against the model: every weight, the total, and the draw at both ends of every range.
    function _assertMatchesModel() internal view {
        uint256 total = _sum();
        assertEq(tree.total(), total, "total");
        uint256 before;
        for (uint256 i = 0; i < weights.length; ++i) {
            assertEq(tree.weightAt(i), weights[i], "weight");
            if (weights[i] != 0) {
                assertEq(tree.draw(before), i, "draw at the start of the range");
                assertEq(tree.draw(before + weights[i] - 1), i, "draw at the end of the range");
            }
            before += weights[i];
        }
    }

    function test_empty() public view {
        assertEq(tree.total(), 0);
        assertEq(tree.positions(), 0);
    }

    function test_insertGrowsThroughLevels() public {
        // 4, 16, 64 and 256 leaves are the capacities of heights 0..3: cross each.
        for (uint256 i = 0; i < 300; ++i) {
            assertEq(_insert(i + 1), i);
        }
        _assertMatchesModel();
        assertEq(tree.total(), (300 * 301) / 2);
    }

    function test_drawPicksTheRangeHoldingTheValue() public {
        _insert(3); // [0, 3)
        _insert(0); // never drawn
        _insert(5); // [3, 8)
        _insert(2); // [8, 10)
        _insert(7); // [10, 17)
        assertEq(tree.draw(0), 0);
        assertEq(tree.draw(2), 0);
        assertEq(tree.draw(3), 2);
        assertEq(tree.draw(7), 2);
        assertEq(tree.draw(8), 3);
        assertEq(tree.draw(10), 4);
        assertEq(tree.draw(16), 4);
    }

    function test_removeFreesThePositionForReuse() public {
        for (uint256 i = 0; i < 20; ++i) _insert(10);
        _remove(7);
        _remove(13);
        _assertMatchesModel();
        assertEq(tree.total(), 180);
        // Last freed, first reused.
        assertEq(_insert(4), 13);
        assertEq(_insert(6), 7);
        assertEq(_insert(1), 20);
        _assertMatchesModel();
    }

    function test_draw_revertsWhenValueNotBelowTotal() public {
        SumTreeWrapper wrapper = new SumTreeWrapper();
        wrapper.insert(5);
        vm.expectRevert(abi.encodeWithSelector(SumTree.SumTreeDrawOutOfRange.selector, 5, 5));
        wrapper.draw(5);
        assertEq(wrapper.draw(4), 0);
    }

    function test_update_revertsOnOverflow() public {
        SumTreeWrapper wrapper = new SumTreeWrapper();
        vm.expectRevert(abi.encodeWithSelector(SumTree.SumTreeOverflow.selector));
        wrapper.insert(uint256(1) << 63);
        // Two leaves under one lane of the level above: their sum overflows 63 bits.
        for (uint256 i = 0; i < 5; ++i) wrapper.insert(0);
        wrapper.update(0, (uint256(1) << 63) - 1);
        vm.expectRevert(abi.encodeWithSelector(SumTree.SumTreeOverflow.selector));
        wrapper.update(1, 1);
    }

    /// @dev Random inserts, updates and removals against the model.
    function test_fuzz_operationsMatchModel(uint256 seed) public {
        for (uint256 step = 0; step < 120; ++step) {
            uint256 r = uint256(keccak256(abi.encode(seed, step)));
            uint256 op = r % 4;
            uint256 weight = (r >> 8) % 1_000;
            uint256 n = weights.length;
            if (op <= 1 || n == 0) {
                _insert(weight);
            } else {
                uint256 pos = (r >> 32) % n;
                if (!member[pos]) continue;
                if (op == 2) {
                    tree.update(pos, weight);
                    weights[pos] = weight;
                } else {
                    _remove(pos);
                }
            }
        }
        _assertMatchesModel();
    }
}
