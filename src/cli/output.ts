/** A line on standard output: what a command returns (an id, a table). */
export const out = (s: string) => process.stdout.write(s + '\n');
/** A line on standard error: what a command tells the person running it. */
export const err = (s: string) => process.stderr.write(s + '\n');

/** The `extensions.problems` of a refused call, one line each (the first 20). */
export function describeProblems(e: { extensions?: Readonly<Record<string, unknown>> }): string {
  const problems = e.extensions?.problems as
    { index?: number; id?: string; field?: string; message: string }[] | undefined;
  if (!problems) return '';
  return problems
    .slice(0, 20)
    .map(
      (p) =>
        `  - ${p.id !== undefined ? `item ${JSON.stringify(p.id)}` : `#${p.index}`}${p.field ? ` ${p.field}` : ''}: ${p.message}`,
    )
    .join('\n');
}
