/** The soak's arithmetic: a slope it reports must be the least-squares one, per minute. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { after, slopePerMinute, warmUpSeconds, type Point } from './stats.js';

const line = (perSecond: number, offset: number, times: number[]): Point[] => times.map((t) => ({ t, y: offset + perSecond * t }));

describe('soak arithmetic', () => {
  it('a straight line sampled every 5 s has its own slope, per minute', () => {
    const points = line(2, 1000, Array.from({ length: 24 }, (_, i) => i * 5));
    assert.ok(Math.abs(slopePerMinute(points) - 120) < 1e-9);
  });

  it('a flat series has slope 0 whatever its level', () => {
    assert.equal(slopePerMinute(line(0, 7e8, [0, 5, 10, 15])), 0);
  });

  it('a sawtooth around a flat level fits near 0, though its last sample is far above its first', () => {
    // A heap that grows 9 MB between collections and drops back, for 10 minutes:
    // (last − first) / duration says +0.9 MB/min; the fit, a tenth of that at most.
    const saw: Point[] = Array.from({ length: 120 }, (_, i) => ({ t: i * 5, y: 50e6 + (i % 10) * 1e6 }));
    const naive = ((saw.at(-1)!.y - saw[0]!.y) / saw.at(-1)!.t) * 60;
    assert.ok(naive > 0.9e6);
    assert.ok(Math.abs(slopePerMinute(saw)) < naive / 10, String(slopePerMinute(saw)));
  });

  it('matches the textbook least-squares fit of uneven points', () => {
    // t = 0, 60, 120, 180 s; y = 1, 3, 2, 5: slope per sample-minute = (Σ(t−t̄)(y−ȳ) / Σ(t−t̄)²) · 60.
    const points: Point[] = [{ t: 0, y: 1 }, { t: 60, y: 3 }, { t: 120, y: 2 }, { t: 180, y: 5 }];
    // t̄ = 90, ȳ = 2.75; Σ(t−t̄)(y−ȳ) = (−90)(−1.75) + (−30)(0.25) + 30(−0.75) + 90(2.25) = 330; Σ(t−t̄)² = 18000.
    assert.ok(Math.abs(slopePerMinute(points) - (330 / 18000) * 60) < 1e-12);
  });

  it('needs two distinct times', () => {
    assert.ok(Number.isNaN(slopePerMinute([])));
    assert.ok(Number.isNaN(slopePerMinute([{ t: 5, y: 1 }])));
    assert.ok(Number.isNaN(slopePerMinute([{ t: 5, y: 1 }, { t: 5, y: 2 }])));
  });

  it('the warm-up is a fifth of the run, between 15 s and 2 minutes; the slope is taken after it', () => {
    assert.equal(warmUpSeconds(60), 15);
    assert.equal(warmUpSeconds(300), 60);
    assert.equal(warmUpSeconds(600), 120);
    assert.equal(warmUpSeconds(3600), 120);
    // A climb during the warm-up does not count.
    const points = [...line(1000, 0, [0, 5, 10]), ...line(0, 10_000, [15, 20, 25, 30])];
    assert.equal(slopePerMinute(after(points, warmUpSeconds(60))), 0);
    assert.ok(slopePerMinute(points) > 0);
  });
});
