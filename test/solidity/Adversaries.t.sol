// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {BaseTest} from "./BaseTest.sol";

/// @title A block producer's choice of prevrandao (SECURITY.md, "Block producers")
/// @notice `createTask` derives the sampling seed as keccak256(prevrandao ‖ commitment) and the dispatch draw from
/// that seed. A producer who can choose among k prevrandao values for the block holding a task (on Ethereum: k = 2,
/// publish or withhold its slot) can pick among k dispatch draws, so it can steer a task to a node of weight share w
/// with probability 1 − (1 − w)^k instead of w. It cannot choose the sampling decision: that is the application's VRF
/// output over the seed, which needs the application's secret key, so the producer cannot tell which of its k seeds
/// sample the task (the VRF proof binds the key; see test/unit/vrf.test.ts and test/integration/errors.test.ts).
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

    /// @dev The seed is exactly keccak256(prevrandao ‖ commitment): it changes with the producer's value and is bound
    /// to the commitment (another task in the same block gets another seed).
    function test_prevrandao_seedIsBoundToCommitmentAndRandao() public {
        (bytes32 a, ) = _createWith(111, 0, 0);
        assertEq(tm.getTask(a).samplingSeed, keccak256(abi.encodePacked(bytes32(uint256(111)), a)));
        (bytes32 b, ) = _createWith(111, 0, 1);
        assertTrue(tm.getTask(a).samplingSeed != tm.getTask(b).samplingSeed, "same seed for two commitments");
        assertEq(tm.getTask(b).samplingSeed, keccak256(abi.encodePacked(bytes32(uint256(111)), b)));
    }

    /// @dev Without a choice (k = 1) the draws spread over both nodes; with k = 16 prevrandao values to grind, the
    /// producer routes every one of 16 tasks to the node it wants. This is the bias SECURITY.md bounds.
    function test_prevrandao_producerWithChoicesSteersDispatchOnly() public {
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
            bool steered;
            for (uint256 j = 0; j < 16 && !steered; ++j) {
                uint256 snapshot = vm.snapshotState();
                (, address node) = _createWith(uint256(keccak256(abi.encode("grind", i, j))), i, j);
                steered = node == nodes[1];
                vm.revertToState(snapshot);
            }
            assertTrue(steered, "16 prevrandao values did not steer the task");
        }
    }
}
