/**
 * Reading node's junit test report (--test-reporter=junit): the Windows harness uses it
 * to check that a block of tests really ran, not only that node.exe exited 0.
 */

export interface BlockCount { readonly tests: number; readonly failed: number; readonly skipped: number }

/**
 * Counts the test cases of one describe block in a junit report (node --test-reporter=
 * junit): every `<testcase>` inside its `<testsuite>`, nested blocks included. A
 * skipped block is a single testcase with `<skipped>`; undefined when it is absent.
 */
export function countBlock(junit: string, name: string): BlockCount | undefined {
  const escaped = name.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const asSuite = junit.indexOf(`<testsuite name="${escaped}"`);
  if (asSuite < 0) {
    // A block skipped as a whole is reported as one testcase.
    const asCase = new RegExp(`<testcase name="${escaped.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"[^>]*>\\s*<skipped`).exec(junit);
    return asCase ? { tests: 1, failed: 0, skipped: 1 } : undefined;
  }
  const tags = /<testsuite\b|<\/testsuite>/g;
  tags.lastIndex = asSuite;
  let depth = 0;
  let end = junit.length;
  for (let m = tags.exec(junit); m !== null; m = tags.exec(junit)) {
    depth += m[0] === '</testsuite>' ? -1 : 1;
    if (depth === 0) { end = m.index; break; }
  }
  const body = junit.slice(asSuite, end);
  const count = (re: RegExp): number => body.match(re)?.length ?? 0;
  return { tests: count(/<testcase\b/g), failed: count(/<failure\b/g), skipped: count(/<skipped\b/g) };
}
