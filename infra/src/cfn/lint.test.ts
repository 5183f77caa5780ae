import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { templateFiles, templatePath } from './template';

/**
 * cfn-lint over every template (main.yaml included, which makes cfn-lint read each nested template and
 * check the parameters passed to it). Errors fail the test; so do warnings, because the templates have
 * none: a justified exception is written into the template's `Metadata.cfn-lint` with its reason.
 */
const probe = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
const missing = probe.error ? 'cfn-lint is not on PATH (pip install cfn-lint); the templates were not linted' : undefined;

interface Finding {
  file: string;
  line: string;
  rule: string;
  message: string;
}

function lint(files: readonly string[]): Promise<Finding[]> {
  return new Promise((resolve, reject) => {
    // exit status is a bit mask of the levels found (2 error, 4 warning, 8 info), so it is not an error here
    execFile('cfn-lint', ['--format', 'parseable', '--', ...files], { encoding: 'utf8', timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      if (error && stdout.trim() === '') return reject(new Error(`cfn-lint failed (${error.code}): ${stderr}`));
      // file:line:column:endLine:endColumn:rule:message
      resolve(
        stdout
          .split('\n')
          .filter(Boolean)
          .map((row) => {
            const [file = '', line = '', , , , rule = '', ...message] = row.split(':');
            return { file, line, rule, message: message.join(':') };
          }),
      );
    });
  });
}

describe('cfn-lint', { skip: missing ?? false }, () => {
  test(`${probe.stdout?.trim() ?? 'cfn-lint'}: no errors and no warnings in ${templateFiles.length} templates`, async () => {
    const findings = await lint(templateFiles.map(templatePath));
    const show = (level: string) =>
      findings
        .filter((f) => f.rule.startsWith(level))
        .map((f) => `  ${f.rule} ${f.file.split('/').pop()}:${f.line} ${f.message}`)
        .join('\n');
    assert.equal(show('E'), '', `cfn-lint errors:\n${show('E')}`);
    assert.equal(show('W'), '', `cfn-lint warnings (fix them, or ignore one in the template's Metadata with the reason):\n${show('W')}`);
  });
});
