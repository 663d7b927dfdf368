// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {BaseTest} from "./BaseTest.sol";

/// @title A block producer's choice of prevrandao (SECURITY.md, "Block producers")
/// @notice Dispatch and sampling no longer read prevrandao (docs/randomness.md): `createTask` only commits the task to
/// the beacon's open epoch, and `dispatchTasks` derives r = keccak256(word, creator, commitment) from the epoch's VRF
/// word, the sampling seed keccak256(r, "sampling") and the dispatch draw keccak256(r, "dispatch"). A producer who can
/// choose among k prevrandao values for the block holding a task (on Ethereum: k = 2, publish or withhold its slot)
/// therefore chooses nothing: every one of its values gives the same node and the same seed.
contract AdversariesTest is BaseTest {
    function setUp() public override {
        super.setUp();
        // Two nodes of equal weight: each draw picks either with probability 1/2.
        _joinNode(nodes[0]);
        _joinNode(nodes[1]);
    }

    function _createWith(uint256 randao, uint256 i, uint256 j) internal returns (bytes32 id, address node) {
        vm.prevrandao(bytes32(randao));
        id = _createTask(apps[0], keccak256(abi.encode("guid", i, j)), keccak256(abi.encode("nonce", i, j)));
        node = _selectedNode(id);
    }

    /// @dev The seed is exactly keccak256(keccak256(word, creator, commitment), "sampling"), bound to the commitment
    /// (another task under the same word gets another seed) and independent of prevrandao (the producer's value).
    function test_prevrandao_seedIsBoundToCommitmentAndRandao() public {
        // The mock's default word for the request of epoch 1 (request id 1) and of epoch 2 (request id 2).
        uint256 word1 = uint256(keccak256(abi.encode(uint256(1), uint256(0))));
        uint256 word2 = uint256(keccak256(abi.encode(uint256(2), uint256(0))));
        (bytes32 a, ) = _createWith(111, 0, 0);
        assertEq(beacon.wordOf(1), word1);
        assertEq(tm.getTask(a).samplingSeed, _seed(word1, a));
        (bytes32 b, ) = _createWith(111, 0, 1);
        assertEq(beacon.wordOf(2), word2);
        assertTrue(tm.getTask(a).samplingSeed != tm.getTask(b).samplingSeed, "same seed for two commitments");
        assertEq(tm.getTask(b).samplingSeed, _seed(word2, b));

        // Same commitment, same word, another prevrandao at creation and at dispatch: the same seed and node.
        uint256 snapshot = vm.snapshotState();
        (bytes32 c, address nodeC) = _createWith(222, 0, 2);
        bytes32 seedC = tm.getTask(c).samplingSeed;
        vm.revertToState(snapshot);
        (bytes32 c2, address nodeC2) = _createWith(333_333, 0, 2);
        assertEq(c2, c);
        assertEq(tm.getTask(c2).samplingSeed, seedC, "the seed depends on prevrandao");
        assertEq(nodeC2, nodeC, "the node depends on prevrandao");
        assertTrue(seedC != keccak256(abi.encodePacked(bytes32(uint256(222)), c)), "the old prevrandao rule");
    }

    /// @dev A producer grinding 16 prevrandao values for the same task gets the same node every time: with the word
    /// fixed by the beacon, prevrandao is not an input of the draw. Honest draws still reach both nodes.
    function test_prevrandao_producerWithChoicesCannotSteerDispatch() public {
        uint256 honestToTarget;
        for (uint256 i = 0; i < 16; ++i) {
            uint256 snapshot = vm.snapshotState();
            (, address node) = _createWith(uint256(keccak256(abi.encode("honest", i))), i, 0);
            if (node == nodes[1]) honestToTarget++;
            vm.revertToState(snapshot);
        }
        assertGt(honestToTarget, 0, "no honest draw reached the target");
        assertLt(honestToTarget, 16, "every honest draw reached the target");

        for (uint256 i = 0; i < 16; ++i) {
            address first;
            for (uint256 j = 0; j < 16; ++j) {
                uint256 snapshot = vm.snapshotState();
                (, address node) = _createWith(uint256(keccak256(abi.encode("grind", i, j))), i, 0);
                vm.revertToState(snapshot);
                if (j == 0) first = node;
                else assertEq(node, first, "a prevrandao value changed the node");
            }
        }
    }

    function _seed(uint256 word, bytes32 id) internal view returns (bytes32) {
        return keccak256(abi.encode(keccak256(abi.encode(word, apps[0], id)), "sampling"));
    }
}
