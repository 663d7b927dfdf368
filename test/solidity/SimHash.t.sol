// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {SimHash} from "../../contracts/libraries/SimHash.sol";

/// @dev Exposes the library; `isWellFormed` takes calldata, so it must be called externally.
contract SimHashHarness {
    function isWellFormed(bool isText, bytes calldata score) external pure returns (bool) {
        return SimHash.isWellFormed(isText, score);
    }

    function matches(bool isText, bytes memory a, bytes memory b, uint256 threshold) external pure returns (bool) {
        return SimHash.matches(isText, a, b, threshold);
    }
}

contract SimHashTest is Test {
    uint256 internal constant THRESHOLD = 24;
    SimHashHarness internal harness;

    function setUp() public {
        harness = new SimHashHarness();
    }

    /// @dev The obvious popcount, one bit at a time.
    function _naiveDistance(uint64 x, uint64 y) internal pure returns (uint256 count) {
        uint64 v = x ^ y;
        for (uint256 i = 0; i < 64; ++i) {
            count += (v >> i) & 1;
        }
    }

    /// @dev `x` with its lowest `n` bits flipped (n <= 64).
    function _flipLow(uint64 x, uint256 n) internal pure returns (uint64) {
        uint64 mask = n == 64 ? type(uint64).max : uint64((uint256(1) << n) - 1);
        return x ^ mask;
    }

    // ---------------------------------------------------------------------------------------------------------
    // hammingDistance
    // ---------------------------------------------------------------------------------------------------------

    function test_hammingDistance_matchesNaivePopcount(uint64 x, uint64 y) public pure {
        assertEq(SimHash.hammingDistance(x, y), _naiveDistance(x, y));
    }

    function test_hammingDistance_isSymmetric(uint64 x, uint64 y) public pure {
        assertEq(SimHash.hammingDistance(x, y), SimHash.hammingDistance(y, x));
    }

    function test_hammingDistance_edgeValues() public pure {
        assertEq(SimHash.hammingDistance(0, 0), 0);
        assertEq(SimHash.hammingDistance(type(uint64).max, type(uint64).max), 0);
        assertEq(SimHash.hammingDistance(0, type(uint64).max), 64);
        assertEq(SimHash.hammingDistance(0x5555555555555555, 0xAAAAAAAAAAAAAAAA), 64);
        assertEq(SimHash.hammingDistance(1, 0), 1);
        assertEq(SimHash.hammingDistance(1 << 63, 0), 1);
        assertEq(SimHash.hammingDistance(0xFF, 0), 8);
    }

    function test_hammingDistance_flippingNBitsGivesN(uint64 x, uint256 n) public pure {
        n = bound(n, 0, 64);
        assertEq(SimHash.hammingDistance(x, _flipLow(x, n)), n);
    }

    // ---------------------------------------------------------------------------------------------------------
    // matches: text
    // ---------------------------------------------------------------------------------------------------------

    function test_matches_textEqualScores() public view {
        bytes memory a = abi.encode(keccak256("output"));
        assertTrue(harness.matches(true, a, a, THRESHOLD));
    }

    function test_matches_textOneBitDifferenceDoesNotMatch() public view {
        bytes32 h = keccak256("output");
        bytes memory a = abi.encode(h);
        bytes memory b = abi.encode(h ^ bytes32(uint256(1)));
        assertFalse(harness.matches(true, a, b, THRESHOLD));
    }

    function test_matches_textDifferentLengthsDoNotMatch() public view {
        bytes memory a = abi.encode(keccak256("output"));
        bytes memory b = bytes.concat(a, hex"00");
        assertFalse(harness.matches(true, a, b, THRESHOLD));
    }

    function test_matches_textIgnoresThreshold(bytes32 h, uint256 threshold) public view {
        threshold = bound(threshold, 1, 64);
        assertTrue(harness.matches(true, abi.encode(h), abi.encode(h), threshold));
    }

    // ---------------------------------------------------------------------------------------------------------
    // matches: image
    // ---------------------------------------------------------------------------------------------------------

    function test_matches_imageDistanceBelowThresholdMatches() public view {
        uint64 x = 0x0123456789ABCDEF;
        assertTrue(
            harness.matches(false, abi.encodePacked(x), abi.encodePacked(_flipLow(x, THRESHOLD - 1)), THRESHOLD)
        );
    }

    function test_matches_imageDistanceAtThresholdDoesNotMatch() public view {
        uint64 x = 0x0123456789ABCDEF;
        assertFalse(harness.matches(false, abi.encodePacked(x), abi.encodePacked(_flipLow(x, THRESHOLD)), THRESHOLD));
    }

    function test_matches_imageThresholdBoundary(uint64 x, uint256 threshold) public view {
        threshold = bound(threshold, 1, 64);
        bytes memory a = abi.encodePacked(x);
        assertTrue(harness.matches(false, a, abi.encodePacked(_flipLow(x, threshold - 1)), threshold));
        assertFalse(harness.matches(false, a, abi.encodePacked(_flipLow(x, threshold)), threshold));
    }

    function test_matches_imageAgreesWithDistance(uint64 x, uint64 y, uint256 threshold) public view {
        threshold = bound(threshold, 1, 64);
        bool expected = _naiveDistance(x, y) < threshold;
        assertEq(harness.matches(false, abi.encodePacked(x), abi.encodePacked(y), threshold), expected);
    }

    function test_matches_imageEveryBlockMustMatch() public view {
        uint64 x = 0x0123456789ABCDEF;
        uint64 y = 0xFEDCBA9876543210;
        bytes memory a = abi.encodePacked(x, y);
        // First block identical, second block THRESHOLD bits apart: no match.
        assertFalse(harness.matches(false, a, abi.encodePacked(x, _flipLow(y, THRESHOLD)), THRESHOLD));
        // First block THRESHOLD bits apart, second identical: no match.
        assertFalse(harness.matches(false, a, abi.encodePacked(_flipLow(x, THRESHOLD), y), THRESHOLD));
        // Both blocks THRESHOLD - 1 bits apart: match (the rule is per block, not a total).
        assertTrue(
            harness.matches(
                false,
                a,
                abi.encodePacked(_flipLow(x, THRESHOLD - 1), _flipLow(y, THRESHOLD - 1)),
                THRESHOLD
            )
        );
    }

    function test_matches_imageDifferentLengthsDoNotMatch() public view {
        uint64 x = 0x0123456789ABCDEF;
        assertFalse(harness.matches(false, abi.encodePacked(x), abi.encodePacked(x, x), THRESHOLD));
        assertFalse(harness.matches(false, abi.encodePacked(x, x), abi.encodePacked(x), THRESHOLD));
    }

    // ---------------------------------------------------------------------------------------------------------
    // isWellFormed
    // ---------------------------------------------------------------------------------------------------------

    function test_isWellFormed_textExactly32Bytes() public view {
        assertTrue(harness.isWellFormed(true, new bytes(32)));
        assertFalse(harness.isWellFormed(true, new bytes(0)));
        assertFalse(harness.isWellFormed(true, new bytes(31)));
        assertFalse(harness.isWellFormed(true, new bytes(33)));
        assertFalse(harness.isWellFormed(true, new bytes(64)));
    }

    function test_isWellFormed_imageNonEmptyMultipleOf8() public view {
        assertTrue(harness.isWellFormed(false, new bytes(8)));
        assertTrue(harness.isWellFormed(false, new bytes(16)));
        assertTrue(harness.isWellFormed(false, new bytes(32)));
        assertFalse(harness.isWellFormed(false, new bytes(0)));
        assertFalse(harness.isWellFormed(false, new bytes(7)));
        assertFalse(harness.isWellFormed(false, new bytes(9)));
    }

    function test_isWellFormed_imageLengthRule(uint16 length) public view {
        bool expected = length != 0 && length % 8 == 0;
        assertEq(harness.isWellFormed(false, new bytes(length)), expected);
    }
}
