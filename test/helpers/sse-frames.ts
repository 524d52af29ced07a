/** The one Server-Sent Events parser of the suites: blocks (separated by a blank line) into frames and comments. */

export interface SseFrame {
  id?: string;
  event: string;
  data: string;
  /** Parsed `data` (every tpmutex frame carries JSON). */
  json: Record<string, unknown> & { seq?: number; type?: string };
}

/** One block (the text between two blank lines): its frame, if it carries data, and its comments. */
export function parseSseBlock(block: string): { frame: SseFrame | undefined; comments: string[] } {
  let id: string | undefined;
  let event = 'message';
  const data: string[] = [];
  const comments: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) { comments.push(line.slice(1).trim()); continue; }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return { frame: undefined, comments };
  const text = data.join('\n');
  return { frame: { ...(id === undefined ? {} : { id }), event, data: text, json: JSON.parse(text) as SseFrame['json'] }, comments };
}

/** Feeds text as it arrives; calls `onBlock` for every complete block. */
export class SseBlocks {
  private buffer = '';

  constructor(private readonly onBlock: (parsed: ReturnType<typeof parseSseBlock>) => void) {}

  feed(chunk: string): void {
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      this.onBlock(parseSseBlock(block));
    }
  }
}
