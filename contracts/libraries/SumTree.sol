// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title A 4-ary sum tree of 63-bit weights, packed four to a storage slot
/// @notice Holds a weight per position and draws a position with probability weight / total in O(log n).
/// Positions are handed out by `insert` and given back by `remove`; freed positions are reused, so the tree's size
/// follows the number of members, not its history.
/// @dev Layout: level 0 holds the leaf weights, four to a slot (slot `pos / 4`, lane `pos % 4`). Lane `k` of slot `j`
/// at level `L > 0` holds the sum of the four lanes of slot `4j + k` at level `L - 1`. The top level (`height`) has a
/// single slot whose lanes add up to the total. Capacity is 4^(height + 1) leaves; the tree grows by one level on top
/// when a new position does not fit. An update writes one slot per level (height + 1 writes); a draw reads one slot
/// per level. With 10,000 members the height is 6 (7 slots per path).
/// Sums are 63-bit: callers keep `weight · maximum members` below 2^63 (the registry's weights are at most 5·10^8,
/// which leaves room for 10^10 members). The top bit of every written slot is a marker that is never cleared: a slot
/// whose sums all fall to zero (every node of a subtree busy) stays non-zero, so bringing it back costs a 2,900-gas
/// write instead of a 20,000-gas one.
library SumTree {
    /// @notice A weight or a subtree sum does not fit in 64 bits.
    error SumTreeOverflow();
    /// @notice `draw` was called with a value that is not below the total.
    error SumTreeDrawOutOfRange(uint256 value, uint256 total);

    uint256 private constant _LANE_BITS = 64;
    /// @dev A lane holds a 63-bit sum; bit 63 of lane 3 (bit 255 of the slot) is the marker.
    uint256 private constant _LANE_MASK = type(uint64).max;
    uint256 private constant _VALUE_MAX = type(uint64).max >> 1;
    uint256 private constant _MARKER = uint256(1) << 255;

    struct Tree {
        /// @dev Positions handed out so far (the next new position).
        uint32 length;
        /// @dev Index of the top level.
        uint8 height;
        /// @dev Freed positions, reused last in, first out.
        uint32[] free;
        /// @dev (level << 32 | index) → four packed 64-bit lanes.
        mapping(uint256 key => uint256 lanes) slots;
    }

    /// @notice Takes a position (a freed one if any) and gives it `weight`.
    /// @return pos The member's position.
    function insert(Tree storage tree, uint256 weight) internal returns (uint256 pos) {
        uint256 freed = tree.free.length;
        if (freed != 0) {
            pos = tree.free[freed - 1];
            tree.free.pop();
        } else {
            pos = tree.length;
            tree.length = uint32(pos + 1);
            uint256 height = tree.height;
            // Grow on top while the position does not fit: the old top becomes lane 0 of the new top.
            while (pos >> (2 * (height + 1)) != 0) {
                uint256 oldTotal = _sumLanes(tree.slots[_key(height, 0)]);
                if (oldTotal > _VALUE_MAX) revert SumTreeOverflow();
                ++height;
                tree.slots[_key(height, 0)] = oldTotal | _MARKER;
            }
            tree.height = uint8(height);
        }
        if (weight != 0) update(tree, pos, weight);
    }

    /// @notice Sets the weight at `pos` to zero and frees the position for reuse.
    function remove(Tree storage tree, uint256 pos) internal {
        update(tree, pos, 0);
        tree.free.push(uint32(pos));
    }

    /// @notice Sets the weight at `pos` (a position returned by `insert` and not removed).
    function update(Tree storage tree, uint256 pos, uint256 weight) internal {
        if (weight > _VALUE_MAX) revert SumTreeOverflow();
        uint256 height = tree.height;
        uint256 shift = (pos & 3) * _LANE_BITS;
        uint256 key = _key(0, pos >> 2);
        uint256 lanes = tree.slots[key];
        uint256 old = (lanes >> shift) & _VALUE_MAX;
        if (old == weight) return;
        tree.slots[key] = (lanes & ~(_LANE_MASK << shift)) | (weight << shift) | _MARKER;
        bool up = weight > old;
        uint256 delta = up ? weight - old : old - weight;
        for (uint256 level = 1; level <= height; ++level) {
            shift = ((pos >> (2 * level)) & 3) * _LANE_BITS;
            key = _key(level, pos >> (2 * (level + 1)));
            lanes = tree.slots[key];
            uint256 sum = (lanes >> shift) & _VALUE_MAX;
            // A lane is the sum of its subtree, so it is at least `old` and cannot underflow; it may overflow.
            if (up) {
                sum += delta;
                if (sum > _VALUE_MAX) revert SumTreeOverflow();
            } else {
                sum -= delta;
            }
            tree.slots[key] = (lanes & ~(_LANE_MASK << shift)) | (sum << shift) | _MARKER;
        }
    }

    /// @notice The weight at `pos`.
    function weightAt(Tree storage tree, uint256 pos) internal view returns (uint256) {
        return (tree.slots[_key(0, pos >> 2)] >> ((pos & 3) * _LANE_BITS)) & _VALUE_MAX;
    }

    /// @notice The sum of all weights.
    function total(Tree storage tree) internal view returns (uint256) {
        return _sumLanes(tree.slots[_key(tree.height, 0)]);
    }

    /// @notice The position whose cumulative range holds `value`: the position `p` with
    /// sum(weights before p) <= value < sum(weights up to p). Every position of weight w is returned for exactly w
    /// values of [0, total), so a uniform `value` draws a position with probability weight / total.
    /// @param value Must be below `total(tree)`.
    function draw(Tree storage tree, uint256 value) internal view returns (uint256 pos) {
        uint256 level = tree.height;
        uint256 index;
        uint256 lanes = tree.slots[_key(level, 0)];
        uint256 sum = _sumLanes(lanes);
        if (value >= sum) revert SumTreeDrawOutOfRange(value, sum);
        while (true) {
            uint256 lane;
            for (; lane < 3; ++lane) {
                uint256 w = (lanes >> (lane * _LANE_BITS)) & _VALUE_MAX;
                if (value < w) break;
                value -= w;
            }
            index = index * 4 + lane;
            if (level == 0) return index;
            --level;
            lanes = tree.slots[_key(level, index)];
        }
    }

    /// @notice Positions handed out so far (members plus freed positions).
    function positions(Tree storage tree) internal view returns (uint256) {
        return tree.length;
    }

    function _key(uint256 level, uint256 index) private pure returns (uint256) {
        return (level << 32) | index;
    }

    function _sumLanes(uint256 lanes) private pure returns (uint256) {
        return
            (lanes & _VALUE_MAX) +
            ((lanes >> 64) & _VALUE_MAX) +
            ((lanes >> 128) & _VALUE_MAX) +
            ((lanes >> 192) & _VALUE_MAX);
    }
}
