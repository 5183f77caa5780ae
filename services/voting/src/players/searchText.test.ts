import assert from 'node:assert/strict';
import { test } from 'node:test';
import { foldForSearch } from './searchText';

test('accents, case and spacing do not matter', () => {
  assert.equal(foldForSearch('Bogotá'), 'bogota');
  assert.equal(foldForSearch('  BOGOTÁ '), 'bogota');
  assert.equal(foldForSearch('bogota'), 'bogota');
  assert.equal(foldForSearch('San  José\tdel Guaviare'), 'san jose del guaviare');
  assert.equal(foldForSearch('Medellín'), foldForSearch('MEDELLIN'));
  assert.equal(foldForSearch('Perú'), 'peru');
  // a precomposed and a decomposed accent fold alike
  assert.equal(foldForSearch('Bogot\u00e1'), foldForSearch('Bogota\u0301'));
});

test('different places stay different', () => {
  assert.notEqual(foldForSearch('Cali'), foldForSearch('Cartagena'));
});
