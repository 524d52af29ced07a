/**
 * Which works the soak submitted and which terminal events the event stream showed:
 * at the end, a submitted work without a terminal event never ended, and one with two
 * ended twice. The 202 answer and the terminal event race (a work may end before its
 * submit's answer is read), so either may come first.
 */
import type { WorkState } from '../../src/schemas/work.js';

export type TerminalState = Extract<WorkState, 'released' | 'timed_out' | 'cancelled' | 'failed'>;
const TERMINAL_EVENTS = new Map<string, TerminalState>([
  ['work.released', 'released'], ['work.timed_out', 'timed_out'], ['work.cancelled', 'cancelled'], ['work.failed', 'failed'],
]);

export class WorkLedger {
  works = 0;
  doubleEnds = 0;
  /** Terminal states other than the one a work was submitted to reach, first few kept. */
  wrongOutcomes = 0;
  readonly wrongOutcomeExamples: string[] = [];
  readonly outcomes: Record<TerminalState, number> = { released: 0, timed_out: 0, cancelled: 0, failed: 0 };
  /** Submitted, no terminal event yet: the allowed outcomes (empty = any). */
  private readonly open = new Map<string, readonly TerminalState[]>();
  /** Terminal events of works whose 202 has not been read yet. */
  private readonly early = new Map<string, TerminalState>();
  private readonly ended = new Set<string>();

  /** A 202 for a new work; `allowed`: the terminal states it may end in (none: any). */
  submitted(id: string, allowed: readonly TerminalState[] = []): void {
    this.works++;
    const state = this.early.get(id);
    if (state === undefined) { this.open.set(id, allowed); return; }
    this.early.delete(id);
    this.check(id, state, allowed);
  }

  /** An event from the stream; returns the terminal state it carries, if any. */
  onEvent(type: string, workId: string): TerminalState | undefined {
    const state = TERMINAL_EVENTS.get(type);
    if (state === undefined) return undefined;
    this.outcomes[state]++;
    if (this.ended.has(workId) || this.early.has(workId)) { this.doubleEnds++; return state; }
    const allowed = this.open.get(workId);
    if (allowed === undefined) { this.early.set(workId, state); return state; }
    this.open.delete(workId);
    this.check(workId, state, allowed);
    return state;
  }

  /** Widens what an unfinished work may end in (a scenario that could not set up what it meant to). */
  allow(id: string, allowed: readonly TerminalState[]): void {
    if (this.open.has(id)) this.open.set(id, allowed);
  }

  /** Submitted works with no terminal event. */
  get notTerminal(): number { return this.open.size; }
  /** Ids of a few of them, for the report. */
  notTerminalExamples(n = 5): string[] { return [...this.open.keys()].slice(0, n); }

  private check(id: string, state: TerminalState, allowed: readonly TerminalState[]): void {
    // Ended ids are kept to catch a second end; the soak's own works only, a few per second.
    this.ended.add(id);
    if (allowed.length === 0 || allowed.includes(state)) return;
    this.wrongOutcomes++;
    if (this.wrongOutcomeExamples.length < 10) this.wrongOutcomeExamples.push(`${id}: ${state}, expected ${allowed.join(' or ')}`);
  }
}
