import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE, ensureDir, execFileAsync, isBuilt, runLogged } from './common.js';

const REPOSITORY = join(CACHE, 'm2');
const SETTINGS = join(CACHE, 'maven-settings.xml');

/**
 * Some poms (Pulsar's) list extra repositories this network cannot reach, and Maven 3.8 stops at
 * the first unreachable one. Mirror everything to the central repository Maven itself is
 * configured with (read from its effective POM, so a user's own mirror settings still apply).
 */
async function centralOnlySettings(pomDir: string): Promise<string> {
  if (isBuilt(SETTINGS)) return SETTINGS;
  const output = join(CACHE, 'effective-pom.xml');
  await execFileAsync(
    'mvn',
    ['-B', '-q', 'help:effective-pom', `-Doutput=${output}`, `-Dmaven.repo.local=${REPOSITORY}`],
    {
      cwd: pomDir,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const effective = readFileSync(output, 'utf8');
  const central = /<id>central<\/id>\s*<name>[^<]*<\/name>\s*<url>([^<]+)<\/url>/.exec(effective)?.[1];
  if (!central) throw new Error('could not find the central repository in the effective POM');
  writeFileSync(
    SETTINGS,
    `<settings><mirrors><mirror><id>central-only</id><mirrorOf>*</mirrorOf><url>${central}</url></mirror></mirrors></settings>\n`,
  );
  return SETTINGS;
}

/** Copies a pom's runtime dependencies into `libs` (once; the local repository is cached). */
export async function copyDependencies(broker: string, pomDir: string, libs: string): Promise<void> {
  if (isBuilt(join(libs, '.complete'))) return;
  ensureDir(CACHE);
  const settings = await centralOnlySettings(pomDir);
  await runLogged(
    broker,
    'maven',
    'mvn',
    [
      '-B',
      '-s',
      settings,
      'dependency:copy-dependencies',
      '-DincludeScope=runtime',
      `-Dmaven.repo.local=${REPOSITORY}`,
      `-DoutputDirectory=${libs}`,
    ],
    { cwd: pomDir },
  );
  writeFileSync(join(libs, '.complete'), new Date().toISOString());
}

/** The pinned version a pom declares in a property, e.g. kafka.version. */
export function pomProperty(pomDir: string, property: string): string {
  const pom = readFileSync(join(pomDir, 'pom.xml'), 'utf8');
  const value = new RegExp(`<${property.replace('.', '\\.')}>([^<]+)</`).exec(pom)?.[1];
  if (!value) throw new Error(`${pomDir}/pom.xml has no <${property}>`);
  return value;
}
