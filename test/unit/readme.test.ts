import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configSchema } from '../../src/config/index.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The README config table's row of `key` (its description cell). */
function rowOf(key: string): string | undefined {
  return readme.split('\n').find((line) => line.startsWith(`| \`${key}\` |`));
}

/** The bounds of a bounded whole-number setting (`int(min, max)` in src/config/index.ts), or undefined. */
function boundsOf(schema: z.ZodType): { min: number; max: number } | undefined {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodDefault || s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
  if (!(s instanceof z.ZodNumber) || s.minValue === null || s.maxValue === null) return undefined;
  if (!Number.isFinite(s.minValue) || !Number.isFinite(s.maxValue)) return undefined;
  return { min: s.minValue, max: s.maxValue };
}

describe('README', () => {
  it('documents every configuration key', () => {
    const missing = Object.keys(configSchema.shape).filter((k) => !readme.includes(`| \`${k}\` |`));
    expect(missing).toEqual([]);
  });

  it('states the range of every bounded number setting ("MIN to MAX"), as src/config/index.ts checks it', () => {
    const unstated = Object.entries(configSchema.shape).flatMap(([key, schema]) => {
      const bounds = boundsOf(schema as z.ZodType);
      if (!bounds) return [];
      return rowOf(key)?.includes(`${bounds.min} to ${bounds.max}`) ? [] : [`${key}: ${bounds.min} to ${bounds.max}`];
    });
    expect(unstated).toEqual([]);
  });
});
