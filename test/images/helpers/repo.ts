// Where the repository is, for the image tests (which read its Dockerfiles, manifests and profiles).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
