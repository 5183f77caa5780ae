import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { messagingTemplate } from './messaging';
import { servicesTemplate } from './services';
import { renderTemplate, templatePath } from './template';

/**
 * Writes the generated templates (the parts that must equal the topology data):
 *   node --import tsx infra/src/cfn/generate.ts           # rewrite them
 *   node --import tsx infra/src/cfn/generate.ts --check   # exit 1 if a committed file is stale
 */
export const generatedTemplates = {
  'messaging.yaml': () => renderTemplate(messagingTemplate(), 'contracts/src/topology.ts (infra/src/cfn/messaging.ts)'),
  'services.yaml': () => renderTemplate(servicesTemplate(), 'contracts/src/topology.ts + the deployment table in infra/src/cfn/services.ts'),
} as const;

function committed(file: string): string | undefined {
  try {
    return readFileSync(templatePath(file), 'utf8');
  } catch {
    return undefined;
  }
}

function main(args: readonly string[]): number {
  const check = args.includes('--check');
  let stale = 0;
  for (const [file, render] of Object.entries(generatedTemplates)) {
    const text = render();
    if (committed(file) === text) {
      console.log(`${file}: up to date`);
    } else if (check) {
      stale++;
      console.error(`${file}: differs from the generator output; run  node --import tsx infra/src/cfn/generate.ts`);
    } else {
      writeFileSync(templatePath(file), text);
      console.log(`${file}: written`);
    }
  }
  return stale === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = main(process.argv.slice(2));
}
