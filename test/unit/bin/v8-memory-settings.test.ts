import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyServerV8Settings } from '../../../src/bin/v8-memory-settings.ts';

function settingsApplied(execArgv: string[]): string[] {
  const applied: string[] = [];
  applyServerV8Settings(execArgv, (flags) => applied.push(flags));
  return applied;
}

describe("the server's V8 memory settings", () => {
  it('are applied when the node command line says nothing of them', () => {
    assert.deepEqual(settingsApplied(['--max-semi-space-size=8']), ['--heap-growing-percent=50', '--liftoff-only']);
  });

  it("leave a flag the operator gave on the command line, in any of its forms, to the operator", () => {
    assert.deepEqual(settingsApplied(['--heap-growing-percent=100']), ['--liftoff-only']);
    assert.deepEqual(settingsApplied(['--no-liftoff-only']), ['--heap-growing-percent=50']);
    assert.deepEqual(settingsApplied(['--liftoff-only', '--heap-growing-percent', '20']), []);
  });
});
