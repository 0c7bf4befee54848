/**
 * Named SQL conditions of the domain, written once. Each returns a fragment over a table alias the
 * caller names; aliases are checked (they are SQL text, never values), and nothing else is
 * inlined.
 */

const ALIAS = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/;

function alias(ref: string): string {
  if (!ALIAS.test(ref)) throw new TypeError(`not a SQL column reference: ${JSON.stringify(ref)}`);
  return ref;
}

/** Which labels count as "the item has a label" for a rule. */
export type LabelSources = 'any' | 'human-or-import';

/**
 * "The item `itemIdRef` has a current label": one not superseded (the partial index on
 * `label(item_id) WHERE superseded_at IS NULL` serves it). With `'human-or-import'` a current
 * MODEL label does not count (auto-labelling may supersede it).
 *
 * @example `NOT ${hasCurrentLabel('i.id')}` — items nobody has labelled.
 */
export function hasCurrentLabel(itemIdRef: string, sources: LabelSources = 'any'): string {
  const bySource = sources === 'any' ? '' : ` AND l.source IN ('HUMAN', 'IMPORT')`;
  return `EXISTS (SELECT 1 FROM label l WHERE l.item_id = ${alias(itemIdRef)} AND l.superseded_at IS NULL${bySource})`;
}
