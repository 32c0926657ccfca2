// Write the artifacts of a run into a local folder as their parts arrive. Paths come from the
// executor, but a client trusts no path: each must be a plain relative path inside the folder.
import fs from 'node:fs';
import path from 'node:path';
import type { FileEvent } from '../protocol/result.js';
import { relativePathSchema } from '../task/schema.js';

export function artifactSaver(dir: string): (event: FileEvent) => void {
  const root = path.resolve(dir);
  return (event) => {
    if (!relativePathSchema.safeParse(event.path).success) throw new Error(`refusing artifact path ${JSON.stringify(event.path)}`);
    const target = path.join(root, event.path);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    if (event.part <= 1) fs.writeFileSync(target, event.data);
    else fs.appendFileSync(target, event.data);
  };
}
