import { describe, expect, it } from 'vitest';
import { choiceCount, settledPrincipal, type Choices } from '../../src/interactions/working-for-choice.ts';

/** Whom a sign-in acts for (issue 14 item 3): the page's choice, the `producer_number` parameter, or the only choice. */
const option = (delegationId: string, producerNumber: string) => ({ delegationId, producerNumber, producerName: `P ${producerNumber}`, producerAccountId: `acct-${producerNumber}`, permissions: [] });
const producerAndDelegate: Choices = { self: { producerNumber: '000104201', name: 'Avery Quinlan' }, delegations: [option('d2', '000104202')] };
const delegateOfTwo: Choices = { self: null, delegations: [option('d1', '000104201'), option('d2', '000104202')] };
const delegateOfOne: Choices = { self: null, delegations: [option('d1', '000104201')] };
const producerOnly: Choices = { self: { producerNumber: '000104201', name: 'Avery Quinlan' }, delegations: [] };
const nobody: Choices = { self: null, delegations: [] };
const ctx = (result?: Record<string, unknown>, params: Record<string, unknown> = {}) => ({ oidc: { result, params } }) as never;

describe('settledPrincipal', () => {
  it.each([
    ['a producer without delegations: themselves', producerOnly, ctx(), { delegationId: null }],
    ['the delegate of one producer: that delegation', delegateOfOne, ctx(), { delegationId: 'd1' }],
    ['several choices, nothing said: unsettled (the page is shown)', producerAndDelegate, ctx(), undefined],
    ['producer_number naming themselves', producerAndDelegate, ctx(undefined, { producer_number: '000104201' }), { delegationId: null }],
    ['producer_number naming a producer they work for', delegateOfTwo, ctx(undefined, { producer_number: '000104202' }), { delegationId: 'd2' }],
    ['producer_number written short, as registration reads it (zeros added to 9 digits)', delegateOfTwo, ctx(undefined, { producer_number: '104202' }), { delegationId: 'd2' }],
    ['producer_number naming anyone else: unsettled', delegateOfTwo, ctx(undefined, { producer_number: '000104203' }), undefined],
    ['producer_number naming anyone else, with a single choice: unsettled (never the only choice in silence)', delegateOfOne, ctx(undefined, { producer_number: '000104203' }), undefined],
    ['producer_number naming anyone else, a producer alone: unsettled', producerOnly, ctx(undefined, { producer_number: '000104299' }), undefined],
    ['an empty producer_number counts as none: the only choice', delegateOfOne, ctx(undefined, { producer_number: '' }), { delegationId: 'd1' }],
    ['the choice on the page', delegateOfTwo, ctx({ working_for: { delegationId: 'd1' } }), { delegationId: 'd1' }],
    ['a choice that is no longer possible: unsettled, even with a valid parameter', delegateOfTwo, ctx({ working_for: { delegationId: 'gone' } }, { producer_number: '000104201' }), undefined],
    ['"themselves" chosen by a pure delegate: unsettled', delegateOfTwo, ctx({ working_for: { delegationId: null } }), undefined],
    ['nobody to work for: unsettled', nobody, ctx(), undefined],
  ])('%s', (_name, choices, c, expected) => {
    expect(settledPrincipal(c, choices)).toEqual(expected);
  });

  it('counts the choices', () => {
    expect([producerAndDelegate, delegateOfTwo, delegateOfOne, producerOnly, nobody].map(choiceCount)).toEqual([2, 2, 1, 1, 0]);
  });
});
