/**
 * `npm run bench [-- --json] [-- --quick]`: the benchmark suite (issue: "measure and
 * earn the speed"). Every speed figure is a ratio against a baseline measured in the
 * same run, alternating A/B after a warm-up, median of the rounds; the raw numbers of
 * both sides are reported too. Speed is never asserted in tests.
 *
 * Measured so far: submitRatio, e2eRatio, eventP99Ms, handoffRatio, bytesPerMutex,
 * bytesPerWork. Not yet: sseLost/sseP99Ms and the win32 variant (reported as null).
 */
import { measureEndToEnd } from './e2e.js';
import { measureHandoff } from './handoff.js';
import { measureMemory } from './memory.js';
import { measureSubmit } from './submit.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const quick = args.includes('--quick');
const engineArg = args[args.indexOf('--engine') + 1];
if (args.includes('--engine') && engineArg !== 'emulated') {
  console.error(`--engine ${engineArg}: only the emulated engine is benchmarked so far`);
  process.exit(2);
}

const TARGETS: Record<string, [string, number]> = {
  submitRatio: ['>=', 0.6], e2eRatio: ['>=', 0.5], eventP99Ms: ['<=', 2], handoffRatio: ['<=', 3],
  bytesPerMutex: ['<=', 2048], bytesPerWork: ['<=', 1024], sseLost: ['<=', 0], sseP99Ms: ['<=', 50],
};

const log = (line: string) => { if (!json) console.log(line); };
log(`tpmutex bench (${quick ? 'quick' : 'full'}, emulated engine, node ${process.version}); figures are ratios within this run`);
const submit = await measureSubmit(quick);
log(`  submit: done`);
const e2e = await measureEndToEnd(quick);
log(`  end to end: done`);
const handoff = await measureHandoff(quick);
log(`  handoff: done`);
const memory = measureMemory(quick);
const figures: Record<string, number | null> = {
  submitRatio: submit.submitRatio,
  e2eRatio: e2e.e2eRatio,
  eventP99Ms: e2e.eventP99Ms,
  handoffRatio: handoff.handoffRatio,
  bytesPerMutex: memory.bytesPerMutex,
  bytesPerWork: memory.bytesPerWork,
  sseLost: null,
  sseP99Ms: null,
};
const result = { ...figures, raw: { submit: submit.raw, e2e: e2e.raw, handoff: handoff.raw }, quick, engine: 'emulated', node: process.version };

if (json) {
  console.log(JSON.stringify(result));
} else {
  console.log('\n| figure | value | target | met |\n|---|---|---|---|');
  for (const [key, value] of Object.entries(figures)) {
    const [op, target] = TARGETS[key]!;
    const met = value === null ? 'not measured yet' : (op === '>=' ? value >= target : value <= target) ? 'yes' : 'no';
    console.log(`| ${key} | ${value ?? '—'} | ${op} ${target} | ${met} |`);
  }
  console.log(`\nraw: ${JSON.stringify(result.raw)}`);
}
