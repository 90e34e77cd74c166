import { createRequire } from 'node:module';
import { PeerDependencyMissingError } from './errors.js';

const require = createRequire(import.meta.url);

/** Loads an optional peer dependency synchronously, or says which package to install. */
export function optionalRequire<M>(packageName: string, feature: string): M {
  try {
    return require(packageName) as M;
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') {
      throw new PeerDependencyMissingError(feature, packageName, cause);
    }
    throw cause;
  }
}
