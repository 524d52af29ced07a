/**
 * Server-Sent Events framing (the WHATWG "event stream" interpretation): lines end in
 * CRLF, LF or CR; `field: value`; a blank line dispatches the frame; lines starting with
 * `:` are comments. A chunk may end anywhere, even between CR and LF.
 */
export interface SseFrame {
  /** The `event:` field; 'message' when absent. */
  event: string;
  data: string;
  /** The `id:` field of this frame, if it had one. */
  id: string | undefined;
}

export interface SseFields {
  /** A `retry:` field (milliseconds), the server's reconnection delay. */
  onRetry?: (ms: number) => void;
}

/** Frames from a byte stream, in order; ends when the stream ends (a trailing partial frame is dropped, as the spec says). */
export async function* parseSse(body: AsyncIterable<Uint8Array>, fields: SseFields = {}): AsyncGenerator<SseFrame> {
  const decoder = new TextDecoder();
  let buffered = '';
  let event = '';
  let data: string[] = [];
  let id: string | undefined;
  let skipLeadingLf = false;

  for await (const chunk of body) {
    buffered += decoder.decode(chunk, { stream: true });
    let start = 0;
    for (;;) {
      if (skipLeadingLf && start < buffered.length) {
        if (buffered[start] === '\n') start++;
        skipLeadingLf = false;
      }
      const end = nextLineEnd(buffered, start);
      if (end === -1) break;
      const line = buffered.slice(start, end);
      if (buffered[end] === '\r') {
        if (end + 1 < buffered.length) start = buffered[end + 1] === '\n' ? end + 2 : end + 1;
        else { start = end + 1; skipLeadingLf = true; }
      } else start = end + 1;

      if (line === '') {
        if (data.length > 0) yield { event: event || 'message', data: data.join('\n'), id };
        event = ''; data = []; id = undefined;
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const name = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (name === 'event') event = value;
      else if (name === 'data') data.push(value);
      else if (name === 'id' && !value.includes('\0')) id = value;
      else if (name === 'retry' && /^\d+$/.test(value)) fields.onRetry?.(Number(value));
    }
    buffered = buffered.slice(start);
  }
}

function nextLineEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) return i;
  }
  return -1;
}
