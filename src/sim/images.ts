/**
 * Deterministic procedural grayscale images (no image files needed): the "results" of image tasks in the
 * in-process simulation (`./inprocess.ts`) and in the tests (pHash, ResultAvailability, the fixture's scores).
 */

/** A seeded linear congruential generator in [0, 1) (deterministic across runs). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** An `side`×`side` image from a function of the pixel position, rounded and clamped to bytes. */
export function imageFrom(side: number, f: (x: number, y: number) => number): Uint8Array {
  const p = new Uint8Array(side * side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) p[y * side + x] = Math.max(0, Math.min(255, Math.round(f(x, y))));
  }
  return p;
}

/** A "scene": a brightness gradient plus five soft light or dark discs, all drawn from `seed`. */
export function scene(seed: number, side = 64): Uint8Array {
  const r = seededRandom(seed);
  const k = side / 64;
  const discs = Array.from({ length: 5 }, () => ({
    cx: r() * side,
    cy: r() * side,
    radius: (5 + r() * 20) * k,
    delta: r() * 200 - 100,
  }));
  const gx = (r() * 2 - 1) / k;
  const gy = (r() * 2 - 1) / k;
  const base = 60 + r() * 120;
  return imageFrom(side, (x, y) => {
    let v = base + gx * x + gy * y;
    for (const d of discs) {
      const dist = Math.hypot(x - d.cx, y - d.cy);
      if (dist < d.radius) v += d.delta * (1 - dist / d.radius);
    }
    return v;
  });
}

/** `pixels` with ±`amplitude` added to a `fraction` of the pixels (clamped), drawn from `seed`. */
export function withNoise(pixels: Uint8Array, seed: number, fraction = 0.3, amplitude = 2): Uint8Array {
  const r = seededRandom(seed);
  const out = pixels.slice();
  for (let i = 0; i < out.length; i++) {
    if (r() < fraction) out[i] = Math.max(0, Math.min(255, out[i] + (r() < 0.5 ? -amplitude : amplitude)));
  }
  return out;
}

/** Uniform random bytes from `seed`. */
export function noiseImage(seed: number, side = 64): Uint8Array {
  const r = seededRandom(seed);
  return imageFrom(side, () => Math.floor(r() * 256));
}
