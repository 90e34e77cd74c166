import { createRequire } from 'node:module';
import {
  AdapterNotInstalledError,
  BrokerError,
  type BrokerName,
  installSpec,
  PeerDependencyMissingError,
} from './errors.js';

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

/**
 * Loads a broker client package (kafkajs, amqplib, ws…) synchronously, when an adapter first
 * needs it. Adapters call this instead of a top-level import, so that polybus works without the
 * clients of the brokers you do not use.
 *
 * @param broker - the broker whose adapter needs the package, for the error message.
 * @param packageName - the package to load, e.g. `'kafkajs'`.
 * @param range - the supported version range for the install hint; defaults to the range in
 *   polybus's `peerDependencies`.
 * @throws {AdapterNotInstalledError} when `packageName` itself cannot be resolved, naming the
 *   package and its version range.
 * @throws {BrokerError} (not retryable) when the package is installed but fails to load, e.g. one
 *   of its own dependencies is missing; the original error is its `cause`.
 */
export function requireClient<M>(broker: BrokerName, packageName: string, range = peerRange(packageName)): M {
  try {
    return require(packageName) as M;
  } catch (cause) {
    throw clientLoadError(broker, packageName, range, cause);
  }
}

/**
 * Like {@link requireClient}, with a dynamic `import()`: for ESM-only client packages.
 * @throws {AdapterNotInstalledError} when `packageName` itself cannot be resolved.
 * @throws {BrokerError} (not retryable) when the package is installed but fails to load.
 */
export async function importClient<M>(
  broker: BrokerName,
  packageName: string,
  range = peerRange(packageName),
): Promise<M> {
  try {
    return (await import(packageName)) as M;
  } catch (cause) {
    throw clientLoadError(broker, packageName, range, cause);
  }
}

function clientLoadError(
  broker: BrokerName,
  packageName: string,
  range: string | undefined,
  cause: unknown,
): AdapterNotInstalledError | BrokerError {
  if (missingPackageName(cause) === packageName) {
    return new AdapterNotInstalledError(broker, { kind: 'client', packages: [{ name: packageName, range }] }, cause);
  }
  return new BrokerError(
    broker,
    `load ${packageName}`,
    cause,
    `"${packageName}" is installed but failed to load; reinstall it (\`npm install ${installSpec(packageName, range)}\`) and see the cause.`,
    false,
  );
}

/**
 * The package a "module not found" error is about (`kafkajs` for `Cannot find module
 * 'kafkajs/lib/x'`), or undefined for any other error. A missing dependency OF an installed
 * package names that dependency, not the package, which is how callers tell the two apart.
 */
export function missingPackageName(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') return undefined;
  const specifier = /Cannot find (?:module|package) '([^']+)'/.exec((error as Error).message)?.[1];
  if (specifier === undefined || specifier.startsWith('.') || specifier.startsWith('/')) return undefined;
  const segments = specifier.split('/');
  return (specifier.startsWith('@') ? segments.slice(0, 2) : segments.slice(0, 1)).join('/');
}

/** Whether a package can be found from polybus (without loading it). */
export function isResolvable(packageName: string): boolean {
  try {
    require.resolve(packageName);
    return true;
  } catch (error) {
    // ERR_PACKAGE_PATH_NOT_EXPORTED and the like: the package is there, only not require()-able.
    return missingPackageName(error) !== packageName;
  }
}

interface PackageJson {
  version?: string;
  peerDependencies?: Record<string, string>;
}

let packageJson: PackageJson | undefined;

// Read lazily and only for error messages: a bundled copy without package.json still works.
function ownPackageJson(): PackageJson {
  if (packageJson === undefined) {
    try {
      packageJson = require('polybus/package.json') as PackageJson;
    } catch {
      packageJson = {};
    }
  }
  return packageJson;
}

/** The installed polybus version, e.g. `0.1.0`, or undefined when it cannot be read. */
export function polybusVersion(): string | undefined {
  return ownPackageJson().version;
}

/** The version range of a client package in polybus's `peerDependencies`, if it is listed. */
export function peerRange(packageName: string): string | undefined {
  const peers = ownPackageJson().peerDependencies;
  return peers !== undefined && Object.hasOwn(peers, packageName) ? peers[packageName] : undefined;
}
