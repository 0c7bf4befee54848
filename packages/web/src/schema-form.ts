import { field, h } from './dom';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  title?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  required?: string[];
}

/**
 * A form generated from a JSON Schema of parameters (a strategy's paramsSchema): numbers and
 * integers as number inputs, booleans as checkboxes, enums as selects, arrays as comma-separated
 * lists, anything else as JSON. Fields start at the defaults; `read()` gives only the fields set
 * (omitted ones take the server's defaults), throwing with the field's name on bad input.
 */
export function schemaForm(
  schema: unknown,
  defaults: unknown,
  legend: string,
): { element: HTMLElement; read: () => Record<string, unknown> } {
  const s = (schema ?? {}) as JsonSchema;
  const given = (defaults ?? {}) as Record<string, unknown>;
  const props = Object.entries(s.properties ?? {});
  const readers: [string, () => unknown][] = [];
  const controls = props.map(([name, p]) => {
    const type = Array.isArray(p.type) ? p.type.find((t) => t !== 'null') : p.type;
    const start = given[name] ?? p.default;
    const label = p.title ?? name;
    if (p.enum) {
      const select = h(
        'select',
        { name },
        p.enum.map((v) => h('option', { value: String(v), selected: v === start }, String(v))),
      );
      readers.push([name, () => p.enum!.find((v) => String(v) === select.value)]);
      return field(label, select, p.description);
    }
    if (type === 'boolean') {
      const box = h('input', { type: 'checkbox', name, checked: start === true });
      readers.push([name, () => box.checked]);
      return field(label, box, p.description);
    }
    if (type === 'number' || type === 'integer') {
      const input = h('input', {
        type: 'number',
        name,
        step: type === 'integer' ? 1 : 'any',
        min: p.minimum,
        max: p.maximum,
        value: typeof start === 'number' ? start : undefined,
      });
      readers.push([
        name,
        () => {
          if (input.value === '') return undefined;
          const n = Number(input.value);
          if (!Number.isFinite(n) || (type === 'integer' && !Number.isInteger(n)))
            throw new Error(`${name} must be ${type === 'integer' ? 'an integer' : 'a number'}`);
          return n;
        },
      ]);
      return field(label, input, p.description);
    }
    if (type === 'array') {
      const itemType = p.items?.type;
      const input = h('input', { name, value: Array.isArray(start) ? start.join(', ') : '' });
      readers.push([
        name,
        () => {
          if (input.value.trim() === '') return undefined;
          const parts = input.value.split(',').map((x) => x.trim());
          return itemType === 'number' || itemType === 'integer' ? parts.map(Number) : parts;
        },
      ]);
      return field(label, input, `${p.description ?? ''} (comma-separated)`.trim());
    }
    if (type === 'string') {
      const input = h('input', { name, value: typeof start === 'string' ? start : '' });
      readers.push([name, () => (input.value === '' ? undefined : input.value)]);
      return field(label, input, p.description);
    }
    const area = h('textarea', { name, rows: 2 }, start === undefined ? '' : JSON.stringify(start));
    readers.push([
      name,
      () => {
        if (area.value.trim() === '') return undefined;
        try {
          return JSON.parse(area.value);
        } catch {
          throw new Error(`${name} must be JSON`);
        }
      },
    ]);
    return field(`${label} (JSON)`, area, p.description);
  });
  const element = h(
    'fieldset',
    { class: 'params' },
    h('legend', null, legend),
    controls.length === 0 ? h('p', null, 'No parameters.') : controls,
  );
  return {
    element,
    read: () => {
      const out: Record<string, unknown> = {};
      for (const [name, read] of readers) {
        const v = read();
        if (v !== undefined) out[name] = v;
      }
      return out;
    },
  };
}
