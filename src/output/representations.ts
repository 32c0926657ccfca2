// The representations of one displayed object as a kernel or a display backend writes them:
// `<mime> <base64> [<mime> <base64>]...` (docs/display.md). Whoever writes them may be the snippet
// itself, so anything malformed is refused whole rather than half taken.

export interface Representation {
  mime: string;
  data: Buffer;
}

/** Receives each representation of displayed object `display` (from 1 within the run or cell). */
export type DisplaySink = (display: number, mime: string, data: Buffer) => Promise<unknown>;

// What a representation costs toward the output cap besides its data: its mime type and an entry's
// worth, so that a flood of empty ones (a snippet can forge them) reaches the cap too.
const ENTRY_BYTES = 64;
export const displayCost = (r: Representation): number => r.data.length + r.mime.length + ENTRY_BYTES;

// What one object may carry: representations, and the length of a mime type.
export const MAX_REPRESENTATIONS = 16;
const MAX_MIME = 100;
const MIME = /^[a-z]+\/[a-z0-9.+-]+$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** `words` as pairs of mime type and base64 data; undefined when any of it is malformed. */
export function parseRepresentations(words: readonly string[]): Representation[] | undefined {
  if (words.length < 2 || words.length % 2 !== 0 || words.length / 2 > MAX_REPRESENTATIONS) return undefined;
  const reps: Representation[] = [];
  for (let i = 0; i + 1 < words.length; i += 2) {
    const [mime, data] = [words[i]!, words[i + 1]!];
    if (mime.length > MAX_MIME || !MIME.test(mime) || !BASE64.test(data)) return undefined;
    reps.push({ mime, data: Buffer.from(data, 'base64') });
  }
  return reps;
}
