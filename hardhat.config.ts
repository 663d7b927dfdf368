import { createRequire } from "node:module";
import type { HardhatUserConfig } from "hardhat/config";
import { configVariable } from "hardhat/config";
import hardhatToolboxMochaEthers from "@nomicfoundation/hardhat-toolbox-mocha-ethers";

// Offline compiler: a `path` that is not a native binary is loaded as solcjs, so the npm `solc` package's
// soljson.js is used and nothing is downloaded (see docs/toolchain.md).
const require = createRequire(import.meta.url);
const SOLJSON = require.resolve("solc/soljson.js");
const SOLC_VERSION: string = require("solc/package.json").version;

const compiler = (viaIR: boolean) => ({
  version: SOLC_VERSION,
  path: SOLJSON,
  settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun", viaIR },
});

const config: HardhatUserConfig = {
  plugins: [hardhatToolboxMochaEthers],
  solidity: {
    profiles: {
      default: compiler(false),
      production: compiler(true),
    },
  },
  typechain: { outDir: "typechain-types" },
  // Ignition modules live in deploy/modules and deployments are recorded in deploy/deployments.
  paths: { ignition: "deploy" },
  test: {
    // Fuzz and invariant campaigns are fixed per profile, with a fixed seed (the seed drives both). `default` runs in
    // `npm test` and CI; `deep` (`npm run test:deep`, or `--test-profile deep`) is the heavier campaign.
    solidity: {
      profiles: {
        default: {
          fuzz: { runs: 256, seed: "0x5eed" },
          invariant: { runs: 64, depth: 40 },
        },
        deep: {
          fuzz: { runs: 4096, seed: "0x5eed" },
          invariant: { runs: 512, depth: 100 },
        },
      },
    },
    mocha: { timeout: 120_000 },
  },
  // Coverage (`npm run coverage`): the generated Groth16 verifiers and the test-only mocks are not measured.
  coverage: { skipFiles: ["contracts/verifiers/**", "contracts/mocks/**"] },
  networks: {
    // Any other EVM network: `RPC_URL=... npx hardhat ignition deploy ... --network remote`, with the deployer's
    // key in the keystore (`npx hardhat keystore set DEPLOYER_PRIVATE_KEY`) or the environment.
    remote: {
      type: "http",
      chainType: "l1",
      url: configVariable("RPC_URL"),
      accounts: [configVariable("DEPLOYER_PRIVATE_KEY")],
    },
    localhost: { type: "http", chainType: "l1", url: "http://127.0.0.1:8545" },
  },
};

export default config;
