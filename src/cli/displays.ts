// A session cell's rich output on a terminal: a text representation is printed (plain text by
// preference); an image is saved under --out (as display-<task>-<k>.<ext>) and its path printed.
// Representations of one object share its number k; the first printable one is shown.
import fs from 'node:fs';
import path from 'node:path';
import type { DisplayEvent } from '../protocol/result.js';

const IMAGE_EXTENSIONS: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/svg+xml': 'svg' };

export function displayPrinter(outDir: string | undefined, write: (s: string) => void = (s) => process.stdout.write(s)): (e: DisplayEvent) => void {
  const parts = new Map<string, Buffer[]>();
  const shown = new Set<number>();
  let saved = 0;
  return (e) => {
    const key = `${e.display} ${e.mime}`;
    const got = [...(parts.get(key) ?? []), e.data];
    if (e.part < e.parts) {
      parts.set(key, got);
      return;
    }
    parts.delete(key);
    const data = Buffer.concat(got);
    const ext = IMAGE_EXTENSIONS[e.mime];
    if (ext && outDir !== undefined) {
      fs.mkdirSync(outDir, { recursive: true });
      const file = path.join(outDir, `display-${Date.now()}-${++saved}.${ext}`);
      fs.writeFileSync(file, data);
      write(`[${e.mime} saved to ${file}]\n`);
      shown.add(e.display);
      return;
    }
    if (shown.has(e.display)) return;
    if (e.mime === 'text/plain') {
      shown.add(e.display);
      write(data.toString().endsWith('\n') ? data.toString() : `${data.toString()}\n`);
    } else if (ext) {
      write(`[${e.mime}, ${data.length} bytes; pass --out DIR to save it]\n`);
    }
  };
}
