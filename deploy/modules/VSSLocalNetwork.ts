/**
 * Hardhat Ignition module for local networks (tests, the demo, `npx hardhat node`): Chainlink's
 * `VRFCoordinatorV2_5Mock` (as `LocalVRFCoordinator`) as the VRF coordinator, then the whole network of {@link defineNetwork}. Nothing answers
 * the mock by itself: `src/chain/fulfiller.ts` (started by the demo and the local tooling) fulfils each request within
 * seconds. Never deploy this module to a live network: whoever calls the mock chooses the words.
 *
 * The mock charges nothing (base fee 0, gas price 0), so the beacon's subscription needs no funds.
 */
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { defineNetwork } from "./VSSNetwork.js";

export default buildModule("VSSNetwork", (m) => {
  const coordinator = m.contract("LocalVRFCoordinator", [0n, 0n, 10n ** 18n]);
  return { vrfCoordinator: coordinator, ...defineNetwork(m, coordinator) };
});
