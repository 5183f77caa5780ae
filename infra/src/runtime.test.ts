import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { serviceNames } from '@anb/contracts';
import { parse } from 'yaml';
import { serviceCommand, serviceNodeFlags } from './runtime';

describe('how a service is run', () => {
  test('docker-compose runs every service with the same command as its ECS task, node flags included', () => {
    const compose = parse(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8')) as { services: Record<string, { command?: string[] }> };
    for (const name of serviceNames) {
      const command = compose.services[name]?.command;
      assert.deepEqual(command, serviceCommand(name), name);
      assert.deepEqual(command!.slice(1, 1 + serviceNodeFlags.length), [...serviceNodeFlags], name);
    }
  });
});
