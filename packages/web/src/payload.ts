import type { PayloadKind } from '@quarry/client';
import { h } from './dom';

const IMAGE_URL =
  /^(https?:\/\/\S+\.(png|jpe?g|gif|webp|svg|avif|bmp)(\?\S*)?|data:image\/[a-z+]+;base64,\S+)$/i;

/** How the dataset says to show a payload. */
export interface PayloadView {
  payloadField: string | null;
  payloadKind: PayloadKind;
}

/**
 * The item's payload as an annotator needs to see it: the dataset's payload field (or the whole
 * payload) by the dataset's kind; AUTO: an image URL as an image, text as text, a list of numbers
 * of square length as a grey-level image, a record as a table.
 */
export function renderPayload(payload: unknown, view: PayloadView, label: string): HTMLElement {
  const value =
    view.payloadField && payload && typeof payload === 'object' && !Array.isArray(payload)
      ? (payload as Record<string, unknown>)[view.payloadField]
      : payload;
  // AUTO: a record of one field is that field (e.g. { text: "..." } shows as text).
  const single =
    view.payloadKind === 'AUTO' && value && typeof value === 'object' && !Array.isArray(value)
      ? Object.values(value as Record<string, unknown>)
      : [];
  const shown = single.length === 1 ? single[0] : value;
  const kind = view.payloadKind === 'AUTO' ? guess(shown) : view.payloadKind;
  // What is drawn is what the kind was guessed from (AUTO's one field, not the record around it).
  switch (kind) {
    case 'IMAGE_URL':
      return h('img', { class: 'payload-image', src: String(shown), alt: label });
    case 'PIXELS':
      return pixels(Array.isArray(shown) ? shown.map(Number) : [], label);
    case 'TABLE':
      return table(shown);
    case 'TEXT':
    case 'AUTO':
      return h(
        'div',
        { class: 'payload-text' },
        typeof shown === 'string' ? shown : JSON.stringify(shown, null, 2),
      );
    default: {
      const never: never = kind;
      return h('div', null, String(never));
    }
  }
}

function guess(value: unknown): PayloadKind {
  if (typeof value === 'string') return IMAGE_URL.test(value.trim()) ? 'IMAGE_URL' : 'TEXT';
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'number')) {
    const side = Math.sqrt(value.length);
    if (Number.isInteger(side)) return 'PIXELS';
  }
  if (value && typeof value === 'object') return 'TABLE';
  return 'TEXT';
}

/** A square grid of grey levels (dark = high), scaled to the largest value. */
function pixels(values: number[], label: string): HTMLElement {
  const side = Math.max(1, Math.round(Math.sqrt(values.length)));
  const canvas = h('canvas', {
    width: side,
    height: side,
    class: 'payload-pixels',
    role: 'img',
    'aria-label': label,
  });
  const ctx = canvas.getContext('2d');
  const max = Math.max(1e-9, ...values.map(Math.abs));
  if (ctx) {
    const img = ctx.createImageData(side, side);
    values.forEach((v, i) => {
      const g = 255 - Math.round((Math.max(0, v) / max) * 255);
      img.data.set([g, g, g, 255], i * 4);
    });
    ctx.putImageData(img, 0, 0);
  }
  return canvas;
}

function table(value: unknown): HTMLElement {
  const rows =
    value && typeof value === 'object'
      ? Object.entries(value as Record<string, unknown>)
      : [['value', value]];
  return h(
    'table',
    { class: 'data payload-table' },
    h('caption', { class: 'visually-hidden' }, 'Item payload'),
    h(
      'tbody',
      null,
      rows.map(([k, v]) =>
        h(
          'tr',
          null,
          h('th', { scope: 'row' }, String(k)),
          h('td', null, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)),
        ),
      ),
    ),
  );
}
