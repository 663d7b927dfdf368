/**
 * Deterministic procedural grayscale images for the tests: the generators live in `src/sim/images.ts` (the
 * simulation's image "results" use them too).
 */
export { imageFrom, noiseImage, scene, seededRandom, withNoise } from "../../src/sim/images.js";
