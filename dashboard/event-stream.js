// Server-Sent Events over fetch: EventSource cannot send an Authorization header, and
// the token must never go in a URL. Parses the frames of GET /v1/events (RFC 8895 /
// the HTML standard's event-stream format: `event:`, `data:`, `id:`, `:` comments).

/**
 * Reads the stream until it ends or `signal` aborts, calling onFrame({ type, id, data })
 * for each frame (data parsed as JSON) and onBytes() for anything received (heartbeat
 * comments included). Resolves when the server ends the stream; rejects on a network
 * error or an abort.
 */
export async function readEventStream(response, onFrame, signal, onBytes = () => {}) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  signal.addEventListener('abort', () => { reader.cancel().catch(() => {}); }, { once: true });
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    onBytes();
    buffer += value;
    let end;
    while ((end = frameEnd(buffer)) !== -1) {
      const frame = parseFrame(buffer.slice(0, end.at));
      buffer = buffer.slice(end.at + end.length);
      if (frame !== null) onFrame(frame);
    }
  }
}

/** Where the first blank line is (a frame ends there), whatever the line endings. */
function frameEnd(buffer) {
  const match = /\r\n\r\n|\n\n|\r\r/.exec(buffer);
  return match === null ? -1 : { at: match.index, length: match[0].length };
}

function parseFrame(text) {
  let type = 'message';
  let id = null;
  const data = [];
  for (const line of text.split(/\r\n|\n|\r/)) {
    if (line === '' || line.startsWith(':')) continue; // comments are heartbeats
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') type = value;
    else if (field === 'id') id = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return null;
  return { type, id, data: JSON.parse(data.join('\n')) };
}
